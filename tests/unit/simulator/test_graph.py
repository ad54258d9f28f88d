"""The simulator's Microsoft Graph: app-only tokens with roles, directory objects, paging,
$select, and Graph's error answers."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from monitor.simulator import Simulator

from .helpers import (
    CERTIFICATE_APP,
    FABRIKAM_APP,
    GOOD_SECRET,
    OTHER_TENANT,
    SECRET_APP,
    TENANT,
    USER,
    CertificatePair,
    confidential_app,
)

ALL = ["Application.Read.All", "User.Read.All", "Domain.Read.All", "Organization.Read.All"]


def graph_token(
    sim: Simulator,
    session: requests.Session,
    permissions: list[str] | None = ALL,
    client_id: str = SECRET_APP,
    tenant: str = TENANT,
) -> str:
    if permissions is not None:
        sim.set_application(client_id, graph_permissions=permissions)
    result = confidential_app(
        sim, session, client_id, GOOD_SECRET, tenant=tenant
    ).acquire_token_for_client([sim.graph_url + "/.default"])
    token: str = result["access_token"]
    return token


def get(
    sim: Simulator, session: requests.Session, path: str, token: str | None, **params: str
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return session.get(f"{sim.graph_url}/v1.0/{path}", params=params, headers=headers, timeout=5)


def test_application_credentials_with_hint_and_thumbprint(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """applications(appId=...) lists secrets (hint, keyId, dates) and certificates (thumbprint as
    customKeyIdentifier, the certificate's own dates)."""
    token = graph_token(sim, session)

    secrets = get(sim, session, f"applications(appId='{SECRET_APP}')", token).json()
    certs = get(sim, session, f"applications(appId='{CERTIFICATE_APP}')", token).json()

    first = secrets["passwordCredentials"][0]
    assert (SECRET_APP, GOOD_SECRET[:3], None) == (
        secrets["appId"],
        first["hint"],
        first["secretText"],
    )
    assert first["endDateTime"].endswith("Z")
    (key,) = certs["keyCredentials"]
    assert certificate.sha1.upper() == key["customKeyIdentifier"]
    assert ("AsymmetricX509Cert", "Verify") == (key["type"], key["usage"])


def test_select_returns_only_the_selected_properties(
    sim: Simulator, session: requests.Session
) -> None:
    """$select limits the answer; an unknown property is a 400 as in Graph."""
    token = graph_token(sim, session)

    body = get(sim, session, f"users/{USER}", token, **{"$select": "id,accountEnabled"}).json()
    bad = get(sim, session, f"users/{USER}", token, **{"$select": "nope"})

    assert {"@odata.context", "id", "accountEnabled"} == set(body)
    assert (400, "BadRequest") == (bad.status_code, bad.json()["error"]["code"])


def test_application_only_in_its_home_tenant_service_principal_in_both(
    sim: Simulator, session: requests.Session
) -> None:
    """The application object exists only in the home tenant: 404 elsewhere."""
    token = graph_token(sim, session, client_id=SECRET_APP)

    missing = get(sim, session, f"applications(appId='{FABRIKAM_APP}')", token)
    principal = get(sim, session, f"servicePrincipals(appId='{SECRET_APP}')", token)

    assert (404, "Request_ResourceNotFound") == (
        missing.status_code,
        missing.json()["error"]["code"],
    )
    assert principal.json()["accountEnabled"] is True


def test_user_state_password_and_licences(sim: Simulator, session: requests.Session) -> None:
    """A user shows accountEnabled, lastPasswordChangeDateTime, passwordPolicies and licences."""
    sim.set_sku(TENANT, "DYN365_ENTERPRISE_SALES", enabled=3)
    changed = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    sim.set_user(
        USER,
        enabled=False,
        licences=["DYN365_ENTERPRISE_SALES"],
        password_policies="DisablePasswordExpiration",
        password_changed=changed,
    )
    token = graph_token(sim, session)

    body = get(sim, session, f"users/{USER}", token).json()
    skus = get(sim, session, "subscribedSkus", token).json()["value"]

    assert (False, "2026-01-02T03:04:05Z", "DisablePasswordExpiration") == (
        body["accountEnabled"],
        body["lastPasswordChangeDateTime"],
        body["passwordPolicies"],
    )
    assert [skus[0]["skuId"]] == [item["skuId"] for item in body["assignedLicenses"]]
    assert (3, 1) == (skus[0]["prepaidUnits"]["enabled"], skus[0]["consumedUnits"])


def test_domains_are_paged_with_next_links(sim: Simulator, session: requests.Session) -> None:
    """Lists page at graph_page_size (or $top) with an absolute @odata.nextLink."""
    sim.set_password_policy(TENANT, validity_days=90, notification_days=14)
    token = graph_token(sim, session)

    first = get(
        sim,
        session,
        "domains",
        token,
        **{"$top": "1", "$select": "id,passwordValidityPeriodInDays"},
    ).json()
    second = session.get(
        first["@odata.nextLink"], headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()

    assert [("contoso.com", 90)] == [
        (d["id"], d["passwordValidityPeriodInDays"]) for d in first["value"]
    ]
    assert ["contoso.onmicrosoft.com"] == [d["id"] for d in second["value"]]
    assert "@odata.nextLink" not in second


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        (f"applications(appId='{SECRET_APP}')", "Application.Read.All"),
        (f"users/{USER}", "User.Read.All"),
        ("domains", "Domain.Read.All"),
        ("subscribedSkus", "Organization.Read.All"),
    ],
)
def test_each_read_needs_its_permission(
    sim: Simulator, session: requests.Session, path: str, permission: str
) -> None:
    """Without its application permission a read is 403 Authorization_RequestDenied; with it or
    Directory.Read.All it is answered."""
    others = [p for p in ALL if p != permission]
    denied = get(sim, session, path, graph_token(sim, session, others))
    allowed = get(sim, session, path, graph_token(sim, session, [permission]))
    directory = get(sim, session, path, graph_token(sim, session, ["Directory.Read.All"]))

    assert (403, "Authorization_RequestDenied") == (
        denied.status_code,
        denied.json()["error"]["code"],
    )
    assert (200, 200) == (allowed.status_code, directory.status_code)


def test_tokens_for_other_audiences_are_refused(sim: Simulator, session: requests.Session) -> None:
    """A Dataverse token or none at all gets Graph's 401 InvalidAuthenticationToken."""
    dataverse = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [sim.environment_url("contoso-prod") + "/.default"]
    )["access_token"]

    for token in (dataverse, None):
        answer = get(sim, session, "domains", token)
        assert (401, "InvalidAuthenticationToken") == (
            answer.status_code,
            answer.json()["error"]["code"],
        )


def test_graph_throttling_fault(sim: Simulator, session: requests.Session) -> None:
    """A throttle_429 fault on the graph family answers Graph's TooManyRequests with
    Retry-After, counted per client id."""
    token = graph_token(sim, session)
    sim.set_fault("graph", "throttle_429", retry_after=7, count=1)

    throttled = get(sim, session, "domains", token)
    after = get(sim, session, "domains", token)

    assert (429, "7", "TooManyRequests") == (
        throttled.status_code,
        throttled.headers["Retry-After"],
        throttled.json()["error"]["code"],
    )
    assert 200 == after.status_code
    assert 2 == sim.request_count("graph", client_id=SECRET_APP)


def test_graph_token_for_a_tenant_the_app_is_consented_in(
    sim: Simulator, session: requests.Session
) -> None:
    """The tenant Graph serves is the token's tid: a fabrikam token reads fabrikam."""
    token = graph_token(sim, session, client_id=FABRIKAM_APP, tenant=OTHER_TENANT)

    domains = [d["id"] for d in get(sim, session, "domains", token).json()["value"]]

    assert ["fabrikam.com"] == domains


def test_subscribed_skus_carry_applies_to_and_service_plans(
    sim: Simulator, session: requests.Session
) -> None:
    """subscribedSkus answers appliesTo, prepaidUnits and the catalogue's service plans
    (servicePlanId, servicePlanName, provisioningStatus, appliesTo)."""
    sim.set_sku(TENANT, "FLOW_FREE", enabled=10000, consumed=2)
    sim.set_sku(TENANT, "CRMSTORAGE", enabled=5)
    token = graph_token(sim, session)

    skus = {
        s["skuPartNumber"]: s for s in get(sim, session, "subscribedSkus", token).json()["value"]
    }

    free = skus["FLOW_FREE"]
    assert ("User", 10000, 2) == (
        free["appliesTo"],
        free["prepaidUnits"]["enabled"],
        free["consumedUnits"],
    )
    assert ["DYN365_CDS_VIRAL", "FLOW_P2_VIRAL", "EXCHANGE_S_FOUNDATION"] == [
        plan["servicePlanName"] for plan in free["servicePlans"]
    ]
    assert {"servicePlanId", "servicePlanName", "provisioningStatus", "appliesTo"} == set(
        free["servicePlans"][0]
    )
    assert "Company" == skus["CRMSTORAGE"]["appliesTo"]


def test_organization_and_domain_authentication_type(
    sim: Simulator, session: requests.Session
) -> None:
    """organization answers the tenant's createdDateTime; a federated domain says so."""
    sim.set_tenant(
        TENANT,
        created=dt.datetime(2019, 3, 14, 8, 12, tzinfo=dt.UTC),
        federated_domains=["contoso.com"],
    )
    token = graph_token(sim, session)

    (organization,) = get(
        sim, session, "organization", token, **{"$select": "id,createdDateTime"}
    ).json()["value"]
    domains = get(sim, session, "domains", token).json()["value"]

    assert "2019-03-14T08:12:00Z" == organization["createdDateTime"]
    assert {"contoso.com": "Federated", "contoso.onmicrosoft.com": "Managed"} == {
        d["id"]: d["authenticationType"] for d in domains
    }


def test_service_principal_deleted_in_the_home_tenant(
    sim: Simulator, session: requests.Session
) -> None:
    """A registration without its enterprise application: the application is there, the
    service principal answers 404 Request_ResourceNotFound."""
    token = graph_token(sim, session)
    sim.set_application(CERTIFICATE_APP, service_principal=False)

    application = get(sim, session, f"applications(appId='{CERTIFICATE_APP}')", token)
    principal = get(sim, session, f"servicePrincipals(appId='{CERTIFICATE_APP}')", token)

    assert 200 == application.status_code
    assert (404, "Request_ResourceNotFound") == (
        principal.status_code,
        principal.json()["error"]["code"],
    )
