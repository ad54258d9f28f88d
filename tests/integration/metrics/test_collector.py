"""The metrics collector over a real SQLite store: probe states, directory facts, incidents,
the outbox and usage become the documented series; what is not stored has no series; the
daemon's memory feeds the histogram and counters; and the HTTP app serves only two paths."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from support.daemon import make_config

from monitor.config.model import ChannelConfig, Config
from monitor.metrics import (
    LiveMetrics,
    MetricsDatabase,
    MonitorCollector,
    Vitals,
    build_registry,
    make_app,
)
from monitor.model.incidents import IncidentRecord
from monitor.model.observations import (
    SYSTEM_ADMINISTRATOR_TEMPLATE,
    AppCredentials,
    DomainPolicy,
    Licence,
    NonInteractiveUsers,
    Observation,
    RegisteredCredential,
    RoleGrant,
    SecurityRoles,
    ServicePlan,
    SubscribedSku,
    SystemUser,
    UserAccount,
    UserLicences,
)
from monitor.model.outbox import NewOutbox
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit, RunRecord
from monitor.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def vitals(**changes: Any) -> Vitals:
    base = Vitals(
        scheduler_healthy=True,
        seconds_since_beat=0.1,
        database_writable=True,
        probing=True,
        started_at=NOW - timedelta(hours=1),
        last_pass_at=NOW - timedelta(minutes=1),
        probe_interval_seconds=900.0,
    )
    return replace(base, **changes)


def probe(identity: str, outcome: Outcome, minutes_ago: float, **fields: Any) -> ProbeResult:
    return ProbeResult(
        identity=identity,
        environment="e",
        tenant="t",
        credential_type="client_secret" if identity == "app" else "password",
        started_at=NOW - timedelta(minutes=minutes_ago),
        duration_ms=300,
        outcome=outcome,
        stage="dataverse",
        **fields,
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    base = make_config()
    return replace(base, database=replace(base.database, path=tmp_path / "monitor.db"))


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.open(config.database.path) as opened:
        yield opened


def record(store: Store, *results: ProbeResult) -> None:
    run = RunRecord(str(uuid.uuid4()), "check", NOW - timedelta(minutes=30), NOW)
    store.probes.record_results(run, list(results))


def scrape(config: Config, live: LiveMetrics | None = None, **vital: Any) -> Samples:
    collector = MonitorCollector(
        MetricsDatabase(config.database.path),
        lambda: config,
        live or LiveMetrics(),
        lambda: vitals(**vital),
        clock=lambda: NOW,
    )
    text = generate_latest(build_registry(collector)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def pair(identity: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"identity": identity, "environment": "e", "tenant": "t", **extra}.items()))


def test_probe_states_become_pair_series(config: Config, store: Store) -> None:
    """The newest result decides success and outcome; timestamps, failures in a row and the
    headroom of the newest result follow the stored state."""
    record(
        store,
        probe(
            "app",
            Outcome.OK,
            20,
            rate_limit=RateLimit(burst_remaining=1500, time_remaining=600_000),
        ),
        probe("user", Outcome.OK, 20),
        probe("user", Outcome.PASSWORD_EXPIRED, 10),
        probe("user", Outcome.PASSWORD_EXPIRED, 5),
    )

    samples = scrape(config)

    ok_at = (NOW - timedelta(minutes=20)).timestamp()
    assert 1 == samples[("monitor_probe_success", pair("app", credential_kind="client_secret"))]
    assert 0 == samples[("monitor_probe_success", pair("user", credential_kind="password"))]
    assert 1 == samples[("monitor_probe_outcome", pair("user", outcome="password_expired"))]
    assert 2 == samples[("monitor_probe_consecutive_failures", pair("user"))]
    assert ok_at == samples[("monitor_probe_last_success_timestamp_seconds", pair("user"))]
    assert (NOW - timedelta(minutes=5)).timestamp() == samples[
        ("monitor_probe_last_timestamp_seconds", pair("user"))
    ]
    assert 1500 == samples[("monitor_dataverse_requests_remaining", pair("app"))]
    assert 0.25 == samples[("monitor_dataverse_headroom_ratio", pair("app", resource="requests"))]
    assert (
        0.5 == samples[("monitor_dataverse_headroom_ratio", pair("app", resource="execution_time"))]
    )
    assert ("monitor_dataverse_requests_remaining", pair("user")) not in samples


def test_directory_facts_become_credential_series(config: Config, store: Store) -> None:
    """Graph's credential list gives the end date of the secret in use and whether a successor
    is registered; the user's account and domain give the predicted password expiry; the
    systemuser and roles give enabled, licensed and over-privileged."""
    ends = NOW + timedelta(days=9)
    changed = NOW - timedelta(days=80)
    facts = [
        Observation.of(
            AppCredentials(
                "c1",
                "App",
                "client_secret",
                "hint",
                (RegisteredCredential("k1", "client_secret", "old", None, ends, True),),
            ),
            tenant="t",
            identity="app",
            source="graph",
            observed_at=NOW,
        ),
        Observation.of(
            UserAccount(True, "u@x.example", account_enabled=False, last_password_change=changed),
            tenant="t",
            identity="user",
            source="graph",
            observed_at=NOW,
        ),
        Observation.of(
            DomainPolicy("x.example", password_validity_days=90),
            tenant="t",
            subject="x.example",
            source="graph",
            observed_at=NOW,
        ),
        Observation.of(
            SystemUser(True, "s1", is_disabled=False, is_licensed=True),
            tenant="t",
            identity="user",
            environment="e",
            source="dataverse",
            observed_at=NOW,
        ),
        Observation.of(
            SecurityRoles(
                (RoleGrant("System Administrator", "r1", SYSTEM_ADMINISTRATOR_TEMPLATE, "Ops"),)
            ),
            tenant="t",
            identity="user",
            environment="e",
            source="dataverse",
            observed_at=NOW,
        ),
        Observation.of(
            NonInteractiveUsers(6),
            tenant="t",
            environment="e",
            source="dataverse",
            observed_at=NOW,
        ),
    ]
    store.posture.record("run-1", facts, tenants=["t"], at=NOW)

    samples = scrape(config)

    app = (("credential_kind", "client_secret"), ("identity", "app"), ("tenant", "t"))
    assert (
        ends.timestamp()
        == samples[
            ("monitor_credential_expiry_timestamp_seconds", (*app[:2], ("source", "graph"), app[2]))
        ]
    )
    assert 0 == samples[("monitor_credential_successor_registered", app)]
    user = (("identity", "user"), ("tenant", "t"))
    assert (changed + timedelta(days=90)).timestamp() == samples[
        ("monitor_password_expiry_timestamp_seconds", user)
    ]
    assert 0 == samples[("monitor_account_enabled", user)]
    assert 1 == samples[("monitor_dataverse_user_enabled", pair("user"))]
    assert 1 == samples[("monitor_dataverse_user_licensed", pair("user"))]
    assert 1 == samples[("monitor_overprivileged_role_held", pair("user"))]
    assert (
        6
        == samples[
            ("monitor_dataverse_noninteractive_users", (("environment", "e"), ("tenant", "t")))
        ]
    )
    assert 1 == samples[("monitor_directory_read_success", (("tenant", "t"),))]
    assert (
        NOW.timestamp()
        == samples[("monitor_directory_last_read_timestamp_seconds", (("tenant", "t"),))]
    )


DYNAMICS = ServicePlan("POWERAPPS_DYN_APPS")
EXCHANGE = ServicePlan("EXCHANGE_S_ENTERPRISE")


@pytest.mark.parametrize(
    ("skus", "licences", "expected"),
    [
        # A Dynamics 365 licence of an active subscription: licensed.
        (
            [SubscribedSku("s1", "DYN365_ENTERPRISE_SALES", 5, 5, service_plans=(DYNAMICS,))],
            ("s1",),
            1,
        ),
        # In its grace period it still works; a trial grants access while it lasts.
        (
            [
                SubscribedSku(
                    "s1",
                    "DYN365_ENTERPRISE_SALES",
                    5,
                    5,
                    capability_status="Warning",
                    service_plans=(DYNAMICS,),
                )
            ],
            ("s1",),
            1,
        ),
        ([SubscribedSku("s1", "POWERAPPS_DEV", 1, 1, service_plans=(DYNAMICS,))], ("s1",), 1),
        # Exchange only, a suspended subscription, a disabled plan, no licence: not licensed.
        ([SubscribedSku("s1", "ENTERPRISEPACK", 5, 5, service_plans=(EXCHANGE,))], ("s1",), 0),
        (
            [
                SubscribedSku(
                    "s1",
                    "DYN365_ENTERPRISE_SALES",
                    5,
                    5,
                    capability_status="Suspended",
                    service_plans=(DYNAMICS,),
                )
            ],
            ("s1",),
            0,
        ),
        (
            [
                SubscribedSku(
                    "s1",
                    "DYN365_ENTERPRISE_SALES",
                    5,
                    5,
                    service_plans=(ServicePlan("POWERAPPS_DYN_APPS", "Disabled"),),
                )
            ],
            ("s1",),
            0,
        ),
        ([], (), 0),
        # The SKU or its plans were not read: no series, unless another licence grants access.
        ([], ("s1",), None),
        ([SubscribedSku("s1", "DYN365_ENTERPRISE_SALES", 5, 5)], ("s1",), None),
        (
            [SubscribedSku("s2", "DYN365_ENTERPRISE_SALES", 5, 5, service_plans=(DYNAMICS,))],
            ("s1", "s2"),
            1,
        ),
    ],
)
def test_entra_licensed_comes_from_the_users_licences_and_the_tenants_skus(
    config: Config,
    store: Store,
    skus: list[SubscribedSku],
    licences: tuple[str, ...],
    expected: int | None,
) -> None:
    """monitor_entra_user_licensed: 1 when one of the user's licences is of an active SKU with
    a Dataverse service plan, 0 when none is, no series when that cannot be told."""
    facts = [
        Observation.of(
            UserAccount(True, "u@x.example", account_enabled=True),
            tenant="t",
            identity="user",
            source="graph",
            observed_at=NOW,
        ),
        Observation.of(
            UserLicences(tuple(Licence(sku) for sku in licences)),
            tenant="t",
            identity="user",
            source="graph",
            observed_at=NOW,
        ),
        *(
            Observation.of(sku, tenant="t", subject=sku.sku_id, source="graph", observed_at=NOW)
            for sku in skus
        ),
    ]
    store.posture.record("run-1", facts, tenants=["t"], at=NOW)

    samples = scrape(config)

    key = ("monitor_entra_user_licensed", (("identity", "user"), ("tenant", "t")))
    assert expected == samples.get(key)
    assert ("monitor_entra_user_licensed", (("identity", "app"), ("tenant", "t"))) not in samples


def test_what_is_not_stored_has_no_series(config: Config, store: Store) -> None:
    """An empty database gives no identity series at all: no success, no expiry, no password
    date, no usage; the monitor's own series are there."""
    samples = scrape(config)
    names = {name for name, _labels in samples}

    absent = {
        "monitor_probe_success",
        "monitor_credential_expiry_timestamp_seconds",
        "monitor_credential_successor_registered",
        "monitor_password_expiry_timestamp_seconds",
        "monitor_usage_allocation_ratio",
        "monitor_directory_read_success",
    }
    assert set() == absent & names
    assert {"monitor_build_info", "monitor_scheduler_healthy", "monitor_identities"} <= names
    assert 1 == samples[("monitor_database_read_success", ())]


def test_live_counters_and_jobs(config: Config, store: Store) -> None:
    """Probe durations land in the histogram's buckets, throttled answers are counted, held
    results are neither; job runs are timed."""
    live = LiveMetrics()
    live.record_pass(
        [
            probe("app", Outcome.OK, 1),
            probe("app", Outcome.THROTTLED, 1),
            probe("user", Outcome.OK, 1, attempted=False),
        ]
    )
    live.record_job("evaluate", NOW.timestamp(), 0.25, failed=False)
    live.record_job("evaluate", NOW.timestamp(), 0.5, failed=True)

    samples = scrape(config, live)

    assert 2 == samples[("monitor_probe_duration_seconds_count", pair("app"))]
    assert 0 == samples[("monitor_probe_duration_seconds_bucket", pair("app", le="0.25"))]
    assert 2 == samples[("monitor_probe_duration_seconds_bucket", pair("app", le="0.5"))]
    assert 1 == samples[("monitor_dataverse_throttled_total", pair("app"))]
    assert ("monitor_probe_duration_seconds_count", pair("user")) not in samples
    assert 0.5 == samples[("monitor_job_last_duration_seconds", (("job", "evaluate"),))]
    assert 2 == samples[("monitor_job_runs_total", (("job", "evaluate"),))]
    assert 1 == samples[("monitor_job_failures_total", (("job", "evaluate"),))]


def test_an_unreadable_database_is_a_series_not_an_error(config: Config) -> None:
    """Without a database file the scrape still answers, with database_read_success 0."""
    samples = scrape(config)

    assert 0 == samples[("monitor_database_read_success", ())]
    assert 1 == samples[("monitor_scheduler_healthy", ())]


def call(app: Any, path: str, method: str = "GET") -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, _headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method}, start_response))
    return seen["status"], body


def test_healthz_reasons_and_paths(config: Config, store: Store) -> None:
    """/healthz is 200 while healthy and 503 with a one-line reason for a stalled scheduler,
    a failing database write or passes that stopped; other paths 404, writes 405."""
    collector = MonitorCollector(
        MetricsDatabase(config.database.path), lambda: config, LiveMetrics(), vitals
    )
    states = {
        "ok": vitals(),
        "stalled": vitals(scheduler_healthy=False, seconds_since_beat=42),
        "database": vitals(database_writable=False),
        "passes": vitals(probing=False),
    }
    answers = {
        name: call(make_app(collector, lambda state=state: state), "/healthz")
        for name, state in states.items()
    }
    app = make_app(collector, vitals)

    assert ("200 OK", b"ok\n") == answers["ok"]
    assert "503 Service Unavailable" == answers["stalled"][0]
    assert b"scheduler stalled: no heartbeat for 42 s" in answers["stalled"][1]
    assert b"database not writable" in answers["database"][1]
    assert b"no probe pass finished since" in answers["passes"][1]
    assert all(body.count(b"\n") == 1 for _status, body in answers.values())
    assert "404 Not Found" == call(app, "/")[0]
    assert "405 Method Not Allowed" == call(app, "/metrics", "POST")[0]
    assert "200 OK" == call(app, "/metrics")[0]


def test_open_incidents_and_the_outbox(config: Config, store: Store) -> None:
    """Open incidents are counted by level and kind (resolved ones not); the outbox by channel
    and status, sent notices not at all, and every configured channel has its pending and dead
    series even when empty."""
    config = replace(config, channels=(ChannelConfig("ops", ()), ChannelConfig("mail", ())))
    incident = IncidentRecord(
        id=None,
        key="credential_broken:t/app/-:",
        kind="credential_broken",
        level="critical",
        tenant="t",
        identity="app",
        environment=None,
        subject="client secret",
        summary="broken",
        remedy="fix",
        source="probe",
        deadline=None,
        opened_at=NOW,
        observed_at=NOW,
    )
    with store.alerting.unit() as unit:
        unit.save_incident(incident)
        unit.save_incident(replace(incident, key="k2", resolved_at=NOW))
        unit.enqueue(
            [NewOutbox(f"n{n}", "ops", None, "opened", "critical", "{}", NOW) for n in range(3)],
            NOW,
        )
    with store.alerting.unit() as unit:
        unit.mark_dead([1], NOW, "gave up")

    samples = scrape(config)

    assert (
        1
        == samples[
            ("monitor_incidents_open", (("kind", "credential_broken"), ("level", "critical")))
        ]
    )
    outbox = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "monitor_outbox_notices"
    }
    assert {
        (("channel", "mail"), ("status", "dead")): 0,
        (("channel", "mail"), ("status", "pending")): 0,
        (("channel", "ops"), ("status", "dead")): 1,
        (("channel", "ops"), ("status", "pending")): 2,
    } == outbox


def test_the_next_scrape_reads_what_changed(config: Config, store: Store) -> None:
    """One collector over several scrapes: a newer result of one pair shows at the next scrape
    (only changed states are read), and a pair that appears shows too."""
    collector = MonitorCollector(
        MetricsDatabase(config.database.path), lambda: config, LiveMetrics(), vitals
    )

    def success() -> dict[str, float]:
        return {
            family_sample[1][0]: family_sample[2]
            for family in collector.families()
            if family.name == "monitor_probe_success"
            for family_sample in family.samples
        }

    record(store, probe("app", Outcome.OK, 10))
    first = success()
    record(store, probe("app", Outcome.CREDENTIAL_INVALID, 5))
    second = success()
    record(store, probe("user", Outcome.OK, 4))
    third = success()

    assert [{"app": 1}, {"app": 0}, {"app": 0, "user": 1}] == [first, second, third]


def test_every_family_a_scrape_has_is_documented(config: Config, store: Store) -> None:
    """docs/metrics.md names every monitor_ family the endpoint serves (counters with
    their _total), so a new series cannot go out undocumented."""
    documented = set(
        re.findall(
            r"`(monitor_[a-z_]+)`",
            (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text(),
        )
    )
    collector = MonitorCollector(
        MetricsDatabase(config.database.path),
        lambda: config,
        LiveMetrics(),
        lambda: vitals(),
        clock=lambda: NOW,
    )
    served = {
        family.name
        for family in text_string_to_metric_families(
            generate_latest(build_registry(collector)).decode()
        )
        if family.name.startswith("monitor_")
    }

    assert len(served) > 40
    missing = {
        name for name in served if name not in documented and f"{name}_total" not in documented
    }
    assert set() == missing


def test_the_server_gives_free_heap_back_after_each_answer(
    config: Config, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On glibc the handler calls malloc_trim once per answer, after the answer is sent; the
    scrapes over real HTTP are unaffected."""
    import platform
    import time
    import urllib.request

    from monitor.metrics import MetricsServer
    from monitor.metrics import server as server_module

    trimmer = server_module._heap_trimmer()
    if platform.libc_ver()[0] == "glibc":
        assert trimmer is not None
        assert trimmer() in (0, 1)  # 1: memory was released
    calls: list[int] = []
    monkeypatch.setattr(server_module, "_TRIM_HEAP", lambda: calls.append(1))
    collector = MonitorCollector(
        MetricsDatabase(config.database.path), lambda: config, LiveMetrics(), vitals
    )
    server = MetricsServer("127.0.0.1", 0, make_app(collector, vitals))
    server.start()
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for path in ("/metrics", "/healthz", "/metrics"):
            with opener.open(f"http://127.0.0.1:{server.port}{path}", timeout=10) as answer:
                assert 200 == answer.status
                assert answer.read()
        deadline = time.monotonic() + 5  # the handler thread trims after the answer went out
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.close()

    assert 3 == len(calls)
