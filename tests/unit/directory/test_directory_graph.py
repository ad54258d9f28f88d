"""Graph reads: each observation from realistic payloads, missing fields and permission errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from directory_fakes import FakeSession, graph_error, reader, response
from directory_payloads import (
    APP_ID,
    CERT_KEY,
    CONFIGURED_SECRET,
    CURRENT_KEY,
    OLD_KEY,
    SIGNING_KEY,
    SKU_APPS,
    SKU_SALES,
    SUCCESSOR_KEY,
    THUMBPRINT,
    USER_ID,
    application,
    certificate,
    domain,
    domains_page,
    organization,
    secret,
    service_principal,
    sku,
    user,
)

from monitor.directory.client import NotObserved
from monitor.directory.graph import (
    APPLICATION_SELECT,
    DOMAIN_SELECT,
    ORGANIZATION_SELECT,
    SERVICE_PRINCIPAL_SELECT,
    SKU_SELECT,
    USER_SELECT,
    ConfiguredCredential,
    GraphClient,
    GraphDirectory,
    parse_graph_time,
    thumbprint_of,
)
from monitor.model.observations import DomainPolicy, Licence, SubscribedSku, UserLicences
from monitor.secrets import Secret

UPN = "svc-sync@contoso.com"


def directory(session: FakeSession) -> tuple[GraphDirectory, GraphClient]:
    client = reader(GraphClient, session)
    assert isinstance(client, GraphClient)
    return GraphDirectory(client), client


def secret_credential(**kwargs: object) -> ConfiguredCredential:
    return ConfiguredCredential.of(
        secret=Secret(CONFIGURED_SECRET, "test"),
        certificate=None,
        **kwargs,  # type: ignore[arg-type]
    )


def add_application(
    session: FakeSession, client: GraphClient, body: dict[str, object], sp: dict[str, object]
) -> None:
    session.add(
        client.url(f"applications(appId='{APP_ID}')", {"$select": APPLICATION_SELECT}),
        response(200, body),
    )
    session.add(
        client.url(f"servicePrincipals(appId='{APP_ID}')", {"$select": SERVICE_PRINCIPAL_SELECT}),
        response(200, sp),
    )


def test_parse_graph_time_handles_seven_fraction_digits_and_z() -> None:
    """Graph's DateTimeOffset with 100-ns precision parses as aware UTC."""
    assert datetime(2025, 6, 1, 10, 0, 0, 123456, tzinfo=UTC) == parse_graph_time(
        "2025-06-01T10:00:00.1234567Z"
    )
    assert datetime(2026, 12, 6, 10, 0, tzinfo=UTC) == parse_graph_time("2026-12-06T10:00:00Z")
    assert parse_graph_time(None) is None
    assert parse_graph_time("not a date") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (THUMBPRINT, THUMBPRINT),
        (THUMBPRINT.lower(), THUMBPRINT),
        ("UtPY5+WhssPU5fYHGCk6S1xtfo8=", THUMBPRINT),  # base64 of the 20 thumbprint bytes
        ("c2FsZXMtc3luYw==", None),  # base64 of a display name, not a thumbprint
        (None, None),
        ("", None),
    ],
)
def test_thumbprint_of_custom_key_identifier(value: str | None, expected: str | None) -> None:
    """customKeyIdentifier is read as hex or base64; anything that is not 20 / 32 bytes is no
    thumbprint."""
    assert expected == thumbprint_of(value)


def test_app_credentials_marks_the_secret_in_use_by_hint() -> None:
    """The secret whose hint is the configured secret's first three characters is in use; the
    other is not; dates and names come from the payload."""
    session = FakeSession()
    graph, client = directory(session)
    add_application(session, client, application(), service_principal())

    fact = graph.app_credentials(APP_ID, secret_credential())

    assert "hint" == fact.matched_by
    assert "Sales sync" == fact.display_name
    current, old = fact.credentials
    assert (CURRENT_KEY, True, "sales-sync 2025") == (
        current.key_id,
        current.in_use,
        current.display_name,
    )
    assert datetime(2026, 12, 6, 10, 0, tzinfo=UTC) == current.end
    assert (OLD_KEY, False) == (old.key_id, old.in_use)


def test_app_credentials_never_stores_a_hint_or_the_secret() -> None:
    """Only the in-use verdict leaves the reader: no hint, no secret in the fact's JSON."""
    session = FakeSession()
    graph, client = directory(session)
    add_application(session, client, application(), service_principal())

    data = graph.app_credentials(APP_ID, secret_credential()).to_json()
    text = str(data)

    assert CONFIGURED_SECRET[:3] not in text
    assert CONFIGURED_SECRET not in text
    assert all("hint" not in credential for credential in data["credentials"])


def test_pinned_key_id_wins_over_the_hint() -> None:
    """credential_key_id selects the credential even when another one shares the hint."""
    session = FakeSession()
    graph, client = directory(session)
    body = application(
        passwords=[
            secret(CURRENT_KEY, "a", CONFIGURED_SECRET[:3], "2026-12-06T10:00:00Z"),
            secret(SUCCESSOR_KEY, "b", CONFIGURED_SECRET[:3], "2027-12-06T10:00:00Z"),
        ]
    )
    add_application(session, client, body, service_principal())

    fact = graph.app_credentials(APP_ID, secret_credential(key_id=SUCCESSOR_KEY.upper()))

    assert "key_id" == fact.matched_by
    assert [SUCCESSOR_KEY] == [c.key_id for c in fact.in_use]


def test_shared_hint_marks_every_matching_secret() -> None:
    """Two secrets with the same first three characters are both candidates."""
    session = FakeSession()
    graph, client = directory(session)
    body = application(
        passwords=[
            secret(CURRENT_KEY, "a", CONFIGURED_SECRET[:3], "2026-12-06T10:00:00Z"),
            secret(SUCCESSOR_KEY, "b", CONFIGURED_SECRET[:3], "2027-12-06T10:00:00Z"),
        ]
    )
    add_application(session, client, body, service_principal())

    assert 2 == len(graph.app_credentials(APP_ID, secret_credential()).in_use)


def test_certificate_matched_by_thumbprint_signing_keys_ignored() -> None:
    """A certificate is matched by its thumbprint (hex or base64); a signing key (usage Sign)
    is no client credential and is left out."""
    session = FakeSession()
    graph, client = directory(session)
    body = application(
        passwords=[],
        keys=[
            certificate(CERT_KEY, "2026-03-01T00:00:00Z", base64_identifier=True),
            certificate(SIGNING_KEY, "2030-01-01T00:00:00Z", usage="Sign"),
        ],
    )
    add_application(session, client, body, service_principal())
    configured = ConfiguredCredential("certificate", thumbprints=(THUMBPRINT,))

    fact = graph.app_credentials(APP_ID, configured)

    assert "thumbprint" == fact.matched_by
    assert [(CERT_KEY, "certificate", True, THUMBPRINT)] == [
        (c.key_id, c.type, c.in_use, c.thumbprint) for c in fact.credentials
    ]


def test_service_principal_credentials_are_included() -> None:
    """A secret added to the service principal itself is read too (origin service_principal)."""
    session = FakeSession()
    graph, client = directory(session)
    sp = service_principal()
    sp["passwordCredentials"] = [secret(SUCCESSOR_KEY, None, "qqq", "2027-01-01T00:00:00Z")]
    add_application(session, client, application(), sp)

    fact = graph.app_credentials(APP_ID, secret_credential())

    assert ("service_principal", "") == (
        fact.credentials[-1].origin,
        fact.credentials[-1].display_name,
    )


def test_missing_credential_fields_are_none_not_guessed() -> None:
    """A secret without hint or end date is read with None values and matches nothing."""
    session = FakeSession()
    graph, client = directory(session)
    body = application(passwords=[secret(CURRENT_KEY, None, None, None, start="")])
    add_application(session, client, body, service_principal())

    fact = graph.app_credentials(APP_ID, secret_credential())

    (only,) = fact.credentials
    assert (None, None, False, "none") == (only.start, only.end, only.in_use, fact.matched_by)


def test_app_registration_in_another_tenant_is_not_observed_elsewhere() -> None:
    """A 404 for the application object means the registration lives in another tenant."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url(f"applications(appId='{APP_ID}')", {"$select": APPLICATION_SELECT}),
        graph_error(404, "Request_ResourceNotFound", "Resource does not exist."),
    )

    with pytest.raises(NotObserved) as caught:
        graph.app_credentials(APP_ID, secret_credential())

    assert "elsewhere" == caught.value.cause
    assert "credential_expires" in caught.value.reason


def test_missing_application_permission_is_not_observed_permission() -> None:
    """Without Application.Read.All the credentials are "not observed", naming the permission."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url(f"applications(appId='{APP_ID}')", {"$select": APPLICATION_SELECT}),
        graph_error(403, "Authorization_RequestDenied", "Insufficient privileges."),
    )

    with pytest.raises(NotObserved) as caught:
        graph.app_credentials(APP_ID, secret_credential())

    assert ("permission", True) == (
        caught.value.cause,
        "Application.Read.All" in caught.value.reason,
    )


@pytest.mark.parametrize(
    ("answer", "found", "enabled"),
    [
        (response(200, service_principal(enabled=False)), True, False),
        (response(200, service_principal()), True, True),
        (graph_error(404, "Request_ResourceNotFound", "gone"), False, None),
    ],
    ids=["disabled", "enabled", "absent"],
)
def test_service_principal(answer: object, found: bool, enabled: bool | None) -> None:
    """The service principal's accountEnabled, or that there is none in the tenant."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url(
            f"servicePrincipals(appId='{APP_ID}')",
            {"$select": "id,appId,displayName,accountEnabled"},
        ),
        answer,  # type: ignore[arg-type]
    )

    fact = graph.service_principal(APP_ID)

    assert (found, enabled) == (fact.found, fact.account_enabled)


def user_url(client: GraphClient) -> str:
    return client.url(f"users/{UPN}", {"$select": USER_SELECT})


def test_user_account_and_licences_from_the_payload() -> None:
    """Account state, password age and policy, and licences named from subscribedSkus."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(user_url(client), response(200, user()))
    skus = [SubscribedSku(SKU_SALES, "DYN365_ENTERPRISE_SALES", 5, 5)]

    account, licences = graph.user(UPN, skus)

    assert account.found
    assert account.account_enabled
    assert USER_ID == account.object_id
    assert datetime(2026, 9, 1, 7, 30, 12, tzinfo=UTC) == account.last_password_change
    assert () == account.password_policies  # Graph's "None" means no policy
    assert "contoso.com" == account.domain
    assert not isinstance(licences, NotObserved)
    assert (Licence(SKU_SALES, "DYN365_ENTERPRISE_SALES"),) == licences.licences


def test_user_licences_without_sku_names_keep_the_sku_id() -> None:
    """When subscribedSkus was not read, a licence is still known by its SKU id."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(user_url(client), response(200, user()))

    _, licences = graph.user(UPN, None)

    assert not isinstance(licences, NotObserved)
    assert (SKU_SALES,) == licences.names


def test_user_password_policies_are_split() -> None:
    """ "DisablePasswordExpiration, DisableStrongPassword" is two policies."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        user_url(client),
        response(200, user(passwordPolicies="DisablePasswordExpiration, DisableStrongPassword")),
    )

    account, _ = graph.user(UPN, [])

    assert account.password_never_expires
    assert ("DisablePasswordExpiration", "DisableStrongPassword") == account.password_policies


def test_user_with_null_fields() -> None:
    """Properties Graph answers as null are None (never a guess that looks healthy)."""
    session = FakeSession()
    graph, client = directory(session)
    body = user(lastPasswordChangeDateTime=None, passwordPolicies=None)
    session.add(user_url(client), response(200, body))

    account, licences = graph.user(UPN, [])

    assert (True, None, ()) == (
        account.account_enabled,
        account.last_password_change,
        account.password_policies,
    )
    assert isinstance(licences, UserLicences)


@pytest.mark.parametrize("missing", ["accountEnabled", "lastPasswordChangeDateTime", "id"])
def test_user_without_a_selected_property_is_not_observed(missing: str) -> None:
    """A selected property Graph left out (it answers null, never nothing) makes the account not
    observed, naming the property, instead of a guess."""
    session = FakeSession()
    graph, client = directory(session)
    body = user()
    del body[missing]
    session.add(user_url(client), response(200, body))

    with pytest.raises(NotObserved) as caught:
        graph.user(UPN, [])

    assert "service_error" == caught.value.cause
    assert missing in caught.value.reason


def test_user_without_assigned_licences_keeps_the_account() -> None:
    """Missing assignedLicenses makes only the licences not observed."""
    session = FakeSession()
    graph, client = directory(session)
    body = user()
    del body["assignedLicenses"]
    session.add(user_url(client), response(200, body))

    account, licences = graph.user(UPN, [])

    assert account.found
    assert isinstance(licences, NotObserved)
    assert "assignedLicenses" in licences.reason


def test_user_that_does_not_exist() -> None:
    """A 404 is the fact "no such user" (found False); its licences are not read."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(user_url(client), graph_error(404, "Request_ResourceNotFound", "gone"))

    account, licences = graph.user(UPN, [])

    assert (False, UPN) == (account.found, account.user_principal_name)
    assert isinstance(licences, NotObserved)
    assert "not_read" == licences.cause


def test_domains_are_read_across_pages() -> None:
    """Domain password policies come from every page; null and 2147483647 are kept as read."""
    session = FakeSession()
    graph, client = directory(session)
    second = "https://graph.example.test/v1.0/domains?$skiptoken=X"
    session.add(
        client.url("domains", {"$select": DOMAIN_SELECT}),
        response(200, domains_page([domain("contoso.com", 90, default=True)], second)),
    )
    session.add(
        second,
        response(
            200,
            domains_page(
                [domain("contoso.onmicrosoft.com", None), domain("Legacy.COM", 2147483647)]
            ),
        ),
    )

    policies = graph.domains()

    assert [
        DomainPolicy("contoso.com", 90, 14, True, "Managed"),
        DomainPolicy("contoso.onmicrosoft.com", None, None, False, "Managed"),
        DomainPolicy("legacy.com", 2147483647, 14, False, "Managed"),
    ] == policies
    assert [True, False, False] == [p.passwords_expire for p in policies]


def test_subscribed_skus_and_spare_units() -> None:
    """SKUs carry part number, enabled and consumed units (spare = the difference)."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url("subscribedSkus", {"$select": SKU_SELECT}),
        response(
            200,
            {
                "value": [
                    sku(SKU_SALES, "DYN365_ENTERPRISE_SALES", 5, 5),
                    sku(SKU_APPS, "POWERAPPS_PER_APP", 10, 4, "Warning"),
                ]
            },
        ),
    )

    skus = graph.subscribed_skus()

    assert [("DYN365_ENTERPRISE_SALES", 0, "Enabled"), ("POWERAPPS_PER_APP", 6, "Warning")] == [
        (s.part_number, s.spare, s.capability_status) for s in skus
    ]


def test_subscribed_skus_without_permission() -> None:
    """Without Organization.Read.All the SKUs are not observed, naming the permission."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url("subscribedSkus", {"$select": SKU_SELECT}),
        graph_error(403, "Authorization_RequestDenied", "Insufficient privileges."),
    )

    with pytest.raises(NotObserved, match=r"Organization\.Read\.All"):
        graph.subscribed_skus()


def test_subscribed_skus_carry_who_they_apply_to_and_their_service_plans() -> None:
    """appliesTo and every service plan (name, provisioning status) are read."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url("subscribedSkus", {"$select": SKU_SELECT}),
        response(
            200,
            {
                "value": [
                    sku(SKU_SALES, "FLOW_FREE", 10000, 3, plans=("DYN365_CDS_VIRAL",)),
                    sku(SKU_APPS, "CRMSTORAGE", 5, 0, applies_to="Company", plans=()),
                ]
            },
        ),
    )

    free, storage = graph.subscribed_skus()

    assert ("User", ("DYN365_CDS_VIRAL",)) == (
        free.applies_to,
        tuple(plan.name for plan in free.service_plans or ()),
    )
    assert ("Company", ()) == (storage.applies_to, storage.service_plans)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"appliesTo": "unknownFutureValue"}, "appliesTo"),
        ({"capabilityStatus": "unknownFutureValue"}, "capabilityStatus"),
        ({"servicePlans": [{"provisioningStatus": "Success"}]}, "servicePlanName"),
        ({"servicePlans": None}, "servicePlans"),
    ],
    ids=["applies-to", "status", "plan-without-name", "no-plans"],
)
def test_a_sku_the_rules_cannot_read_makes_the_skus_not_observed(
    change: dict[str, object], named: str
) -> None:
    """An unknown enumeration value or a malformed service plan: "not observed", naming it."""
    session = FakeSession()
    graph, client = directory(session)
    item = {**sku(SKU_SALES, "DYN365_ENTERPRISE_SALES", 5, 5), **change}
    session.add(
        client.url("subscribedSkus", {"$select": SKU_SELECT}), response(200, {"value": [item]})
    )

    with pytest.raises(NotObserved, match=named):
        graph.subscribed_skus()


@pytest.mark.parametrize(
    ("created", "expected"),
    [("2019-03-14T08:12:44Z", datetime(2019, 3, 14, 8, 12, 44, tzinfo=UTC)), (None, None)],
    ids=["created", "null"],
)
def test_organization_creation_date(created: str | None, expected: datetime | None) -> None:
    """The tenant's createdDateTime (Graph's null stays None)."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url("organization", {"$select": ORGANIZATION_SELECT}),
        response(200, organization(created)),
    )

    assert expected == graph.organization().created


def test_domain_with_an_unknown_authentication_type_is_not_observed() -> None:
    """authenticationType decides whose password policy applies: an unknown value is not read."""
    session = FakeSession()
    graph, client = directory(session)
    session.add(
        client.url("domains", {"$select": DOMAIN_SELECT}),
        response(200, domains_page([domain("contoso.com", None, authentication="Hybrid")])),
    )

    with pytest.raises(NotObserved, match="authenticationType"):
        graph.domains()
