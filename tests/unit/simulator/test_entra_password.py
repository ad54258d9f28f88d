"""Username/password (ROPC) sign-in, user realm discovery and smart lockout."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import requests

from monitor.simulator import Scenario, Simulator

from .helpers import (
    GOOD_SECRET,
    PASSWORD,
    PROD,
    PUBLIC_APP,
    SECRET_APP,
    TENANT_ID,
    USER,
    assert_entra_error,
    confidential_app,
    public_app,
    sign_in_with_password,
    who_am_i,
)


def impersonation(sim: Simulator) -> str:
    return sim.environment_url(PROD) + "/user_impersonation"


def test_user_realm_is_managed_for_a_tenant_domain(
    sim: Simulator, session: requests.Session
) -> None:
    """A UPN in a tenant's domain is a managed account, like Entra answers."""
    response = session.get(f"{sim.authority_host}/common/userrealm/{USER}?api-version=1.0")
    assert response.json() == {
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": "contoso.com",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }


def test_user_realm_is_unknown_for_a_foreign_domain(
    sim: Simulator, session: requests.Session
) -> None:
    """A UPN in no tenant's domain gets account_type Unknown."""
    response = session.get(f"{sim.authority_host}/common/userrealm/x@example.org?api-version=1.0")
    assert response.json()["account_type"] == "Unknown"


def test_password_sign_in_returns_what_msal_needs(
    sim: Simulator, session: requests.Session
) -> None:
    """ROPC returns access, refresh and ID tokens plus client_info; msal records the account."""
    application = public_app(sim, session)
    result = sign_in_with_password(application, impersonation(sim))
    user = sim.scenario.user(USER)
    assert result["token_source"] == "identity_provider"
    assert result["scope"] == impersonation(sim)
    assert result["refresh_token"]
    assert result["id_token_claims"]["oid"] == user.object_id
    assert result["id_token_claims"]["preferred_username"] == USER
    assert result["id_token_claims"]["tid"] == TENANT_ID
    padded = result["client_info"] + "=" * (-len(result["client_info"]) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {
        "uid": user.object_id,
        "utid": TENANT_ID,
    }
    [account] = application.get_accounts()
    assert account["username"] == USER
    assert account["home_account_id"] == f"{user.object_id}.{TENANT_ID}"
    access = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert (access["upn"], access["idtyp"], access["scp"]) == (USER, "user", "user_impersonation")
    assert sim.request_count("userrealm", username=USER) == 1


def test_user_token_is_accepted_by_who_am_i(sim: Simulator, session: requests.Session) -> None:
    """WhoAmI maps the user token to the user's systemuser in the environment."""
    result = sign_in_with_password(public_app(sim, session), impersonation(sim))
    response = who_am_i(sim, session, result["access_token"])
    member = sim.scenario.environment(PROD).member_for_user(USER)
    assert member is not None
    assert response.json()["UserId"] == member.user_id


def test_default_scope_works_for_passwords_too(sim: Simulator, session: requests.Session) -> None:
    """{environment}/.default is accepted for the password grant as well."""
    result = sign_in_with_password(
        public_app(sim, session), sim.environment_url(PROD) + "/.default"
    )
    assert "access_token" in result


def test_confidential_client_password_sign_in_needs_no_public_flows(
    sim: Simulator, session: requests.Session
) -> None:
    """ROPC through a confidential client authenticates the client with its secret."""
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    result = sign_in_with_password(application, impersonation(sim))
    assert "access_token" in result


def test_public_client_flows_disabled_answers_aadsts7000218(
    sim: Simulator, session: requests.Session
) -> None:
    """ROPC without a secret through an app without public client flows is 7000218."""
    result = sign_in_with_password(public_app(sim, session, SECRET_APP), impersonation(sim))
    assert_entra_error(result, "invalid_client", 7000218)


WRONG_PASSWORD: dict[str, Any] = {"password": "wrong"}


@pytest.mark.parametrize(
    ("change", "sign_in", "code", "suberror"),
    [
        ({}, WRONG_PASSWORD, 50126, None),
        ({"password_expired": True}, {}, 50055, "user_password_expired"),
        ({"enabled": False}, {}, 50057, None),
        ({"locked": True}, {}, 50053, None),
        ({}, {"username": "nobody@contoso.com"}, 50034, None),
        ({"mfa_required": True}, {}, 50076, "basic_action"),
        ({"blocked_by_conditional_access": True}, {}, 53003, "message_only"),
    ],
    ids=[
        "wrong-password",
        "expired",
        "disabled",
        "locked",
        "not-found",
        "mfa",
        "conditional-access",
    ],
)
def test_user_states_answer_their_aadsts_code(
    sim: Simulator,
    session: requests.Session,
    change: dict[str, Any],
    sign_in: dict[str, str],
    code: int,
    suberror: str | None,
) -> None:
    """Each account state yields invalid_grant with Entra's code and suberror."""
    if change:
        sim.set_user(USER, **change)
    result = sign_in_with_password(public_app(sim, session), impersonation(sim), **sign_in)
    assert_entra_error(result, "invalid_grant", code, suberror=suberror)


def test_mfa_answer_carries_a_claims_challenge(sim: Simulator, session: requests.Session) -> None:
    """AADSTS50076 comes with a claims challenge, as Conditional Access MFA does."""
    sim.set_user(USER, mfa_required=True)
    result = sign_in_with_password(public_app(sim, session), impersonation(sim))
    assert "capolids" in json.loads(result["claims"])["access_token"]


def test_lockout_after_ten_failures_then_counts_again(
    sim: Simulator, session: requests.Session, scenario: Scenario
) -> None:
    """Ten wrong passwords lock the account: even the right one gets 50053 until it ends."""
    scenario.lockout_seconds = 0.5
    for _ in range(10):
        result = sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
        assert result["error_codes"] == [50126]
    assert sim.failed_password_attempts(USER) == 10
    locked = sign_in_with_password(public_app(sim, session), impersonation(sim))
    assert_entra_error(locked, "invalid_grant", 50053)
    time.sleep(0.6)
    assert "access_token" in sign_in_with_password(public_app(sim, session), impersonation(sim))
    for _ in range(9):
        sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
    assert sim.scenario.user(USER).locked_until is None
    assert sim.failed_password_attempts(USER) == 19


def test_lockout_threshold_is_configurable(
    sim: Simulator, session: requests.Session, scenario: Scenario
) -> None:
    """A US-Government-like threshold of 3 locks after the third failure."""
    scenario.lockout_threshold = 3
    for _ in range(3):
        sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
    result = sign_in_with_password(public_app(sim, session), impersonation(sim))
    assert result["error_codes"] == [50053]


def test_unlocking_ends_a_smart_lockout(
    sim: Simulator, session: requests.Session, scenario: Scenario
) -> None:
    """set_user(locked=False) is the administrator's unlock."""
    scenario.lockout_threshold = 1
    sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
    sim.set_user(USER, locked=False)
    assert "access_token" in sign_in_with_password(public_app(sim, session), impersonation(sim))


def test_refresh_token_works_until_the_password_changes(
    sim: Simulator, session: requests.Session
) -> None:
    """A refresh token redeems while valid; after a password change it answers 50173."""
    application = public_app(sim, session)
    sign_in_with_password(application, impersonation(sim))
    [account] = application.get_accounts()
    refreshed = application.acquire_token_silent_with_error(
        [impersonation(sim)], account, force_refresh=True
    )
    assert refreshed is not None
    assert "access_token" in refreshed
    sim.set_user(USER, password="A-New-Password-1")
    revoked = application.acquire_token_silent_with_error(
        [impersonation(sim)], account, force_refresh=True
    )
    assert revoked is not None
    assert revoked["error_codes"] == [50173]


def test_unknown_refresh_token_is_rejected(sim: Simulator, session: requests.Session) -> None:
    """A refresh token the simulator never issued is invalid_grant."""
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": PUBLIC_APP,
            "grant_type": "refresh_token",
            "refresh_token": "1.AQnope",
            "scope": impersonation(sim),
        },
    )
    assert response.status_code == 400
    assert_entra_error(response.json(), "invalid_grant", 9002313)


def test_correct_password_resets_the_failure_count(
    sim: Simulator, session: requests.Session
) -> None:
    """Consecutive failures count toward lockout; a success starts again from zero."""
    for _ in range(9):
        sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
    sign_in_with_password(public_app(sim, session), impersonation(sim))
    sign_in_with_password(public_app(sim, session), impersonation(sim), password="bad")
    assert sim.scenario.user(USER).failed_attempts == 1
    assert "access_token" in sign_in_with_password(
        public_app(sim, session), impersonation(sim), password=PASSWORD
    )
