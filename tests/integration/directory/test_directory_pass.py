"""The directory pass against the simulator (real TLS, real msal, real SQLite): what it records,
what changes, when tenants are due, and every way a fact ends up "not observed"."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.posture import (
    APP,
    APP_SECRET,
    ENVIRONMENT,
    NEXT_SECRET,
    OBSERVER,
    OBSERVER_SECRET,
    PASSWORD,
    USER,
    write_config,
)

from monitor.directory.client import ReadPolicy
from monitor.model.findings import FindingKind, Level
from monitor.model.observations import Observation
from monitor.pipeline.directory import DirectoryPass, retry_delay
from monitor.simulator import Simulator
from monitor.store import Store

KEY = b"k" * 32
# The facts a full pass reads from each service (test_a_full_read_records_every_fact).
GRAPH_KINDS = {
    "subscribed_sku",
    "domain_policy",
    "organization",
    "service_principal",
    "app_credentials",
    "user_account",
    "user_licences",
}
DATAVERSE_KINDS = {"noninteractive_users", "systemuser", "security_roles"}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def directory_pass(
    tmp_path: Path, sim: Simulator, store: Store, sleeps: Sleeps | None = None, **config: object
) -> DirectoryPass:
    cfg = write_config(tmp_path / "deploy", sim, **config)  # type: ignore[arg-type]
    return DirectoryPass(cfg, store, fingerprint_key=KEY, sleep=sleeps or Sleeps())


def kinds(observations: object) -> dict[str, int]:
    found: dict[str, int] = {}
    for observation in observations:  # type: ignore[attr-defined]
        found[observation.kind] = found.get(observation.kind, 0) + 1
    return found


def test_a_full_read_records_every_fact(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """One pass observes SKUs, domains, the organization, service principals, credentials (also
    the observer's),
    the user's account and licences, the non-interactive count, systemusers and roles."""
    report = directory_pass(tmp_path, sim, store).run()

    assert ("posture",) == report.tenants_read
    assert all(o.observed for o in report.observations), [
        (o.key, o.reason) for o in report.observations if not o.observed
    ]
    assert {
        "subscribed_sku": 1,
        "domain_policy": 1,
        "organization": 1,
        "service_principal": 2,
        "app_credentials": 3,  # two identities and the observer
        "user_account": 1,
        "user_licences": 1,
        "noninteractive_users": 1,
        "systemuser": 3,
        "security_roles": 2,  # the outsider is no user of prod: no roles to read
    } == kinds(report.observations)
    assert len(report.observations) == len(report.changes)  # all first seen
    assert len(report.observations) == store.posture.observation_count()


def test_the_pass_finds_what_the_scenario_sets_up(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """Secret in 10 days (warning, no successor), System Administrator, the outsider not in
    prod, a named licensed user; the observer's token was requested once per resource."""
    report = directory_pass(tmp_path, sim, store).run()
    by_kind = {(f.kind, f.identity): f for f in report.findings if f.level is not Level.INFO}

    expiring = by_kind[(FindingKind.CREDENTIAL_EXPIRING, "sales-sync")]
    assert Level.WARNING == expiring.level
    assert expiring.summary.startswith("client secret 'sales 2025' (in use) expires on")
    # It ends 10 days after the scenario was built, read moments later: whole days rounded
    # down.
    assert "(in 9 days); no successor is registered" in expiring.summary
    assert by_kind[(FindingKind.OVER_PRIVILEGED, "sales-sync")].level is Level.WARNING
    assert by_kind[(FindingKind.NOT_IN_ENVIRONMENT, "outsider")].level is Level.CRITICAL
    assert by_kind[(FindingKind.IDENTITY_TYPE, "svc-sync")].level is Level.WARNING
    assert "interactive user (licensed)" == report.posture.identities["svc-sync"].classification
    assert 2 == sim.request_count("token", client_id=OBSERVER)


def test_changes_are_rows_with_their_time(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """An unchanged second read adds observations but no change; a removed licence, a granted
    role and a disabled account are change rows at the time they were observed."""
    directory = directory_pass(tmp_path, sim, store)
    first = datetime.now(UTC)
    directory.run(first)
    second = directory.run(first + timedelta(hours=6))
    assert () == second.changes

    sim.set_user(USER, licences=[], enabled=False)
    sim.set_member(ENVIRONMENT, upn=USER, roles=["Salesperson", "System Customizer"])
    third_at = first + timedelta(hours=12)
    third = directory.run(third_at)

    changed = {c.kind: c for c in third.changes}
    assert {
        "user_account",
        "user_licences",
        "security_roles",
        "subscribed_sku",
        "systemuser",
    } == set(changed)
    licences = changed["user_licences"]
    assert (third_at, ("DYN365_ENTERPRISE_SALES",), ()) == (
        licences.at,
        licences.from_fact.names,  # type: ignore[union-attr]
        licences.to_fact.names,  # type: ignore[union-attr]
    )
    history = store.posture.changes(identity="svc-sync", kind="security_roles")
    assert [first, third_at] == [c.at for c in history]
    removed = next(
        f for f in third.findings if f.kind is FindingKind.LICENCE and f.identity == "svc-sync"
    )
    assert (Level.CRITICAL, third_at) == (removed.level, removed.deadline)
    disabled = next(f for f in third.findings if f.kind is FindingKind.ACCOUNT_DISABLED)
    assert third_at == disabled.deadline
    assert 3 * len(second.observations) == store.posture.observation_count()


def test_tenants_are_read_on_their_interval(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """A tenant read less than interval_hours ago is skipped; then read again; force reads now."""
    directory = directory_pass(tmp_path, sim, store)
    start = datetime.now(UTC)

    assert ("posture",) == directory.run(start).tenants_read
    soon = directory.run(start + timedelta(hours=5))
    assert ((), ("posture",)) == (soon.tenants_read, soon.tenants_skipped)
    assert soon.findings  # the posture is still evaluated from the stored facts
    assert ("posture",) == directory.run(start + timedelta(hours=6)).tenants_read
    assert ("posture",) == directory.run(
        start + timedelta(hours=6, minutes=1), force=True
    ).tenants_read


def test_a_read_stored_in_the_future_makes_the_tenant_due(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """The clock was a day ahead during a read and is set right: the stored read lies in the
    future, and the tenant is read again now instead of a day and six hours later."""
    directory = directory_pass(tmp_path, sim, store)
    start = datetime.now(UTC)
    assert ("posture",) == directory.run(start + timedelta(days=1)).tenants_read

    assert ("posture",) == directory.run(start).tenants_read


def test_a_read_that_failed_is_retried_sooner_than_the_interval(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """Graph answers 503: the tenant is read again after 5, then 10, then 15 minutes (not in 6
    hours), and after a read that succeeds it waits for its interval again."""
    directory = directory_pass(tmp_path, sim, store)
    start = datetime.now(UTC)
    directory.run(start)
    sim.set_fault("graph", "http_503")
    failed = start + timedelta(hours=6)
    assert ("posture",) == directory.run(failed).tenants_read
    due_after = []
    at = failed
    for delay in (5, 10, 15):
        assert () == directory.run(at + timedelta(minutes=delay - 1)).tenants_read
        at += timedelta(minutes=delay)
        due_after.append(directory.run(at).tenants_read)
    sim.clear_faults()
    at += timedelta(minutes=30)
    healed = directory.run(at).tenants_read

    assert ([("posture",)] * 3, ("posture",)) == (due_after, healed)
    assert () == directory.run(at + timedelta(minutes=61)).tenants_read


def test_retry_delays_follow_the_failed_reads_in_a_row() -> None:
    """5, 10, 15, 30 minutes after the first to fourth failed read, then hourly; never for facts
    read fine or failing for a reason that does not pass by itself."""

    def facts(cause: str | None, failed: int) -> list[Observation]:
        return [
            Observation(
                kind="user_account",
                tenant="posture",
                identity="svc-sync",
                environment=None,
                subject="",
                source="graph",
                observed_at=datetime.now(UTC),
                fact=None,
                cause=cause,  # type: ignore[arg-type]
                failed_reads=failed,
            )
        ]

    assert [5, 10, 15, 30, 60, 60] == [
        retry_delay(facts("throttled", n)) // timedelta(minutes=1) for n in range(1, 7)
    ]
    assert timedelta.max == retry_delay(facts("permission", 3))
    assert timedelta.max == retry_delay(facts(None, 0))


def test_rotated_secret_makes_the_tenant_due_at_once(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """After the operator rotates to the successor, the next pass reads again and the
    expiring-secret finding is gone."""
    start = datetime.now(UTC)
    sim.add_secret(APP, NEXT_SECRET, start + timedelta(days=700), display_name="sales 2026")
    before = directory_pass(tmp_path, sim, store).run(start)
    switch = next(f for f in before.findings if f.kind is FindingKind.CREDENTIAL_EXPIRING)
    assert switch.key.endswith(":successor")
    assert "switch the integration to client secret 'sales 2026'" in switch.remedy

    rotated = directory_pass(tmp_path, sim, store, app_secret=NEXT_SECRET).run(
        start + timedelta(minutes=5)
    )

    assert ("posture",) == rotated.tenants_read
    assert [] == [
        f
        for f in rotated.findings
        if f.kind is FindingKind.CREDENTIAL_EXPIRING and f.identity == "sales-sync"
    ]


def test_without_observer_everything_is_not_observed_except_local_facts(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """No observer: no request reaches the simulator, every Graph and Dataverse fact is "not
    observed: no observer", one info finding says so; nothing is healthy by default."""
    report = directory_pass(tmp_path, sim, store, observer=False).run()

    assert 0 == sim.request_count()
    assert GRAPH_KINDS | DATAVERSE_KINDS == set(kinds(report.observations))
    assert all(not o.observed and o.cause == "no_observer" for o in report.observations)
    (finding,) = [f for f in report.findings if f.kind is FindingKind.NOT_OBSERVED]
    assert Level.INFO == finding.level
    for name in ("sales-sync", "outsider", "svc-sync"):
        identity = report.posture.identities[name]
        assert identity.nearest is None
        assert identity.not_observed


def test_missing_graph_permission_leaves_the_rest_observed(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """Without User.Read.All the user facts are "not observed" naming the permission, while
    app credentials and Dataverse facts are still read."""
    sim.set_application(
        OBSERVER,
        graph_permissions=["Application.Read.All", "Domain.Read.All", "Organization.Read.All"],
    )
    report = directory_pass(tmp_path, sim, store).run()

    missing = {o.kind: o for o in report.observations if not o.observed}
    assert {"user_account", "user_licences"} == set(missing)
    assert "the observer lacks the Graph application permission User.Read.All" in (
        missing["user_account"].reason or ""
    )
    (finding,) = [f for f in report.findings if f.kind is FindingKind.NOT_OBSERVED]
    assert Level.WARNING == finding.level
    assert any(f.kind is FindingKind.CREDENTIAL_EXPIRING for f in report.findings)


def test_observer_not_in_the_environment(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """An observer that is no user of the environment: its Dataverse facts are not observed,
    with one request to find out; Graph facts are read."""
    sim.remove_member(ENVIRONMENT, client_id=OBSERVER)
    report = directory_pass(tmp_path, sim, store).run()

    missing = [o for o in report.observations if not o.observed]
    assert {"noninteractive_users", "systemuser", "security_roles"} == {o.kind for o in missing}
    assert all("is not a user of environment prod" in (o.reason or "") for o in missing)
    assert 1 == sim.request_count("dataverse", client_id=OBSERVER)


def test_graph_throttling_is_waited_out_when_short(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """A 429 with Retry-After 2 s is waited (through the injected sleep) and the read goes on."""
    sleeps = Sleeps()
    sim.set_fault("graph", "throttle_429", retry_after=2, count=1)
    report = directory_pass(tmp_path, sim, store, sleeps=sleeps).run()

    assert [2.0] == sleeps.calls
    assert all(o.observed for o in report.observations)


def test_long_graph_throttling_skips_the_remaining_graph_reads(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """A Retry-After longer than the pass waits makes Graph facts "not observed: throttled"
    after a single request; Dataverse is still read."""
    sleeps = Sleeps()
    sim.set_fault("graph", "throttle_429", retry_after=600)
    cfg = write_config(tmp_path / "deploy", sim)
    report = DirectoryPass(
        cfg, store, fingerprint_key=KEY, sleep=sleeps, policy=ReadPolicy(max_wait_seconds=30)
    ).run()

    graph = [o for o in report.observations if o.source == "graph"]
    dataverse = [o for o in report.observations if o.source == "dataverse"]
    assert (GRAPH_KINDS, DATAVERSE_KINDS) == (set(kinds(graph)), set(kinds(dataverse)))
    assert all(o.cause == "throttled" for o in graph)
    assert 1 == sim.request_count("graph")
    assert [] == sleeps.calls
    assert all(o.observed for o in dataverse)


def test_wrong_observer_secret_fails_once_per_resource(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """A wrong observer secret: every fact "not observed" with the AADSTS code, one failed
    sign-in for Graph and one for the environment, not one per fact."""
    report = directory_pass(
        tmp_path, sim, store, observer_secret="wRo8Q~not-the-observer-secret-0000"
    ).run()

    remote = [o for o in report.observations if o.source in ("graph", "dataverse")]
    assert GRAPH_KINDS | DATAVERSE_KINDS == set(kinds(remote))
    assert all(o.cause == "sign_in" for o in remote)
    assert all("AADSTS7000215" in (o.reason or "") for o in remote)
    assert 2 == sim.request_count("token", client_id=OBSERVER)
    assert 0 == sim.request_count("graph") + sim.request_count("dataverse")


def test_certificate_observer_signs_in(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """An observer with a certificate reads like one with a secret (assertion signed once)."""
    pytest.importorskip("cryptography")
    from support.deployment import make_certificate

    pem, certificate = make_certificate()
    sim.add_certificate(OBSERVER, certificate)
    (tmp_path / "deploy").mkdir(parents=True)
    observer_pem = tmp_path / "deploy" / "observer.pem"
    observer_pem.write_bytes(pem)
    observer_pem.chmod(0o600)
    cfg = write_config(tmp_path / "deploy", sim, observer=False)
    text = cfg.source.read_text().replace(
        'graph_url = "',
        f'observer = {{ client_id = "{OBSERVER}", certificate = {{ file = "{observer_pem}" }} }}\n'
        'graph_url = "',
        1,
    )
    cfg.source.write_text(text)
    from monitor.config import load_config

    config = load_config(cfg.source, environ={})
    report = DirectoryPass(config, store, fingerprint_key=KEY, sleep=Sleeps()).run()

    remote = [o for o in report.observations if o.source in ("graph", "dataverse")]
    assert GRAPH_KINDS | DATAVERSE_KINDS == set(kinds(remote))
    assert all(o.observed for o in remote)
    observer_files = [o for o in report.observations if o.kind == "certificate_file"]
    assert [("observer", None)] == [(o.subject, o.identity) for o in observer_files]


def test_no_secret_reaches_the_database(tmp_path: Path, sim: Simulator, store: Store) -> None:
    """Neither a configured secret, the observer's secret, the password nor a secret's hint is
    stored anywhere in the database."""
    directory_pass(tmp_path, sim, store).run()
    store.close()

    connection = sqlite3.connect(tmp_path / "monitor.db")
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    for value in (APP_SECRET, OBSERVER_SECRET, PASSWORD, NEXT_SECRET):
        assert value not in dump
    assert '"hint":' not in dump
    for hint in (APP_SECRET[:3], OBSERVER_SECRET[:3]):
        assert hint not in dump
    with Store.open(tmp_path / "monitor.db") as reopened:
        assert reopened.posture.current()


def test_a_pass_out_of_time_reads_nothing_and_forgets_nothing(
    tmp_path: Path, sim: Simulator, store: Store
) -> None:
    """A directory pass whose time has already run out (check --timeout) starts no tenant
    read, sends no request, and keeps every stored fact: the tenant stays due."""
    import time

    from monitor.directory.client import ReadPolicy

    config = directory_pass(tmp_path, sim, store).config
    first = DirectoryPass(config, store, fingerprint_key=KEY, sleep=Sleeps()).run()
    stored = store.posture.current()
    requests = sim.request_count()
    late = DirectoryPass(
        config,
        store,
        fingerprint_key=KEY,
        sleep=Sleeps(),
        policy=ReadPolicy(until=time.monotonic()),
    ).run(force=True)

    assert (("posture",), (), ("posture",)) == (
        first.tenants_read,
        late.tenants_read,
        late.tenants_skipped,
    )
    assert requests == sim.request_count()
    assert stored == store.posture.current()
