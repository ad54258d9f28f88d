"""Discovery and client-credentials sign-in with secrets, through msal and plain requests."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import msal
import pytest
import requests

from monitor.simulator import Simulator

from .helpers import (
    DISABLED_APP,
    EXPIRED_SECRET,
    FABRIKAM_APP,
    GOOD_SECRET,
    OTHER_SECRET,
    PROD,
    SECRET_APP,
    TENANT_ID,
    assert_entra_error,
    confidential_app,
    default_scope,
    new_guid,
    who_am_i,
)


def test_discovery_serves_realistic_openid_metadata(
    sim: Simulator, session: requests.Session
) -> None:
    """OIDC metadata names the simulator's token endpoint and a v2.0 issuer for the tenant."""
    response = session.get(f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration")
    metadata = response.json()
    base = f"{sim.authority_host}/{TENANT_ID}"
    assert response.status_code == 200
    assert metadata["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert metadata["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert metadata["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
    assert metadata["issuer"] == f"{base}/v2.0"
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]


def test_discovery_accepts_a_verified_domain_instead_of_the_tenant_id(
    sim: Simulator, session: requests.Session
) -> None:
    """Addressing the tenant by a domain answers the same metadata, keyed by tenant id."""
    response = session.get(
        f"{sim.authority_host}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    assert response.json()["issuer"] == f"{sim.authority_host}/{TENANT_ID}/v2.0"


def test_unknown_tenant_answers_aadsts90002_and_msal_refuses_to_construct(
    sim: Simulator, session: requests.Session
) -> None:
    """An unknown tenant id gets Entra's 400 invalid_tenant body; msal raises ValueError."""
    unknown = new_guid()
    response = session.get(
        f"{sim.authority_host}/{unknown}/v2.0/.well-known/openid-configuration",
        headers={"client-request-id": "11111111-2222-4333-8444-555555555555"},
    )
    assert response.status_code == 400
    body = response.json()
    assert_entra_error(body, "invalid_tenant", 90002)
    assert f"Tenant '{unknown}' not found." in body["error_description"]
    assert body["correlation_id"] == "11111111-2222-4333-8444-555555555555"
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal.ConfidentialClientApplication(
            SECRET_APP,
            client_credential=GOOD_SECRET,
            authority=f"{sim.authority_host}/{unknown}",
            http_client=session,
            instance_discovery=False,
            azure_region=False,
        )


def test_client_secret_sign_in_and_who_am_i_succeed(
    sim: Simulator, session: requests.Session
) -> None:
    """A valid secret yields an access token for the environment that WhoAmI accepts."""
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    result = application.acquire_token_for_client([default_scope(sim)])
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3599
    assert result["token_source"] == "identity_provider"
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == sim.environment_url(PROD)
    assert claims["appid"] == claims["azp"] == SECRET_APP
    assert claims["tid"] == TENANT_ID
    assert claims["idtyp"] == "app"
    assert claims["appidacr"] == "1"
    response = who_am_i(sim, session, result["access_token"])
    assert response.status_code == 200
    assert response.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "5999"
    assert response.headers["x-ms-ratelimit-time-remaining-xrm-requests"] == "1,200.00"


def test_raw_token_response_has_entra_fields(sim: Simulator, session: requests.Session) -> None:
    """The raw success body has token_type, expires_in, ext_expires_in and access_token."""
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": SECRET_APP,
            "client_secret": GOOD_SECRET,
            "grant_type": "client_credentials",
            "scope": default_scope(sim),
        },
    )
    assert response.status_code == 200
    assert sorted(response.json()) == ["access_token", "expires_in", "ext_expires_in", "token_type"]
    assert response.headers["Cache-Control"] == "no-store, no-cache"


def test_client_secret_basic_authentication_is_accepted(
    sim: Simulator, session: requests.Session
) -> None:
    """The secret may come in an HTTP Basic header (client_secret_basic)."""
    basic = base64.b64encode(f"{SECRET_APP}:{GOOD_SECRET}".encode()).decode()
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "client_credentials", "scope": default_scope(sim)},
    )
    assert response.status_code == 200


def test_wrong_secret_answers_aadsts7000215(sim: Simulator, session: requests.Session) -> None:
    """A secret the app does not have is invalid_client 7000215 with the real wording."""
    result = confidential_app(sim, session, SECRET_APP, OTHER_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "invalid_client", 7000215)
    assert "Invalid client secret provided." in result["error_description"]
    assert f"'{SECRET_APP}'" in result["error_description"]


def test_expired_secret_answers_aadsts7000222(sim: Simulator, session: requests.Session) -> None:
    """A secret past its end date is invalid_client 7000222 (keys expired)."""
    result = confidential_app(sim, session, SECRET_APP, EXPIRED_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "invalid_client", 7000222)
    assert "are expired" in result["error_description"]


def test_revoked_secret_fails_on_the_next_request(
    sim: Simulator, session: requests.Session
) -> None:
    """After revoke_secret a fresh sign-in with that secret fails at once."""
    scope = [default_scope(sim)]
    assert "access_token" in confidential_app(
        sim, session, SECRET_APP, GOOD_SECRET
    ).acquire_token_for_client(scope)
    sim.revoke_secret(SECRET_APP, GOOD_SECRET)
    result = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(scope)
    assert_entra_error(result, "invalid_client", 7000215)


def test_added_secret_works_immediately_and_can_expire(
    sim: Simulator, session: requests.Session
) -> None:
    """add_secret registers a new secret; an end date in the past makes it expired."""
    scope = [default_scope(sim)]
    sim.add_secret(SECRET_APP, OTHER_SECRET, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert "access_token" in confidential_app(
        sim, session, SECRET_APP, OTHER_SECRET
    ).acquire_token_for_client(scope)
    sim.add_secret(SECRET_APP, "pAs8Q~past", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    result = confidential_app(sim, session, SECRET_APP, "pAs8Q~past").acquire_token_for_client(
        scope
    )
    assert_entra_error(result, "invalid_client", 7000222)


def test_revoking_an_unknown_secret_raises(sim: Simulator) -> None:
    """revoke_secret refuses silently doing nothing."""
    with pytest.raises(KeyError):
        sim.revoke_secret(SECRET_APP, "no-such-secret")


@pytest.mark.parametrize(
    ("client_id", "tenant"),
    [(FABRIKAM_APP, "contoso"), ("0f0f0f0f-0000-4000-8000-000000000000", "contoso")],
    ids=["app-of-another-tenant", "unknown-app"],
)
def test_app_not_in_tenant_answers_aadsts700016(
    sim: Simulator, session: requests.Session, client_id: str, tenant: str
) -> None:
    """An app without a service principal in the tenant is unauthorized_client 700016."""
    result = confidential_app(
        sim, session, client_id, GOOD_SECRET, tenant=tenant
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "unauthorized_client", 700016)
    assert (
        f"Application with identifier '{client_id}' was not found in the directory 'contoso'"
        in result["error_description"]
    )


def test_disabled_service_principal_answers_aadsts7000112(
    sim: Simulator, session: requests.Session
) -> None:
    """A disabled app (service principal) is unauthorized_client 7000112."""
    result = confidential_app(sim, session, DISABLED_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "unauthorized_client", 7000112)
    assert f"Application '{DISABLED_APP}'(Old app) is disabled." in result["error_description"]


def test_disabling_an_app_at_run_time_takes_effect(
    sim: Simulator, session: requests.Session
) -> None:
    """set_application(enabled=False) turns the next sign-in into 7000112."""
    sim.set_application(SECRET_APP, enabled=False)
    result = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "unauthorized_client", 7000112)


def test_conditional_access_on_the_workload_answers_aadsts53003(
    sim: Simulator, session: requests.Session
) -> None:
    """A Conditional Access block on the app is invalid_grant 53003."""
    sim.set_application(SECRET_APP, blocked_by_conditional_access=True)
    result = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "invalid_grant", 53003, suberror="message_only")


def test_unknown_resource_answers_aadsts500011(sim: Simulator, session: requests.Session) -> None:
    """A resource that is not a registered environment is invalid_resource 500011."""
    result = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        ["https://contoso.crm4.dynamics.com/.default"]
    )
    assert_entra_error(result, "invalid_resource", 500011)
    assert (
        "The resource principal named https://contoso.crm4.dynamics.com was not found in the "
        "tenant named contoso." in result["error_description"]
    )


@pytest.mark.parametrize(
    ("scope", "code"),
    [
        ("garbage", 70011),
        ("{env}/user_impersonation", 1002012),
        ("{env}/.default {other}/.default", 28000),
    ],
    ids=["not-a-scope", "client-credentials-without-default", "two-resources"],
)
def test_invalid_scopes_answer_invalid_scope(
    sim: Simulator, session: requests.Session, scope: str, code: int
) -> None:
    """Malformed scopes are invalid_scope with the matching AADSTS code."""
    value = scope.format(env=sim.environment_url(PROD), other=sim.environment_url("contoso-test"))
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": SECRET_APP,
            "client_secret": GOOD_SECRET,
            "grant_type": "client_credentials",
            "scope": value,
        },
    )
    assert response.status_code == 400
    assert_entra_error(response.json(), "invalid_scope", code)


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"client_secret": OTHER_SECRET}, 401, "invalid_client", 7000215),
        ({"client_secret": EXPIRED_SECRET}, 401, "invalid_client", 7000222),
        ({}, 401, "invalid_client", 7000218),
        (
            {"client_secret": GOOD_SECRET, "grant_type": "magic"},
            400,
            "unsupported_grant_type",
            70003,
        ),
        ({"client_secret": GOOD_SECRET, "scope": ""}, 400, "invalid_request", 900144),
        ({"client_secret": GOOD_SECRET, "client_id": ""}, 400, "invalid_request", 900144),
    ],
    ids=["wrong-secret", "expired-secret", "no-credential", "bad-grant", "no-scope", "no-client"],
)
def test_error_http_status_matches_entra(
    sim: Simulator,
    session: requests.Session,
    form: dict[str, str],
    status: int,
    error: str,
    code: int,
) -> None:
    """invalid_client answers are HTTP 401, the other OAuth errors HTTP 400."""
    data = {
        "client_id": SECRET_APP,
        "grant_type": "client_credentials",
        "scope": default_scope(sim),
    }
    data.update(form)
    response = session.post(sim.token_endpoint(TENANT_ID), data=data)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert_entra_error(response.json(), error, code)


def test_correlation_id_echoes_the_client_request_id(
    sim: Simulator, session: requests.Session
) -> None:
    """Entra echoes client-request-id as correlation_id; so does the simulator."""
    correlation = new_guid()
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        headers={"client-request-id": correlation},
        data={
            "client_id": SECRET_APP,
            "client_secret": OTHER_SECRET,
            "grant_type": "client_credentials",
            "scope": default_scope(sim),
        },
    )
    body = response.json()
    assert body["correlation_id"] == correlation
    assert f"Correlation ID: {correlation}" in body["error_description"]


def test_get_on_the_token_endpoint_is_rejected(sim: Simulator, session: requests.Session) -> None:
    """The token endpoint only accepts POST (AADSTS900561)."""
    response = session.get(sim.token_endpoint(TENANT_ID))
    assert response.status_code == 400
    assert json.loads(response.text)["error_codes"] == [900561]


def _token_request(
    sim: Simulator, session: requests.Session, headers: dict[str, str] | None = None
) -> requests.Response:
    return session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": SECRET_APP,
            "client_secret": GOOD_SECRET,
            "grant_type": "client_credentials",
            "scope": default_scope(sim),
        },
        headers=headers or {},
        timeout=5,
    )


def test_deleted_enterprise_application_answers_aadsts7000229(
    sim: Simulator, session: requests.Session
) -> None:
    """The registration exists, its service principal was deleted: 401 invalid_client
    AADSTS7000229 "... is missing service principal in the tenant ..."."""
    sim.set_application(SECRET_APP, service_principal=False)

    response = _token_request(sim, session)

    assert 401 == response.status_code
    result = response.json()
    assert_entra_error(result, "invalid_client", 7000229)
    assert (
        f"AADSTS7000229: The client application {SECRET_APP} is missing service principal in the "
        f"tenant {TENANT_ID}."
    ) in result["error_description"]


def test_disabled_dataverse_answers_aadsts500014(sim: Simulator, session: requests.Session) -> None:
    """Dynamics CRM's service principal disabled in the tenant: 400 AADSTS500014 naming the
    resource, for the environment's token only."""
    sim.set_tenant(TENANT_ID, dataverse_disabled=True)

    response = _token_request(sim, session)

    assert 400 == response.status_code
    result = response.json()
    assert_entra_error(result, "invalid_resource", 500014)
    assert (
        f"The service principal for resource '{sim.environment_url(PROD)}' is disabled. This "
        "indicate that a subscription within the tenant has lapsed"
    ) in result["error_description"]


@pytest.mark.parametrize(
    ("listed", "expected"),
    [("fabrikam.com", 500021), ("contoso.com,fabrikam.com", None), (TENANT_ID, None)],
    ids=["other-tenant", "listed-domain", "listed-id"],
)
def test_tenant_restrictions_added_by_a_proxy(
    sim: Simulator, session: requests.Session, listed: str, expected: int | None
) -> None:
    """A Restrict-Access-To-Tenants header that does not list the tenant: AADSTS500021."""
    response = _token_request(sim, session, {"Restrict-Access-To-Tenants": listed})

    if expected is None:
        assert 200 == response.status_code
    else:
        assert 400 == response.status_code
        assert_entra_error(response.json(), "invalid_request", expected)


def test_aadsts_fault_answers_the_documented_code(
    sim: Simulator, session: requests.Session
) -> None:
    """The aadsts fault answers Entra's documented body for the code (here 80012, outside the
    logon hours set in on-premises AD)."""
    sim.set_fault("token", "aadsts", value=80012, count=1)

    response = _token_request(sim, session)

    assert 400 == response.status_code
    assert_entra_error(response.json(), "invalid_grant", 80012)
    assert "outside of the allowed hours" in response.json()["error_description"]
    assert 200 == _token_request(sim, session).status_code
