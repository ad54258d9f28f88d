"""Observation facts: JSON round trips, canonical text, keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.model.observations import (
    FACT_TYPES,
    AppCredentials,
    CertificateFile,
    DeclaredExpiry,
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
