"""Report callers to identities, the monitor's own footprint, and where licence facts come from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from monitor.config.model import (
    Config,
    DatabaseConfig,
    IdentityConfig,
    NetworkConfig,
    ProbingConfig,
    UsageConfig,
    UsageTenantConfig,
)
from monitor.model.entitlements import EntitlementTable
from monitor.model.observations import (
    Fact,
    Licence,
    Observation,
    SubscribedSku,
    SystemUser,
    UserAccount,
    UserLicences,
)
from monitor.model.usage import ProbeTally
from monitor.secrets import Secret
from monitor.usage.allocation import LicenceFacts
from monitor.usage.footprint import footprint
from monitor.usage.licences import configured_facts, merge, posture_facts
from monitor.usage.matching import CallerDirectory, CallerIdentity, ObservedObjectId

APP_CLIENT = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
APP_OBJECT = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"
USER_OBJECT = "1f2e3d4c-5b6a-4789-9a8b-7c6d5e4f3a2b"
SYSTEMUSER_ID = "c0ffee00-0000-4000-8000-000000000001"


def callers(**object_ids: str | None) -> list[CallerIdentity]:
    return [
        CallerIdentity("sales-sync", "contoso", "application", APP_CLIENT, object_ids.get("app")),
        CallerIdentity(
            "dataverse-sync",
            "contoso",
            "user",
            "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a",
            object_ids.get("user"),
        ),
        CallerIdentity("gov", "fabrikam", "application", "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"),
    ]


def test_declared_object_ids_match_case_insensitively() -> None:
    """A configured object_id ties a Caller ID to its identity, whatever its case."""
    directory = CallerDirectory.build("contoso", callers(app=APP_OBJECT, user=USER_OBJECT))

    match = directory.match(USER_OBJECT.upper())
    assert match is not None
    assert ("dataverse-sync", "object_id in the configuration") == (match.identity, match.via)
    assert [USER_OBJECT] == directory.caller_ids("dataverse-sync")


def test_application_client_id_matches_an_application_caller() -> None:
    """Without an object id, an application identity still matches its client id."""
    directory = CallerDirectory.build("contoso", callers())

    match = directory.match(APP_CLIENT)
    assert match is not None
    assert "sales-sync" == match.identity
    assert directory.match(USER_OBJECT) is None


def test_systemuser_id_never_matches() -> None:
    """The Dataverse systemuserid the probe records is not the Entra object id: no match."""
    directory = CallerDirectory.build("contoso", callers(user=USER_OBJECT))

    assert directory.match(SYSTEMUSER_ID) is None


def test_observed_object_ids_match_and_other_tenants_are_ignored() -> None:
    """Object ids observed by directory reads match like declared ones, per tenant."""
    observed = [
        ObservedObjectId("dataverse-sync", USER_OBJECT, "Graph"),
        ObservedObjectId("gov", APP_OBJECT, "Graph"),  # another tenant's identity
    ]

    directory = CallerDirectory.build("contoso", callers(), observed)

    match = directory.match(USER_OBJECT)
    assert match is not None
    assert "object id observed by Graph" == match.via
    assert directory.match(APP_OBJECT) is None


def test_a_declared_id_beats_an_observed_one() -> None:
    """Configuration first: an observation cannot re-assign a declared caller id."""
    observed = [ObservedObjectId("dataverse-sync", APP_OBJECT, "Graph")]

    directory = CallerDirectory.build("contoso", callers(app=APP_OBJECT), observed)

    match = directory.match(APP_OBJECT)
    assert match is not None
    assert "sales-sync" == match.identity


def test_a_caller_id_shared_by_two_identities_is_ambiguous() -> None:
    """Two identities on one app registration: the requests cannot be split, no match."""
    twins = [
        CallerIdentity("erp-a", "contoso", "application", APP_CLIENT),
        CallerIdentity("erp-b", "contoso", "application", APP_CLIENT),
    ]

    directory = CallerDirectory.build("contoso", twins)

    assert directory.match(APP_CLIENT) is None
    assert {APP_CLIENT: ("erp-a", "erp-b")} == directory.ambiguous


def test_footprint_formula() -> None:
    """Tokens = attempted; user realm = attempted password probes; WhoAmI = signed in; held
    results cost nothing."""
    day = date(2026, 3, 10)
    tallies = [
        ProbeTally("sales-sync", day, "client_secret", attempted=96, signed_in=95, held=0),
        ProbeTally("dataverse-sync", day, "password", attempted=24, signed_in=24, held=3),
    ]

    prints = {item.identity: item for item in footprint(tallies)}

    app, user = prints["sales-sync"], prints["dataverse-sync"]
    assert (96, 0, 96, 95) == (
        app.token_requests,
        app.user_realm_requests,
        app.entra_requests,
        app.dataverse_requests,
    )
    assert (24, 24, 48, 24, 3) == (
        user.token_requests,
        user.user_realm_requests,
        user.entra_requests,
        user.dataverse_requests,
        user.held,
    )


def test_footprint_sums_credential_types_of_a_day() -> None:
    """An identity that changed credential type in a day gets one footprint for the day."""
    day = date(2026, 3, 10)
    tallies = [
        ProbeTally("x", day, "client_secret", 3, 3, 0),
        ProbeTally("x", day, "certificate", 2, 1, 1),
    ]

    assert [(5, 4, 1)] == [(f.probes, f.dataverse_requests, f.held) for f in footprint(tallies)]


def config_with(**identities: tuple[str, ...] | None) -> Config:
    return Config(
        source=Path("/etc/monitor/monitor.toml"),
        network=NetworkConfig(),
        probing=ProbingConfig(),
        database=DatabaseConfig(path=Path("/var/lib/monitor/monitor.db")),
        tenants={},
        environments={},
        identities={
            name: IdentityConfig(
                name=name,
                kind="user",
                tenant="contoso",
                client_id=APP_CLIENT,
                environments=("prod",),
                username=f"{name}@contoso.com",
                password=Secret("not-a-password", "inline"),
                licences=licences,
            )
            for name, licences in identities.items()
        },
        usage=UsageConfig(tenants={"contoso": UsageTenantConfig(dynamics_licences=12)}),
    )


def test_configured_facts() -> None:
    """Declared licences (an empty list included) and the tenant's licence count; an identity
    without ``licences`` has no facts."""
    facts = configured_facts(config_with(named=("DYN365_ENTERPRISE_SALES",), robot=(), other=None))

    assert {"named": ("DYN365_ENTERPRISE_SALES",), "robot": ()} == {
        name: item.skus for name, item in facts.licences.items()
    }
    assert "configuration (identities.named.licences)" == facts.licences["named"].source
    assert 12 == facts.dynamics_licences["contoso"].count


NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)


def observed(fact: Fact, tenant: str = "contoso", identity: str | None = None) -> Observation:
    return Observation.of(fact, tenant=tenant, source="graph", observed_at=NOW, identity=identity)


def sku(part_number: str, enabled: int, consumed: int = 0) -> SubscribedSku:
    return SubscribedSku(
        sku_id=part_number.lower(), part_number=part_number, enabled=enabled, consumed=consumed
    )


def test_posture_facts_and_merge() -> None:
    """Observed licences win over declared ones; unobserved facts are not "no licence"; the
    pool's licence count from subscribedSkus counts the purchased units (not the consumed ones)
    of paid Dynamics 365 base licences only; a declared count wins over it."""
    observations = [
        observed(
            UserLicences(licences=(Licence("a", "DYN365_TEAM_MEMBERS"), Licence("b", None))),
            identity="named",
        ),
        Observation.missing(
            "user_licences",
            tenant="contoso",
            identity="robot",
            source="graph",
            observed_at=NOW,
            cause="permission",
            reason="403 from Graph",
        ),
        observed(UserAccount(found=True, object_id=USER_OBJECT.upper()), identity="named"),
        observed(sku("SPE_E3", 900, 900)),
        observed(sku("D365_SALES_PRO", 40, 12)),
        observed(sku("D365_SALES_ENT_ATTACH", 30, 30)),  # attach: no pool accrual
        observed(sku("DYN365_ENTERPRISE_SALES_TRIAL", 25)),  # trial: unknown and unpaid
        observed(sku("DYN365_ENTERPRISE_SALES", 7, 2), tenant="fabrikam"),
    ]
    facts = posture_facts(observations, EntitlementTable())

    assert ("DYN365_TEAM_MEMBERS", "b") == facts.licences["named"].skus
    assert "robot" not in facts.licences
    assert [("named", USER_OBJECT)] == [(o.identity, o.object_id) for o in facts.object_ids]
    assert {"contoso": 40, "fabrikam": 7} == {
        tenant: item.count for tenant, item in facts.dynamics_licences.items()
    }

    merged = merge(
        configured_facts(config_with(named=("DYN365_ENTERPRISE_SALES",), robot=())), facts
    )

    assert ("DYN365_TEAM_MEMBERS", "b") == merged.licences["named"].skus
    assert () == merged.licences["robot"].skus  # declared, not observed
    assert 12 == merged.dynamics_licences["contoso"].count  # declared wins
    assert 7 == merged.dynamics_licences["fabrikam"].count
    assert isinstance(merged.licences["named"], LicenceFacts)


def test_administrative_and_non_interactive_users_draw_from_the_pool() -> None:
    """A user whose systemusers are all in access mode 1 or 4 draws from the pool; one that is
    read-write anywhere does not."""
    observations = [
        observed(
            SystemUser(True, "u1", "Admin", "a@contoso.com", None, 1, False, False),
            identity="admin",
        ),
        observed(
            SystemUser(True, "u2", "Mixed", "m@contoso.com", None, 0, False, True),
            identity="mixed",
        ),
        observed(
            SystemUser(True, "u3", "Mixed", "m@contoso.com", None, 4, False, True),
            identity="mixed",
        ),
        observed(
            SystemUser(True, "u4", "App", "app@contoso.com", "a1", 4, False, False),
            identity="app",
        ),
    ]

    facts = posture_facts(observations, EntitlementTable())

    assert ["admin"] == sorted(facts.pool_members)
    assert facts.pool_members["admin"].startswith("administrative access mode (accessmode 1)")
