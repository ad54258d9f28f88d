"""Observation facts: JSON round trips, canonical text, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.model.observations import (
    FACT_TYPES,
    AppCredentials,
    CertificateFile,
    DeclaredExpiry,
    DiscoveredIdentityFact,
    DomainPolicy,
    Fact,
    Licence,
    NonInteractiveUsers,
    Observation,
    RegisteredCredential,
    RoleGrant,
    SecurityRoles,
    ServicePlan,
    ServicePrincipal,
    SubscribedSku,
    SystemUser,
    TenantInfo,
    UserAccount,
    UserLicences,
    fact_from_json,
    fact_to_text,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

EXAMPLES: list[Fact] = [
    AppCredentials(
        client_id="5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d",
        display_name="Sales sync",
        configured="client_secret",
        matched_by="hint",
        credentials=(
            RegisteredCredential(
                "k1", "client_secret", "prod", NOW, datetime(2027, 1, 1, tzinfo=UTC), True
            ),
            RegisteredCredential(
                "k2", "certificate", "CN=x", None, None, False, "service_principal", "AB" * 20
            ),
        ),
        configured_fingerprint="f" * 32,
    ),
    ServicePrincipal(found=True, account_enabled=False, display_name="Sales", object_id="o"),
    CertificateFile(datetime(2026, 12, 1, tzinfo=UTC), "AB" * 20),
    DeclaredExpiry(datetime(2027, 3, 1, tzinfo=UTC), "vendor portal"),
    UserAccount(
        found=True,
        user_principal_name="svc@contoso.com",
        object_id="o",
        account_enabled=True,
        user_type="Member",
        last_password_change=NOW,
        password_policies=("DisablePasswordExpiration",),
        synced_from_on_premises=None,
    ),
    UserLicences((Licence("s1", "DYN365_ENTERPRISE_SALES"), Licence("s0", None))),
    DomainPolicy("contoso.com", 90, 14, True, "Federated"),
    TenantInfo("t", datetime(2019, 3, 14, tzinfo=UTC)),
    SubscribedSku(
        "s1",
        "DYN365_ENTERPRISE_SALES",
        5,
        4,
        0,
        1,
        "Warning",
        "User",
        (ServicePlan("POWERAPPS_DYN_APPS"), ServicePlan("FLOW_DYN_APPS", "Disabled")),
    ),
    SubscribedSku("s2", "OLD_ROW", 1, 0),
    SystemUser(True, "u", "Sync", "svc@contoso.com", None, 4, False, False),
    SecurityRoles((RoleGrant("System Administrator", "r1", "t", "Integrators"),)),
    NonInteractiveUsers(7, 1),
    DiscoveredIdentityFact(
        identity_kind="application user",
        key="6fde3eb7-8b6a-4dbc-8b9d-6ebef8b17006",
        display_name="ERP connector",
        client_id="6fde3eb7-8b6a-4dbc-8b9d-6ebef8b17006",
        appeared=NOW,
    ),
]


# The stored JSON text of each example above, byte for byte: the store compares these texts to
# tell a changed fact from an unchanged one, so a new text for the same fact would record a
# change of every stored fact.
STORED_TEXTS = [
    (
        '{"client_id":"5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d","configured":"client_secret",'
        '"configured_fingerprint":"ffffffffffffffffffffffffffffffff",'
        '"credentials":[{"display_name":"prod","end":"2027-01-01T00:00:00+00:00",'
        '"in_use":true,"key_id":"k1","origin":"application",'
        '"start":"2026-11-26T12:00:00+00:00","thumbprint":null,"type":"client_secret"},'
        '{"display_name":"CN=x","end":null,"in_use":false,"key_id":"k2",'
        '"origin":"service_principal","start":null,'
        '"thumbprint":"ABABABABABABABABABABABABABABABABABABABAB","type":"certificate"}],'
        '"display_name":"Sales sync","matched_by":"hint"}'
    ),
    '{"account_enabled":false,"display_name":"Sales","found":true,"object_id":"o"}',
    (
        '{"not_after":"2026-12-01T00:00:00+00:00",'
        '"thumbprint_sha1":"ABABABABABABABABABABABABABABABABABABABAB"}'
    ),
    '{"expires":"2027-03-01T00:00:00+00:00","label":"vendor portal"}',
    (
        '{"account_enabled":true,"display_name":"","found":true,'
        '"last_password_change":"2026-11-26T12:00:00+00:00","object_id":"o",'
        '"password_policies":["DisablePasswordExpiration"],"synced_from_on_premises":null,'
        '"user_principal_name":"svc@contoso.com","user_type":"Member"}'
    ),
    (
        '{"licences":[{"part_number":null,"sku_id":"s0"},'
        '{"part_number":"DYN365_ENTERPRISE_SALES","sku_id":"s1"}]}'
    ),
    (
        '{"authentication_type":"Federated","domain":"contoso.com","is_default":true,'
        '"password_notification_days":14,"password_validity_days":90}'
    ),
    '{"created":"2019-03-14T00:00:00+00:00","tenant_id":"t"}',
    (
        '{"applies_to":"User","capability_status":"Warning","consumed":4,"enabled":5,'
        '"part_number":"DYN365_ENTERPRISE_SALES","service_plans":[{"applies_to":"User",'
        '"name":"POWERAPPS_DYN_APPS","status":"Success"},{"applies_to":"User",'
        '"name":"FLOW_DYN_APPS","status":"Disabled"}],"sku_id":"s1","suspended":0,'
        '"warning":1}'
    ),
    (
        '{"applies_to":null,"capability_status":"Enabled","consumed":0,"enabled":1,'
        '"part_number":"OLD_ROW","service_plans":null,"sku_id":"s2","suspended":0,'
        '"warning":0}'
    ),
    (
        '{"access_mode":4,"application_id":null,"domain_name":"svc@contoso.com","found":true,'
        '"full_name":"Sync","is_disabled":false,"is_licensed":false,"systemuser_id":"u"}'
    ),
    (
        '{"roles":[{"name":"System Administrator","role_id":"r1","team":"Integrators",'
        '"template_id":"t"}]}'
    ),
    '{"count":7,"disabled":1}',
    (
        '{"appeared":"2026-11-26T12:00:00+00:00",'
        '"client_id":"6fde3eb7-8b6a-4dbc-8b9d-6ebef8b17006","configured_as":null,'
        '"display_name":"ERP connector","gone":null,"identity_kind":"application user",'
        '"key":"6fde3eb7-8b6a-4dbc-8b9d-6ebef8b17006","observer":false,'
        '"user_principal_name":null}'
    ),
]
# What an empty JSON object reads as, per kind (sorted by kind).
EMPTY_TEXTS = [
    (
        '{"client_id":"","configured":"client_secret","configured_fingerprint":null,'
        '"credentials":[],"display_name":"","matched_by":"none"}'
    ),
    '{"not_after":"1970-01-01T00:00:00+00:00","thumbprint_sha1":null}',
    '{"expires":"1970-01-01T00:00:00+00:00","label":""}',
    (
        '{"appeared":null,"client_id":null,"configured_as":null,"display_name":"","gone":null,'
        '"identity_kind":"","key":"","observer":false,"user_principal_name":null}'
    ),
    (
        '{"authentication_type":null,"domain":"","is_default":false,'
        '"password_notification_days":null,"password_validity_days":null}'
    ),
    '{"count":0,"disabled":0}',
    '{"created":null,"tenant_id":""}',
    '{"roles":[]}',
    '{"account_enabled":null,"display_name":"","found":false,"object_id":null}',
    (
        '{"applies_to":null,"capability_status":"Enabled","consumed":0,"enabled":0,'
        '"part_number":"","service_plans":null,"sku_id":"","suspended":0,"warning":0}'
    ),
    (
        '{"access_mode":null,"application_id":null,"domain_name":"","found":false,'
        '"full_name":"","is_disabled":null,"is_licensed":null,"systemuser_id":null}'
    ),
    (
        '{"account_enabled":null,"display_name":"","found":false,"last_password_change":null,'
        '"object_id":null,"password_policies":[],"synced_from_on_premises":null,'
        '"user_principal_name":"","user_type":null}'
    ),
    '{"licences":[]}',
]


@pytest.mark.parametrize("fact", EXAMPLES, ids=lambda fact: fact.kind)
def test_facts_round_trip_through_json(fact: Fact) -> None:
    """Every fact kind reads back equal from its JSON form (licences and roles sorted)."""
    again = fact_from_json(fact.kind, fact.to_json())

    assert fact_to_text(fact) == fact_to_text(again)
    assert type(fact) is type(again)


def test_every_fact_kind_has_an_example() -> None:
    """The registry and the examples above cover the same kinds."""
    assert sorted(FACT_TYPES) == sorted({fact.kind for fact in EXAMPLES})


def test_canonical_text_ignores_order_of_licences_and_roles() -> None:
    """Two reads listing the same licences in another order are the same fact (no change row)."""
    first = UserLicences((Licence("b"), Licence("a")))
    second = UserLicences((Licence("a"), Licence("b")))

    assert fact_to_text(first) == fact_to_text(second)


def test_observation_key_and_missing() -> None:
    """Keys name kind, scope and subject; a missing observation has no fact and says why."""
    missing = Observation.missing(
        "systemuser",
        tenant="contoso",
        identity="sales-sync",
        environment="prod",
        source="dataverse",
        observed_at=NOW,
        cause="permission",
        reason="the observer is not a user of environment prod",
    )
    tenant_fact = Observation.of(
        NonInteractiveUsers(3),
        tenant="contoso",
        environment="prod",
        source="dataverse",
        observed_at=NOW,
    )

    assert "systemuser:contoso/sales-sync/prod:" == missing.key
    assert (False, None, NOW) == (missing.observed, fact_to_text(missing.fact), missing.first_seen)
    assert "noninteractive_users:contoso/-/prod:" == tenant_fact.key


@pytest.mark.parametrize(
    ("fact", "text"), list(zip(EXAMPLES, STORED_TEXTS, strict=True)), ids=lambda v: str(v)[:20]
)
def test_stored_text_of_every_fact_kind_is_unchanged(fact: Fact, text: str) -> None:
    """The canonical JSON text of every fact kind is the one earlier versions stored."""
    assert text == fact_to_text(fact)


def test_missing_fields_read_as_empty_values() -> None:
    """A stored object without fields reads as each kind's empty fact (required texts empty,
    counts 0, flags False, unknown choices their fallback, times the epoch), not an error."""
    actual = [fact_to_text(fact_from_json(kind, {})) for kind in sorted(FACT_TYPES)]

    assert EMPTY_TEXTS == actual


def test_mistyped_fields_read_as_none_or_empty() -> None:
    """A value of the wrong type reads as None (or a required field's empty value); an unknown
    choice as its fallback; items of a list that are not objects are skipped."""
    data = {
        "client_id": 5,
        "display_name": None,
        "configured": "password",
        "matched_by": "guess",
        "credentials": [7, {"key_id": "k", "type": "x", "in_use": 1, "origin": None}],
        "configured_fingerprint": 3,
    }

    fact = fact_from_json("app_credentials", data)

    assert (
        AppCredentials(
            client_id="5",
            display_name="None",
            configured="client_secret",
            matched_by="none",
            credentials=(RegisteredCredential("k", "client_secret", "", None, None, True),),
        )
        == fact
    )
