"""Dataverse WhoAmI: token validation, membership, disabled users and service protection."""

from __future__ import annotations

import time

import pytest
import requests

from monitor.simulator import Scenario, Simulator
from monitor.simulator.tokens import TokenIssuer

from .helpers import (
    DISABLED_MEMBER_APP,
    FABRIKAM_APP,
    FABRIKAM_PROD,
    GOOD_SECRET,
    OUTSIDER_APP,
    PROD,
    SECRET_APP,
    TENANT,
    TENANT_ID,
    TEST,
    USER,
    confidential_app,
    default_scope,
    public_app,
    sign_in_with_password,
    who_am_i,
)


def app_token(
    sim: Simulator,
    session: requests.Session,
    client_id: str = SECRET_APP,
    environment: str = PROD,
    tenant: str = TENANT,
) -> str:
    result = confidential_app(
        sim, session, client_id, GOOD_SECRET, tenant=tenant
    ).acquire_token_for_client([default_scope(sim, environment)])
    token: str = result["access_token"]
    return token


def user_token(sim: Simulator, session: requests.Session) -> str:
    result = sign_in_with_password(public_app(sim, session), default_scope(sim, PROD))
    token: str = result["access_token"]
    return token


def test_who_am_i_answers_ids_and_rate_limit_headers(
    sim: Simulator, session: requests.Session
) -> None:
    """A member's token gets the WhoAmI body and the service protection headers."""
    environment = sim.scenario.environment(PROD)
    member = environment.member_for_app(SECRET_APP)
    assert member is not None
    response = who_am_i(sim, session, app_token(sim, session))
    assert response.status_code == 200
    assert response.json() == {
        "@odata.context": f"{sim.environment_url(PROD)}/api/data/v9.2/$metadata#"
        "Microsoft.Dynamics.CRM.WhoAmIResponse",
        "BusinessUnitId": environment.business_unit_id,
        "UserId": member.user_id,
        "OrganizationId": environment.organization_id,
    }
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"
    assert response.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1,200.00"


def test_burst_counter_decrements_per_request(sim: Simulator, session: requests.Session) -> None:
    """Every request spends one of the member's 6000 per window."""
    token = app_token(sim, session)
    remaining = [
        who_am_i(sim, session, token).headers["x-ms-ratelimit-burst-remaining-xrm-requests"]
        for _ in range(3)
    ]
    assert remaining == ["5999", "5998", "5997"]


def test_environment_with_a_custom_url_name(sim: Simulator, session: requests.Session) -> None:
    """url_name sets the path segment, and the token audience follows it."""
    assert sim.environment_url(TEST).endswith("/env/contoso-test.crm4")
    response = who_am_i(sim, session, app_token(sim, session, environment=TEST), TEST)
    assert response.status_code == 200


def test_non_member_gets_403_not_a_member(sim: Simulator, session: requests.Session) -> None:
    """An identity without an application user in the environment is 0x80072560."""
    response = who_am_i(sim, session, app_token(sim, session, OUTSIDER_APP))
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "0x80072560",
            "message": "The user is not a member of the organization.",
        }
    }


def test_disabled_member_gets_403_user_disabled(sim: Simulator, session: requests.Session) -> None:
    """A disabled application user is 0x80040225 with Dataverse's message."""
    environment = sim.scenario.environment(PROD)
    member = environment.member_for_app(DISABLED_MEMBER_APP)
    assert member is not None
    response = who_am_i(sim, session, app_token(sim, session, DISABLED_MEMBER_APP))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "0x80040225"
    assert error["message"] == (
        f"The user with SystemUserId={member.user_id} in OrganizationContext="
        f"{environment.organization_id} is disabled. Disabled users cannot access the system. "
        "Consider enabling this user. Also, users are disabled if they don't have a license "
        "assigned to them."
    )


def test_membership_changes_apply_at_run_time(sim: Simulator, session: requests.Session) -> None:
    """add_member / set_member / remove_member change the next WhoAmI answer."""
    token = app_token(sim, session, OUTSIDER_APP)
    sim.add_member(PROD, client_id=OUTSIDER_APP, roles=["Integration"])
    assert who_am_i(sim, session, token).status_code == 200
    sim.set_member(PROD, client_id=OUTSIDER_APP, disabled=True)
    assert who_am_i(sim, session, token).json()["error"]["code"] == "0x80040225"
    sim.remove_member(PROD, client_id=OUTSIDER_APP)
    assert who_am_i(sim, session, token).json()["error"]["code"] == "0x80072560"


def test_missing_token_gets_401_with_a_bearer_challenge(
    sim: Simulator, session: requests.Session
) -> None:
    """No token: 401, empty body, and where to get one."""
    response = who_am_i(sim, session, None)
    assert response.status_code == 401
    assert response.content == b""
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'authorization_uri="{sim.authority_host}/{TENANT_ID}/oauth2/authorize"' in challenge
    assert "invalid_token" not in challenge


@pytest.mark.parametrize(
    "token_kind", ["garbage", "other-environment", "other-tenant", "foreign-issuer", "expired"]
)
def test_invalid_tokens_get_401_invalid_token(
    sim: Simulator,
    session: requests.Session,
    scenario: Scenario,
    token_kind: str,
) -> None:
    """Bad, foreign, expired or misdirected tokens: 401 invalid_token with an empty body."""
    if token_kind == "garbage":
        token = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
    elif token_kind == "other-environment":
        token = app_token(sim, session, environment=TEST)
    elif token_kind == "other-tenant":
        token = app_token(sim, session, FABRIKAM_APP, FABRIKAM_PROD, tenant="fabrikam")
    elif token_kind == "foreign-issuer":
        now = int(time.time())
        token = TokenIssuer().sign(
            {
                "aud": sim.environment_url(PROD),
                "tid": TENANT_ID,
                "exp": now + 600,
                "idtyp": "app",
                "appid": SECRET_APP,
            }
        )
    else:
        scenario.access_token_lifetime_seconds = 0
        token = app_token(sim, session)
    response = who_am_i(sim, session, token)
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", ')


def test_request_limit_answers_429_with_retry_after(
    sim: Simulator, session: requests.Session
) -> None:
    """A member near the limit runs out: 429, Retry-After and error 0x80072322."""
    sim.set_member(PROD, client_id=SECRET_APP, burst_remaining=2)
    token = app_token(sim, session)
    first, second, third = (who_am_i(sim, session, token) for _ in range(3))
    assert first.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"
    assert second.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "0"
    assert third.status_code == 429
    assert 1 <= int(third.headers["Retry-After"]) <= 300
    assert third.json() == {
        "error": {
            "code": "0x80072322",
            "message": "Number of requests exceeded the limit of 6000 over time window of "
            "300 seconds.",
        }
    }


def test_limit_window_resets_to_the_full_budget(sim: Simulator, session: requests.Session) -> None:
    """When the window ends the member gets the environment's full limit again."""
    environment = sim.scenario.environment(PROD)
    environment.window_seconds = 0.3
    sim.set_member(PROD, client_id=SECRET_APP, burst_remaining=1)
    token = app_token(sim, session)
    assert who_am_i(sim, session, token).status_code == 200
    assert who_am_i(sim, session, token).status_code == 429
    time.sleep(0.35)
    response = who_am_i(sim, session, token)
    assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"


def test_execution_time_limit_answers_429(sim: Simulator, session: requests.Session) -> None:
    """Running out of combined execution time is 429 with error 0x80072321."""
    sim.set_member(PROD, client_id=SECRET_APP, time_remaining_ms=2)
    token = app_token(sim, session)
    first = who_am_i(sim, session, token)
    assert first.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "0.00"
    limited = who_am_i(sim, session, token)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "0x80072321"


def test_unknown_environment_and_paths_are_404(sim: Simulator, session: requests.Session) -> None:
    """Unknown environments and unsupported Web API paths answer 404."""
    assert session.get(f"{sim.authority_host}/env/nowhere/api/data/v9.2/WhoAmI").status_code == 404
    response = session.get(sim.environment_url(PROD) + "/api/data/v9.2/accounts")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Resource not found for the segment 'accounts'."


def _refusal(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_whoami_of_a_member_without_any_role(sim: Simulator, session: requests.Session) -> None:
    """No security role, directly or through a team: 403 0x80042F09 UserNotAssignedRoles."""
    token = app_token(sim, session)
    sim.set_member(PROD, client_id=SECRET_APP, roles=[])
    member = sim.scenario.environment(PROD).member_for_app(SECRET_APP)
    assert member is not None

    assert (
        403,
        "0x80042F09",
        f"The user (Id = {member.user_id}) has not been assigned any roles.",
    ) == _refusal(who_am_i(sim, session, token))
    sim.set_team(PROD, "Integrators", roles=["Integration"])
    sim.set_member(PROD, client_id=SECRET_APP, teams=["Integrators"])
    assert 200 == who_am_i(sim, session, token).status_code  # a team's role is a role


def test_whoami_of_a_member_whose_roles_lack_a_privilege(
    sim: Simulator, session: requests.Session
) -> None:
    """A role lacking a privilege: 403 0x80040220, "Principal user ... is missing prv..."."""
    token = app_token(sim, session)
    sim.set_member(PROD, client_id=SECRET_APP, missing_privilege="prvReadAccount")

    status, code, message = _refusal(who_am_i(sim, session, token))

    assert (403, "0x80040220") == (status, code)
    assert message.startswith("Principal user (Id=")
    assert "is missing prvReadAccount privilege" in message


def test_whoami_of_an_unlicensed_interactive_user(
    sim: Simulator, session: requests.Session
) -> None:
    """A read-write user without a licence: 403 0x8004D24B UserNotAssignedLicense; the same
    user in access mode 1 (administrative) or 4 (non-interactive) needs none."""
    token = user_token(sim, session)
    sim.set_user(USER, licences=[])

    assert (403, "0x8004D24B", "The user has not been assigned any License") == _refusal(
        who_am_i(sim, session, token)
    )
    for mode in (1, 4):
        sim.set_member(PROD, upn=USER, access_mode=mode)
        assert 200 == who_am_i(sim, session, token).status_code, mode


def test_whoami_in_administration_mode(sim: Simulator, session: requests.Session) -> None:
    """Administration mode: 403 0x8004A113 for everyone but System Administrators and System
    Customizers."""
    token = app_token(sim, session)
    sim.set_environment(PROD, administration_mode=True)

    assert (
        403,
        "0x8004A113",
        "User does not have required privileges (or role membership) to access the org when it "
        "is in Admin Only mode.",
    ) == _refusal(who_am_i(sim, session, token))
    sim.set_member(PROD, client_id=SECRET_APP, roles=["System Customizer"])
    assert 200 == who_am_i(sim, session, token).status_code
