"""One incident per root cause, against the simulator, through ``monitor check``'s cycle and
through the daemon's jobs over simulated time: the examples a tenant produces (an expired secret
that a probe and Graph both see, a certificate the file and Graph both date, a removed licence, a
deleted app registration, a tenant-wide 429 storm, a revoked consent on a shared client, an
observer missing two permissions, System Administrator in two environments) each give exactly
one incident and one notice; a single failed directory read gives none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.cycles import Cycles
from support.notify.receivers import HttpsReceiver, SmtpReceiver
from support.posture import (
    ALL_PERMISSIONS,
    APP,
    APP_SECRET,
    CERT_APP,
    ENVIRONMENT,
    OBSERVER,
    PUBLIC,
    SECOND_ENVIRONMENT,
    USER,
    certificate_expiring_in,
    posture_scenario,
    write_config,
)

from monitor.model.incidents import IncidentRecord
from monitor.simulator import Simulator
from monitor.store import Store

SIGNATURE = "root-cause-signature-0000"
Run = Callable[[Cycles], None]


def by_check(cycles: Cycles) -> None:
    """Four checks a quarter of an hour apart, as a cron job would run them."""
    for _ in range(4):
        cycles.check()
        cycles.clock.advance(minutes=15)


def by_daemon(cycles: Cycles) -> None:
    """An hour of the daemon's jobs."""
    cycles.daemon(60)


RUNS = [pytest.param(by_check, id="check"), pytest.param(by_daemon, id="daemon")]


@pytest.fixture
def world(
    tmp_path: Path, posture_state: Path, teams: HttpsReceiver, mailbox: SmtpReceiver
) -> Iterator[tuple[Simulator, Path]]:
    with Simulator(posture_scenario(second_environment=True), state_dir=posture_state) as sim:
        yield sim, tmp_path
        errors = sim.internal_errors
    assert [] == errors


@pytest.fixture(scope="session")
def posture_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("root-cause-simulator")


def channels(teams: HttpsReceiver, mailbox: SmtpReceiver) -> str:
    return f"""
[[channels]]
name = "ops-teams"
urls = ["{teams.workflows_url(SIGNATURE)}"]
severities = ["critical", "warning"]

[[channels]]
name = "ops-email"
urls = ["{mailbox.url()}"]
severities = ["critical", "warning"]
"""


def open_cycles(
    sim: Simulator,
    root: Path,
    teams: HttpsReceiver,
    mailbox: SmtpReceiver,
    identities: tuple[str, ...],
    **options: object,
) -> Iterator[Cycles]:
    config = write_config(
        root / "deploy",
        sim,
        identities=identities,
        extra=channels(teams, mailbox),
        **options,  # type: ignore[arg-type]
    )
    with Store.open(config.database.path) as store:
        yield Cycles(config, store)


def of(cycles: Cycles, prefix: str) -> list[IncidentRecord]:
    """Every incident (open or not) whose cause key starts with *prefix*."""
    return [i for i in cycles.incidents(open_only=False) if i.key.startswith(prefix)]


def notices_of(cycles: Cycles, incident: IncidentRecord) -> list[tuple[str, str]]:
    """(channel, event) of every notice queued for *incident*."""
    return [(row.channel, row.event) for row in cycles.notices() if row.incident_id == incident.id]


def evidence_kinds(incident: IncidentRecord) -> set[tuple[str, str]]:
    items = incident.details.get("evidence")
    assert isinstance(items, list)
    return {(item["kind"], item["source"]) for item in items}


@pytest.mark.parametrize("run", RUNS)
def test_an_expired_client_secret_is_one_incident_with_one_notice(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """The probe's rejected secret (AADSTS7000222) and Graph's passed end date are one
    critical incident about the secret, announced once per channel."""
    sim, root = world
    sim.revoke_secret(APP, APP_SECRET)
    sim.add_secret(
        APP, APP_SECRET, end=datetime.now(UTC) - timedelta(days=2), display_name="sales 2025"
    )
    for cycles in open_cycles(sim, root, teams, mailbox, ("sales-sync",)):
        run(cycles)
        found = of(cycles, "cause:credential:posture/sales-sync")
        assert 1 == len(found), [i.key for i in cycles.incidents(open_only=False)]
        incident = found[0]
        assert ("critical", None) == (incident.level, incident.resolved_at)
        assert {("credential_broken", "probe"), ("credential_expiring", "graph")} <= (
            evidence_kinds(incident)
        )
        assert [("ops-teams", "opened"), ("ops-email", "opened")] == notices_of(cycles, incident)
        assert 1 == sum(1 for card in teams.accepted_cards() if incident.label in str(card)), (
            "one Teams message about the secret"
        )


def incident_keys(cycles: Cycles) -> list[str]:
    return [incident.key for incident in cycles.incidents(open_only=False)]


@pytest.mark.parametrize("run", RUNS)
def test_an_expired_password_is_one_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """The probe's AADSTS50055 and Graph's password age past the domain policy are one
    incident about the password."""
    sim, root = world
    sim.set_user(
        USER, password_expired=True, password_changed=datetime.now(UTC) - timedelta(days=95)
    )
    for cycles in open_cycles(sim, root, teams, mailbox, ("svc-sync",)):
        run(cycles)
        found = of(cycles, "cause:credential:posture/svc-sync")
        assert 1 == len(found), incident_keys(cycles)
        assert {("credential_broken", "probe"), ("password_expiring", "graph")} <= (
            evidence_kinds(found[0])
        )
        assert [("ops-teams", "opened"), ("ops-email", "opened")] == notices_of(cycles, found[0])


def test_a_certificate_in_its_file_and_in_graph_is_one_incident_that_escalates_once(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """A certificate ending in 3 days, dated by its file and by Graph's keyCredential (same
    thumbprint), is one incident; when it has expired it is still that one incident, with one
    notice for the expiry."""
    sim, root = world
    pem, certificate = certificate_expiring_in(3)
    sim.add_certificate(CERT_APP, certificate)
    path = root / "erp.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    for cycles in open_cycles(sim, root, teams, mailbox, ("erp",), certificate_file=path):
        cycles.check()
        found = of(cycles, "cause:credential:posture/erp")
        assert 1 == len(found), incident_keys(cycles)
        assert {("credential_expiring", "certificate file"), ("credential_expiring", "graph")} <= (
            evidence_kinds(found[0])
        )
        cycles.clock.advance(days=4)
        cycles.check()
        after = of(cycles, "cause:credential:posture/erp")
        assert [found[0].id] == [incident.id for incident in after]
        assert [
            ("ops-teams", "opened"),
            ("ops-email", "opened"),
            ("ops-teams", "expired"),
            ("ops-email", "expired"),
        ] == notices_of(cycles, after[0])


@pytest.mark.parametrize("run", RUNS)
def test_a_removed_licence_is_one_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """A user in read-write access mode loses its licence: Dataverse refuses it (0x8004D24B) and
    Graph shows no licence: one incident about the account."""
    sim, root = world
    sim.set_user(USER, licences=[])
    for cycles in open_cycles(sim, root, teams, mailbox, ("svc-sync",)):
        run(cycles)
        account = of(cycles, "cause:account:posture/svc-sync")
        assert 1 == len(account), incident_keys(cycles)
        assert ("critical", 2) == (account[0].level, len(notices_of(cycles, account[0])))
        assert [] == of(cycles, "cause:credential:posture/svc-sync")


@pytest.mark.parametrize("run", RUNS)
def test_a_deleted_app_registration_is_one_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """The app registration is gone: sign-in fails (AADSTS700016) and Graph finds no
    registration; one incident, no "not observed" for its facts."""
    sim, root = world
    with sim.scenario.lock:
        del sim.scenario.applications[APP]
    for cycles in open_cycles(sim, root, teams, mailbox, ("sales-sync",)):
        run(cycles)
        keys = [key for key in incident_keys(cycles) if "privilege" not in key]
        assert ["cause:account:posture/sales-sync"] == keys
        (incident,) = of(cycles, "cause:account:posture/sales-sync")
        assert 2 == len(notices_of(cycles, incident))


def test_a_tenant_wide_429_storm_is_one_tenant_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver
) -> None:
    """Thirty minutes in which every request to the tenant is throttled (probes, the observer's
    reads) give one incident for the tenant that names the identities, announced when it opens
    and once more when it turns critical; it resolves once no 429 is within the usage window."""
    sim, root = world
    for cycles in open_cycles(sim, root, teams, mailbox, ("sales-sync", "outsider", "svc-sync")):
        cycles.daemon(20)
        before = set(incident_keys(cycles))
        sim.set_fault("*", "throttle_429", retry_after=60)
        cycles.daemon(30)
        new = [i for i in cycles.incidents(open_only=False) if i.key not in before]
        assert ["cause:throttling:posture"] == [i.key for i in new]
        # Opened at the first 429 (a warning), escalated once at the second (critical).
        assert [
            ("ops-teams", "opened"),
            ("ops-email", "opened"),
            ("ops-teams", "escalated"),
            ("ops-email", "escalated"),
        ] == notices_of(cycles, new[0])
        assert {"outsider", "sales-sync"} <= set(new[0].details["identities"])
        sim.clear_faults()
        cycles.daemon(60)
        cycles.clock.advance(hours=24)  # a 429 counts for [usage] throttle_window_hours
        cycles.daemon(20)
        (storm,) = of(cycles, "cause:throttling:posture")
        assert storm.resolved_at is not None
        assert set() == {i.key for i in cycles.incidents(open_only=False)} - before - {storm.key}


@pytest.mark.parametrize("run", RUNS)
def test_a_revoked_consent_on_a_shared_client_is_one_incident_for_the_client(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """Two users sign in through one public client whose consent was revoked (AADSTS65001):
    one incident for the client application that names both."""
    sim, root = world
    sim.set_fault("token", "aadsts", value=65001, client_id=PUBLIC)
    for cycles in open_cycles(sim, root, teams, mailbox, ("svc-sync", "finance")):
        run(cycles)
        found = of(cycles, "cause:client:posture")
        assert 1 == len(found), incident_keys(cycles)
        assert PUBLIC in found[0].key
        assert ["finance", "svc-sync"] == found[0].details["identities"]
        broken = [
            i.key
            for i in cycles.incidents()
            if ("credential_broken", "probe") in (evidence_kinds(i))
        ]
        assert [found[0].key] == broken


@pytest.mark.parametrize("run", RUNS)
def test_an_observer_missing_two_permissions_is_one_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """The observer lacks Domain.Read.All and Organization.Read.All: one incident about the
    observer, both permissions in its evidence."""
    sim, root = world
    granted = [p for p in ALL_PERMISSIONS if p not in ("Domain.Read.All", "Organization.Read.All")]
    sim.set_application(OBSERVER, graph_permissions=granted)
    for cycles in open_cycles(sim, root, teams, mailbox, ("sales-sync",)):
        run(cycles)
        found = of(cycles, "cause:observer:posture")
        assert 1 == len(found), incident_keys(cycles)
        words = str(found[0].details["evidence"])
        assert ("Domain.Read.All" in words, "Organization.Read.All" in words) == (True, True)
        assert 2 == len(notices_of(cycles, found[0]))


@pytest.mark.parametrize("run", RUNS)
def test_system_administrator_in_two_environments_is_one_incident(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """An application user holding System Administrator in prod and in test: one incident."""
    sim, root = world
    for cycles in open_cycles(
        sim,
        root,
        teams,
        mailbox,
        ("sales-sync",),
        environments=(ENVIRONMENT, SECOND_ENVIRONMENT),
    ):
        run(cycles)
        found = of(cycles, "cause:privilege:posture/sales-sync")
        assert 1 == len(found), incident_keys(cycles)
        assert 2 == len(found[0].details["evidence"])  # type: ignore[arg-type]


@pytest.mark.parametrize("run", RUNS)
def test_a_single_failed_directory_read_opens_nothing_and_sends_nothing(
    world: tuple[Simulator, Path], teams: HttpsReceiver, mailbox: SmtpReceiver, run: Run
) -> None:
    """Graph answers 503 to one directory read, then recovers: no incident opens or resolves,
    nothing is sent, and what was known before (an expiry in 10 days) stays known."""
    sim, root = world
    for cycles in open_cycles(sim, root, teams, mailbox, ("sales-sync", "svc-sync")):
        cycles.check()
        before = [(i.id, i.key) for i in cycles.incidents()]
        sent = len(cycles.notices())
        cycles.clock.advance(hours=7)  # the directory is due again
        sim.set_fault("graph", "http_503", count=1)
        run(cycles)
        assert before == [(i.id, i.key) for i in cycles.incidents()]
        assert sent == len(cycles.notices())
        assert [] == of(cycles, "cause:directory:")
