"""The real ``monitor check`` in a subprocess, over real TLS, against the simulator."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from support.deployment import (
    APP_SECRET,
    SECRET_APP,
    USER_PASSWORD,
    USER_UPN,
    write_deployment,
)

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

Certificate = tuple[bytes, x509.Certificate]


def _json(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    return document


def _outcomes(document: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["identity"], r["environment"]): r["outcome"] for r in document["results"]}


def test_every_identity_kind_signs_in_and_reaches_dataverse(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Client secret, certificate and password identities are all healthy: exit 0, stored."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], environments=["e2e-prod", "e2e-test"]
    )

    finished = deployment.run("check", "--json")

    assert finished.returncode == 0, finished.stderr
    document = _json(finished.stdout)
    assert {
        ("app-secret", "e2e-prod"): "ok",
        ("app-secret", "e2e-test"): "ok",
        ("app-cert", "e2e-prod"): "ok",
        ("app-cert", "e2e-test"): "ok",
        ("user-password", "e2e-prod"): "ok",
        ("user-password", "e2e-test"): "ok",
    } == _outcomes(document)
    assert {"identity_provider"} == {r["token_source"] for r in document["results"]}
    assert all(r["rate_limit"]["burst_remaining"] is not None for r in document["results"])
    with sqlite3.connect(deployment.database) as db:
        (stored,) = db.execute("SELECT count(*) FROM probe_result WHERE outcome = 'ok'").fetchone()
    assert stored == 6


def test_table_output_starts_with_a_nagios_status_line(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """The text output's first line is a plugin status line with performance data."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])

    finished = deployment.run("check")

    assert finished.returncode == 0, finished.stderr
    first = finished.stdout.splitlines()[0]
    assert first == "MONITOR OK - all 1 probes OK | ok=1 warning=0 critical=0 unknown=0"
    assert "app-secret" in finished.stdout


def test_revoked_secret_is_detected_on_the_very_next_probe(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """No cached token hides a revocation: the next check fails and exits CRITICAL."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    assert deployment.run("check").returncode == 0

    sim.revoke_secret(SECRET_APP, APP_SECRET)
    finished = deployment.run("check", "--json")

    assert finished.returncode == 2
    assert {("app-secret", "e2e-prod"): "credential_invalid"} == _outcomes(_json(finished.stdout))
    assert sim.request_count(family="token", client_id=SECRET_APP) == 2


def test_wrong_password_costs_one_sign_in_however_often_checked(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Repeated checks with a wrong password send it once; a changed password is tried once."""
    deployment = write_deployment(
        tmp_path,
        sim,
        certificate[0],
        identities=["user-password"],
        password="not-the-password-1",
        environments=["e2e-prod", "e2e-test"],
    )

    codes = [deployment.run("check").returncode for _ in range(4)]

    assert codes == [2, 2, 2, 2]
    assert sim.failed_password_attempts(USER_UPN) == 1
    held = _json(deployment.run("check", "--json").stdout)
    assert {False} == {r["attempted"] for r in held["results"]}
    assert sim.failed_password_attempts(USER_UPN) == 1

    deployment.write_secret("user-password", USER_PASSWORD.encode())
    fixed = deployment.run("check", "--json")

    assert fixed.returncode == 0, fixed.stdout
    assert sim.failed_password_attempts(USER_UPN) == 1


@pytest.mark.parametrize("processes", [2, 6])
def test_concurrent_checks_send_a_wrong_password_once(
    tmp_path: Path, sim: Simulator, certificate: Certificate, processes: int
) -> None:
    """Checks started together on a fresh database (no guard yet) send a wrong password once
    in all: each takes the identity's sign-in lock before it reads the guard, so the others
    wait and then find the first one's guard."""
    deployment = write_deployment(
        tmp_path,
        sim,
        certificate[0],
        identities=["user-password"],
        password="not-the-password-3",
        environments=["e2e-prod", "e2e-test"],
    )
    # Entra answers after two seconds: every process has read "no guard" before the first
    # answer could be recorded, unless the sign-in lock makes the others wait.
    sim.set_fault("token", "slow", seconds=2.0)
    command = [sys.executable, "-m", "monitor", "--config", str(deployment.config), "check"]
    running = [
        subprocess.Popen(
            command,
            env=deployment.env(None),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    codes = [process.wait(timeout=60) for process in running]
    for process in running:
        process.communicate()

    assert [2] * processes == codes
    assert 1 == sim.failed_password_attempts(USER_UPN)


def test_force_tries_a_held_password_once(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """After an admin reset the password in place, --force spends exactly one attempt."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["user-password"], password="stale-password-2"
    )
    assert deployment.run("check").returncode == 2
    sim.set_user(USER_UPN, password="stale-password-2")

    assert deployment.run("check").returncode == 2  # still held: no attempt
    forced = deployment.run("check", "--identity", "user-password", "--force")

    assert forced.returncode == 0, forced.stdout
    assert sim.request_count(family="token", username=USER_UPN) == 2


@pytest.mark.parametrize(
    ("mode", "outcome", "exit_code"),
    [
        ("http_500", "service_error", 3),
        ("http_503", "service_error", 3),
        # A 429 also raises a usage warning (the identity is being throttled): WARNING.
        ("throttle_429", "throttled", 1),
        ("drop", "unreachable", 3),
        ("html", "service_error", 3),
        ("malformed_json", "service_error", 3),
    ],
)
def test_service_trouble_is_never_a_bad_credential(
    tmp_path: Path,
    sim: Simulator,
    certificate: Certificate,
    mode: str,
    outcome: str,
    exit_code: int,
) -> None:
    """5xx, 429, dropped connections and garbage bodies give a transient class, never CRITICAL."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    sim.set_fault("token", mode, retry_after=30)  # type: ignore[arg-type]

    finished = deployment.run("check", "--json")

    assert finished.returncode == exit_code, finished.stdout
    assert {("app-secret", "e2e-prod"): outcome} == _outcomes(_json(finished.stdout))


def test_whoami_throttling_is_recorded_with_retry_after(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Dataverse 429 after a good sign-in: throttled, with Retry-After kept, and a usage
    warning saying the identity is being throttled."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    sim.set_fault("whoami", "throttle_429", retry_after=120)

    finished = deployment.run("check", "--json")

    assert finished.returncode == 1
    document = _json(finished.stdout)
    assert ["usage"] == [f["kind"] for f in document["findings"] if f["level"] != "info"]
    (result,) = _json(finished.stdout)["results"]
    assert result["outcome"] == "throttled"
    assert result["rate_limit"]["retry_after_seconds"] == 120


@pytest.mark.parametrize(("mode", "seconds"), [("hang", 1.0), ("drip", 1.0), ("slow", 30.0)])
def test_a_stalled_service_is_bounded_by_the_probe_deadline(
    tmp_path: Path, sim: Simulator, certificate: Certificate, mode: str, seconds: float
) -> None:
    """A server that never answers, or drips a byte a second, ends the probe at its deadline."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret"], deadline_seconds=3
    )
    sim.set_fault("token", mode, seconds=seconds)  # type: ignore[arg-type]

    begun = time.monotonic()
    finished = deployment.run("check", "--json")
    elapsed = time.monotonic() - begun

    assert finished.returncode == 3, finished.stdout
    assert {("app-secret", "e2e-prod"): "unreachable"} == _outcomes(_json(finished.stdout))
    assert elapsed < 3 + 8  # the deadline plus interpreter start-up, with room for a slow CI


def test_check_ends_at_its_timeout_and_says_what_it_did_not_check(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Entra answering after 30 s, a probe deadline of 40 s and --timeout 3: the check ends
    after about 3 s with exit 3 (UNKNOWN), the identity reported as not checked, and nothing
    recorded for it."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret"], deadline_seconds=40
    )
    sim.set_fault("token", "slow", seconds=30.0)

    begun = time.monotonic()
    finished = deployment.run("check", "--timeout", "3", "--json")
    elapsed = time.monotonic() - begun

    assert 3 == finished.returncode, finished.stdout
    (result,) = _json(finished.stdout)["results"]
    assert ("unreachable", False) == (result["outcome"], result["attempted"])
    assert result["message"].startswith("not checked")
    assert elapsed < 3 + 8  # the timeout plus interpreter start-up, with room for a slow CI
    with sqlite3.connect(deployment.database) as db:
        assert (0,) == db.execute("SELECT count(*) FROM probe_result").fetchone()


def test_connection_refused_is_unreachable(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Nobody listening: unreachable, not a credential problem."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    deployment = write_deployment(
        tmp_path,
        sim,
        certificate[0],
        identities=["app-secret"],
        authority_host=f"https://localhost:{closed_port}",
    )

    finished = deployment.run("check", "--json")

    assert finished.returncode == 3
    assert {("app-secret", "e2e-prod"): "unreachable"} == _outcomes(_json(finished.stdout))


def test_untrusted_server_certificate_fails_and_environment_cannot_override(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """A CA other than the configured one: tls_error; REQUESTS_CA_BUNDLE changes nothing."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["app-secret"], ca_bundle=other_ca
    )

    finished = deployment.run(
        "check",
        "--json",
        extra_env={"REQUESTS_CA_BUNDLE": str(sim.ca_path), "CURL_CA_BUNDLE": str(sim.ca_path)},
    )

    assert finished.returncode == 1, finished.stdout
    assert {("app-secret", "e2e-prod"): "tls_error"} == _outcomes(_json(finished.stdout))


def test_invalid_configuration_exits_78_naming_every_problem(tmp_path: Path) -> None:
    """A broken file: exit 78, the file named once, one line per problem, no secret shown."""
    config = tmp_path / "monitor.toml"
    config.write_text(
        """
[tenants.t]
tenant_id = "not-a-guid"
cloud = "moon"

[identities.x]
kind = "application"
tenant = "nowhere"
client_id = "00000000-0000-4000-8000-000000000001"
environments = ["missing"]
secret = "Inline-Secret-Value-123"
"""
    )
    config.chmod(0o644)
    deployment_env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    import os
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        env={**os.environ, **deployment_env},
        timeout=60,
        check=False,
    )

    assert finished.returncode == 78
    assert finished.stderr.count(str(config)) == 1
    for path in ("tenants.t.tenant_id", "tenants.t.cloud", "identities.x.tenant"):
        assert path in finished.stderr
    assert "Inline-Secret-Value-123" not in finished.stderr + finished.stdout


def test_no_secret_reaches_output_logs_or_database(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """Run successes and failures at debug level; scan stdout, stderr and the database files."""
    deployment = write_deployment(tmp_path, sim, certificate[0])
    runs = [deployment.run("-vv", "check", "--json")]
    sim.revoke_secret(SECRET_APP, APP_SECRET)
    sim.set_user(USER_UPN, password="rotated-elsewhere-9")
    runs.append(deployment.run("-vv", "check"))
    sim.set_fault("*", "html")
    runs.append(deployment.run("-vv", "check", "--json"))

    assert [r.returncode for r in runs] == [0, 2, 2]
    haystack = "".join(r.stdout + r.stderr for r in runs).encode()
    for path in deployment.database.parent.rglob("*"):
        if path.is_file():  # the database, its WAL, the key, the sign-in locks
            haystack += path.read_bytes()
    key_lines = [
        line
        for line in certificate[0].decode().splitlines()
        if line and not line.startswith("-----")
    ]
    for secret in [APP_SECRET, USER_PASSWORD, *key_lines]:
        assert secret.encode() not in haystack, f"secret {secret[:6]}... leaked"


def test_a_lost_fingerprint_key_is_not_replaced_while_guards_hold(
    tmp_path: Path, sim: Simulator, certificate: Certificate
) -> None:
    """With the key file deleted, a check refuses to create a new one (exit 78, one line with
    the remedy) instead of making the known-bad password look new; `monitor db new-key`
    replaces it on purpose, and the held password is then tried exactly once more."""
    deployment = write_deployment(
        tmp_path, sim, certificate[0], identities=["user-password"], password="not-it-4"
    )
    assert 2 == deployment.run("check").returncode
    key = deployment.database.parent / "fingerprint.key"
    key.unlink()

    refused = deployment.run("check")

    assert 78 == refused.returncode
    assert 1 == len(refused.stderr.strip().splitlines())
    assert "monitor db new-key" in refused.stderr
    assert not key.exists()
    assert 1 == sim.failed_password_attempts(USER_UPN)

    assert 0 == deployment.run("db", "new-key").returncode
    assert 2 == deployment.run("check").returncode
    assert 2 == deployment.run("check").returncode
    assert 2 == sim.failed_password_attempts(USER_UPN)
    assert 2 == deployment.run("db", "new-key").returncode  # the new key exists
