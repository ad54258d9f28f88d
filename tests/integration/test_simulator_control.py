"""The simulator's control endpoint: token-protected, and each action changes the live world the
way the monitor then sees it (sign-in and Dataverse answers over real TLS)."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support.deployment import (
    APP_SECRET,
    CERT_APP,
    SECRET_APP,
    USER_PASSWORD,
    USER_UPN,
    e2e_scenario,
    make_certificate,
)

from monitor.simulator import Simulator
from monitor.simulator.control import CONTROL_PATH
from monitor.simulator.control_cli import send


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    with Simulator(e2e_scenario(), state_dir=tmp_path) as simulator:
        simulator.add_certificate(CERT_APP, make_certificate()[1])
        simulator.set_sku("e2e", "DYN365_ENTERPRISE_SALES", enabled=2)
        simulator.set_user(USER_UPN, licences=["DYN365_ENTERPRISE_SALES"])
        yield simulator


def _post(sim: Simulator, headers: dict[str, str], method: str = "POST") -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.request(
            method,
            sim.authority_host + CONTROL_PATH,
            json={"action": "clear-faults"},
            headers=headers,
            verify=str(sim.ca_path),
            timeout=10,
        )


def _sign_in(sim: Simulator, form: dict[str, str]) -> int:
    with requests.Session() as http:
        http.trust_env = False
        answer = http.post(
            sim.token_endpoint("e2e"), data=form, verify=str(sim.ca_path), timeout=10
        )
    codes: list[int] = answer.json().get("error_codes", [])
    return codes[0] if codes else 0


def test_the_control_endpoint_needs_the_token_written_for_its_owner_only(sim: Simulator) -> None:
    """No token or a wrong one: 401 and nothing changes; the token is in control.json, mode
    0600, next to the CA; the file goes when the simulator stops."""
    sim.set_fault("token", "http_503")
    document = json.loads(sim.control_file.read_text())

    missing = _post(sim, {})
    wrong = _post(sim, {"Authorization": "Bearer " + "x" * 43})
    still = len(sim.scenario.faults)
    right = _post(sim, {"Authorization": f"Bearer {document['token']}"})

    assert (401, 401, 1) == (missing.status_code, wrong.status_code, still)
    assert (200, 0) == (right.status_code, len(sim.scenario.faults))
    assert (sim.authority_host, 0o600) == (
        document["url"],
        stat.S_IMODE(sim.control_file.stat().st_mode),
    )
    control_file = sim.control_file
    sim.stop()
    assert not control_file.exists()


def test_secret_actions_expire_soon_expire_now_and_revoke(sim: Simulator, tmp_path: Path) -> None:
    """``--in 5d`` moves the end date (sign-in still works), no offset expires it (AADSTS7000222),
    revoke deletes it (AADSTS7000215); no line shows the secret's value."""
    form = {
        "grant_type": "client_credentials",
        "client_id": SECRET_APP,
        "client_secret": APP_SECRET,
        "scope": f"{sim.environment_url('e2e-prod')}/.default",
    }
    before = dt.datetime.now(dt.UTC)

    soon = send(tmp_path, "expire-secret", {"client_id": SECRET_APP, "in": "5d"})
    (secret,) = sim.scenario.application(SECRET_APP).secrets
    assert secret.end is not None
    assert dt.timedelta(days=5) <= secret.end - before < dt.timedelta(days=5, minutes=1)
    assert 0 == _sign_in(sim, form)
    now = send(tmp_path, "expire-secret", {"client_id": SECRET_APP})
    assert 7000222 == _sign_in(sim, form)
    revoked = send(tmp_path, "revoke-secret", {"client_id": SECRET_APP})
    assert 7000215 == _sign_in(sim, form)

    assert [0, 0, 0] == [soon[0], now[0], revoked[0]]
    assert soon[1][0].startswith(f"now expiring: secret 'E2E…' of application {SECRET_APP}")
    assert now[1][0].startswith(f"expired: secret 'E2E…' of application {SECRET_APP}")
    assert [f"revoked: secret 'E2E…' of application {SECRET_APP} ({SECRET_APP}) deleted"] == (
        revoked[1]
    )
    assert APP_SECRET not in repr([soon, now, revoked])


def test_user_and_app_actions_answer_as_entra_does(sim: Simulator, tmp_path: Path) -> None:
    """disable-user: AADSTS50057; enable-user again; change-password: AADSTS50126 for the old
    one; disable-app: AADSTS7000112; enable-app restores it."""
    user = {
        "grant_type": "password",
        "client_id": "3cab0b84-5e3d-4b8d-8f7b-3b8cbc5f4d03",
        "username": USER_UPN,
        "password": USER_PASSWORD,
        "scope": f"{sim.environment_url('e2e-prod')}/.default",
    }
    app = {
        "grant_type": "client_credentials",
        "client_id": SECRET_APP,
        "client_secret": APP_SECRET,
        "scope": f"{sim.environment_url('e2e-prod')}/.default",
    }
    codes = []
    for action, params, form in [
        ("disable-user", {"upn": USER_UPN}, user),
        ("enable-user", {"upn": USER_UPN}, user),
        ("change-password", {"upn": USER_UPN}, user),
        ("disable-app", {"client_id": SECRET_APP}, app),
        ("enable-app", {"client_id": SECRET_APP}, app),
    ]:
        code, _ = send(tmp_path, action, params)
        codes.append((action, code, _sign_in(sim, form)))

    assert [
        ("disable-user", 0, 50057),
        ("enable-user", 0, 0),
        ("change-password", 0, 50126),
        ("disable-app", 0, 7000112),
        ("enable-app", 0, 0),
    ] == codes


def test_licence_role_and_fault_actions(sim: Simulator, tmp_path: Path) -> None:
    """remove-licence and remove-role change what Dataverse checks; throttle and outage add
    faults scoped as asked; show lists it all without secret values; unknown names are 2."""
    licence = send(tmp_path, "remove-licence", {"upn": USER_UPN})
    role = send(
        tmp_path,
        "remove-role",
        {"environment": "e2e-prod", "identity": SECRET_APP, "role": "Integration"},
    )
    all_roles = send(tmp_path, "remove-role", {"environment": "e2e-test", "identity": USER_UPN})
    throttle = send(tmp_path, "throttle", {"family": "token", "client_id": SECRET_APP, "count": 3})
    outage = send(tmp_path, "outage", {"family": "whoami", "mode": "drop"})
    shown = send(tmp_path, "show", {})
    unknown_role = send(
        tmp_path, "remove-role", {"environment": "e2e-prod", "identity": USER_UPN, "role": "X"}
    )
    unknown_environment = send(
        tmp_path, "remove-role", {"environment": "nowhere", "identity": USER_UPN}
    )
    bad_family = send(tmp_path, "outage", {"family": "smtp"})

    assert (0, ["licence removed: DYN365_ENTERPRISE_SALES from user " + USER_UPN]) == licence
    assert [] == sim.scenario.user(USER_UPN).licences
    assert (0, [f"role removed: Integration from {SECRET_APP} in e2e-prod"]) == role
    assert [] == sim.scenario.environment("e2e-prod").member_for_app(SECRET_APP).roles  # type: ignore[union-attr]
    assert 0 == all_roles[0]
    assert [("token", "throttle_429", 3, SECRET_APP), ("whoami", "drop", None, None)] == [
        (f.family, f.mode, f.count, f.client_id) for f in sim.scenario.faults
    ]
    assert [
        f"throttling: 429 with Retry-After 60s on the token endpoint for client_id {SECRET_APP}, "
        "the next 3 request(s)"
    ] == throttle[1]
    assert ["outage: drop on the whoami endpoint, every request until cleared"] == outage[1]
    assert f"  member {SECRET_APP}: roles: no role" in shown[1]
    assert "fault drop on whoami (every request)" in shown[1]
    assert APP_SECRET not in "\n".join(shown[1])
    assert USER_PASSWORD not in "\n".join(shown[1])
    assert (2, [f"{USER_UPN} holds no role 'X' directly in e2e-prod (holds: Integration)"]) == (
        unknown_role
    )
    assert (2, ["no environment nowhere"]) == unknown_environment
    assert 2 == bad_family[0]
    assert bad_family[1][0].startswith("family must be one of *, discovery, token")
