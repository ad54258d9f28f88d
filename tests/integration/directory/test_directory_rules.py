"""Posture rules driven by what the simulator answers as Graph and Dataverse document it: the
spare-licence rule over real ``subscribedSkus`` (appliesTo, capabilityStatus, prepaidUnits,
servicePlans), the default password validity from ``organization.createdDateTime``, synchronised
users in federated domains, administrative access mode, users without any security role, and
the deleted enterprise application (AADSTS7000229)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.posture import APP, ENVIRONMENT, USER, write_config

from monitor.findings.posture import ADMINISTRATIVE_USER
from monitor.model.findings import Finding, FindingKind, Level
from monitor.pipeline.directory import DirectoryPass
from monitor.simulator import Simulator
from monitor.store import Store

KEY = b"k" * 32


def read(tmp_path: Path, sim: Simulator, store: Store, **config: object) -> DirectoryPass:
    cfg = write_config(tmp_path / "deploy", sim, **config)  # type: ignore[arg-type]
    return DirectoryPass(cfg, store, fingerprint_key=KEY, sleep=lambda _: None)


def spare_advice(findings: tuple[Finding, ...]) -> Finding | None:
    found = [f for f in findings if f.key.endswith(":spare-licences")]
    return found[0] if found else None


def test_free_viral_and_office_seats_are_not_spare_licences(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """With its only Dynamics 365 seat used, thousands of Power Automate Free and viral units and
    spare Office 365 E3 seats do not count; the E3 seats are named usable only on demand; a
    spare Power Apps per user seat then makes the warning go."""
    sim.set_sku("posture", "FLOW_FREE", enabled=10000, consumed=3)
    sim.set_sku("posture", "POWERAPPS_VIRAL", enabled=10000, consumed=1)
    sim.set_sku("posture", "ENTERPRISEPACK", enabled=50, consumed=20)
    sim.set_sku("posture", "CRMSTORAGE", enabled=10, consumed=0)
    directory = read(tmp_path, sim, store)
    start = datetime.now(UTC)

    report = directory.run(start)
    advice = spare_advice(report.findings)

    assert advice is not None
    assert Level.WARNING == advice.level
    assert "FLOW_FREE 3/10000 (a free, trial or developer licence)" in advice.summary
    assert "CRMSTORAGE 0/10 (applies to the company, not to a user)" in advice.summary
    assert advice.summary.endswith(
        "the spare Microsoft 365 seats (ENTERPRISEPACK) are usable only by adding the user on "
        "demand"
    )
    seats = {s.part_number: s.seat for s in report.posture.skus["posture"]}
    assert "gets a user into Dataverse" == seats["DYN365_ENTERPRISE_SALES"]

    sim.set_sku("posture", "POWERAPPS_PER_USER", enabled=2, consumed=1)
    again = directory.run(start + timedelta(hours=7))
    assert spare_advice(again.findings) is None


def test_null_password_validity_follows_the_tenants_creation_date(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """A domain without a validity: 90 days (an inferred default) in a tenant created in 2019,
    no expiration in one created in 2022."""
    sim.set_password_policy("posture", validity_days=None)
    sim.set_user(USER, password_changed=datetime.now(UTC) - timedelta(days=80))
    directory = read(tmp_path, sim, store, identities=("svc-sync",))
    start = datetime.now(UTC)

    sim.set_tenant("posture", created=datetime(2019, 3, 14, tzinfo=UTC))
    old = directory.run(start)
    sim.set_tenant("posture", created=datetime(2022, 3, 1, tzinfo=UTC))
    new = directory.run(start + timedelta(hours=7))

    nearest = old.posture.identities["svc-sync"].nearest
    assert nearest is not None
    assert "graph (inferred default)" == nearest.source
    assert "90-day default of tenants created before 2021, inferred" in nearest.what
    assert [] == [f for f in new.findings if f.kind is FindingKind.PASSWORD_EXPIRING]
    assert new.posture.identities["svc-sync"].nearest is None


def test_synchronised_user_of_a_federated_domain_is_governed_on_premises(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """onPremisesSyncEnabled and a Federated domain: the expiry is decided on-premises."""
    sim.set_user(USER, synced_from_on_premises=True)
    sim.set_tenant("posture", federated_domains=["posture.example"])

    report = read(tmp_path, sim, store, identities=("svc-sync",)).run()

    notes = report.posture.identities["svc-sync"].not_observed
    assert any(n.startswith("password expiry: governed by on-premises AD") for n in notes)
    assert [] == [f for f in report.findings if f.kind is FindingKind.PASSWORD_EXPIRING]


def test_administrative_access_mode_needs_no_licence(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """An unlicensed user in access mode 1: no "unlicensed interactive user" critical."""
    sim.set_user(USER, licences=[])
    sim.set_member(ENVIRONMENT, upn=USER, access_mode=1)

    report = read(tmp_path, sim, store, identities=("svc-sync",)).run()

    assert [] == [
        f for f in report.findings if f.kind is FindingKind.LICENCE and f.identity == "svc-sync"
    ]
    assert ADMINISTRATIVE_USER == report.posture.identities["svc-sync"].classification


def test_identity_without_any_security_role_is_critical(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """No role directly or through a team: critical; a team's role is enough."""
    sim.set_member(ENVIRONMENT, client_id=APP, roles=[])
    directory = read(tmp_path, sim, store, identities=("sales-sync",))
    start = datetime.now(UTC)

    none = directory.run(start)
    sim.set_team(ENVIRONMENT, "Integrators", roles=["Sales integration"])
    sim.set_member(ENVIRONMENT, client_id=APP, teams=["Integrators"])
    through_team = directory.run(start + timedelta(hours=7))

    (critical,) = [f for f in none.findings if f.kind is FindingKind.SECURITY_ROLE]
    assert (Level.CRITICAL, "sales-sync", ENVIRONMENT) == (
        critical.level,
        critical.identity,
        critical.environment,
    )
    assert [] == [f for f in through_team.findings if f.kind is FindingKind.SECURITY_ROLE]


def test_deleted_enterprise_application_is_named_7000229(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """The registration is in the tenant, its service principal deleted (Graph 404): the
    posture says sign-in fails with AADSTS7000229 and to re-create it."""
    sim.set_application(APP, service_principal=False)

    report = read(tmp_path, sim, store, identities=("sales-sync",)).run()

    (finding,) = [
        f
        for f in report.findings
        if f.kind is FindingKind.ACCOUNT_DISABLED and f.identity == "sales-sync"
    ]
    assert "(AADSTS7000229)" in finding.summary
    assert finding.remedy.startswith("re-create the enterprise application")


def test_password_identities_get_the_ropc_advice(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """Every kind = "user" identity has the info finding about password sign-in."""
    report = read(tmp_path, sim, store).run()

    advice = sorted(
        (f.identity, f.level) for f in report.findings if f.key.endswith(":password-sign-in")
    )
    assert [("svc-sync", Level.INFO)] == advice
