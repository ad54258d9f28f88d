"""Retention on a real SQLite file: what goes, what stays, batches, vacuum, and no delay for a
writer recording probes at the same time."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from support.daemon import make_config

from monitor.config.model import RetentionConfig
from monitor.daemon.jobs import JOBS, JobContext
from monitor.daemon.status import DaemonStatus
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.pipeline.steps import CycleContext
from monitor.store import Store
from monitor.store.retention import RetentionPolicy, apply_retention

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=200)


def result(identity: str, at: datetime, outcome: Outcome) -> ProbeResult:
    return ProbeResult(
        identity=identity,
        environment="prod",
        tenant="t",
        credential_type="client_secret",
        started_at=at,
        duration_ms=100,
        outcome=outcome,
        stage="dataverse",
    )


def record(store: Store, at: datetime, results: list[ProbeResult]) -> None:
    store.probes.record_results(
        RunRecord(run_id=uuid.uuid4().hex, kind="scheduled", started_at=at, finished_at=at),
        results,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 days, one run every day with 6 results; identity 'b' flips outcome every 10 days.
    Built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("retention") / "template.db"
    with Store.open(path) as template:
        for day in range(200):
            at = T0 + timedelta(days=day, hours=12)
            flip = Outcome.OK if (day // 10) % 2 == 0 else Outcome.CREDENTIAL_INVALID
            record(
                template,
                at,
                [result(f"a{i}", at, Outcome.OK) for i in range(5)] + [result("b", at, flip)],
            )
    return path


@pytest.fixture
def seeded(tmp_path: Path, seeded_template: Path) -> Iterator[Store]:
    path = tmp_path / "monitor.db"
    shutil.copyfile(seeded_template, path)
    with Store.open(path) as opened:
        yield opened


def seed_raw(path: Path, rows: int) -> None:
    """Insert *rows* old results under one run with plain SQL (the ORM path is too slow for
    this many)."""
    at_us = int(T0.timestamp() * 1_000_000)
    with sqlite3.connect(path) as connection:
        run = connection.execute(
            "INSERT INTO run (run_id, kind, started_at, finished_at, probes, ok, failed, "
            "monitor_version) VALUES (?, 'scheduled', ?, ?, ?, ?, 0, 'seed')",
            (uuid.uuid4().hex, at_us, at_us, rows, rows),
        ).lastrowid
        connection.executemany(
            "INSERT INTO probe_result (run_id, identity, environment, tenant, credential_type, "
            "started_at, duration_ms, outcome, stage, attempted, message) "
            "VALUES (?, ?, 'prod', 't', 'client_secret', ?, 100, 'ok', 'dataverse', 1, '')",
            ((run, f"x{i % 50}", at_us + i) for i in range(rows)),
        )


def counts(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as connection:

        def one(sql: str) -> Any:
            return connection.execute(sql).fetchone()[0]

        return {
            "results": one("SELECT count(*) FROM probe_result"),
            "runs": one("SELECT count(*) FROM run"),
            "changes": one("SELECT count(*) FROM state_change"),
            "changes_without_result": one(
                "SELECT count(*) FROM state_change WHERE result_id IS NULL"
            ),
            "daily": one("SELECT count(*) FROM probe_stats_daily"),
            "states": one("SELECT count(*) FROM identity_state"),
            "oldest_result_us": one("SELECT min(started_at) FROM probe_result"),
            "freelist": one("PRAGMA freelist_count"),
            "auto_vacuum": one("PRAGMA auto_vacuum"),
        }


def test_old_raw_results_go_state_changes_and_recent_history_stay(seeded: Store) -> None:
    """With 90 days of results and 120 days of rollups: exactly the older rows are deleted, in
    batches; state changes all stay (their result link becomes NULL), identity state stays."""
    before = counts(seeded.path)
    policy = RetentionPolicy(probe_results_days=90, daily_stats_days=120, batch_rows=50)

    report = apply_retention(seeded, policy, now=NOW, sleep=lambda _s: None)

    after = counts(seeded.path)
    kept_days = 90  # days 110..199 have their noon within 90 days of NOW (day 200, 00:00)
    assert 6 * kept_days == after["results"]
    assert kept_days == after["runs"]
    assert before["results"] - after["results"] == report.probe_results_deleted
    assert before["runs"] - after["runs"] == report.runs_deleted
    assert 6 * 120 == after["daily"]
    assert before["changes"] == after["changes"]
    assert after["changes_without_result"] > 0
    assert before["states"] == after["states"]
    assert report.batches >= report.probe_results_deleted // 50
    assert report.wal_truncated
    assert 0 == after["freelist"]
    assert 2 == after["auto_vacuum"]  # INCREMENTAL: the freed pages went back to the disk


def test_a_second_run_finds_nothing_to_do(seeded: Store) -> None:
    """Retention is idempotent."""
    policy = RetentionPolicy(probe_results_days=90, daily_stats_days=120)
    apply_retention(seeded, policy, now=NOW)

    again = apply_retention(seeded, policy, now=NOW)

    assert (0, 0, 0) == (
        again.probe_results_deleted,
        again.runs_deleted,
        again.daily_stats_deleted,
    )


def test_the_file_shrinks(seeded: Store) -> None:
    """Incremental vacuum gives the deleted pages back: the database file gets smaller."""
    apply_retention(seeded, RetentionPolicy(), now=NOW)  # checkpoint first
    size_before = seeded.path.stat().st_size

    apply_retention(seeded, RetentionPolicy(probe_results_days=10, daily_stats_days=10), now=NOW)

    assert seeded.path.stat().st_size < size_before * 0.8


def test_stop_request_ends_between_batches(seeded: Store) -> None:
    """A stopping daemon does not wait for retention: it ends after the current batch."""
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    report = apply_retention(
        seeded, RetentionPolicy(batch_rows=10), now=NOW, should_stop=should_stop
    )

    assert report.stopped_early
    assert 30 == report.probe_results_deleted
    assert 0 == report.pages_freed


def test_the_retention_job_uses_the_configured_policy(seeded: Store) -> None:
    """The registry's retention job reads [retention] from the configuration in force."""
    config = make_config()
    import dataclasses

    config = dataclasses.replace(config, retention=RetentionConfig(30, 30, 100))
    context = JobContext(
        cycle=CycleContext(config, seeded, bytes(32), cast(Any, None), lambda: NOW),
        status=DaemonStatus(),
    )

    JOBS["retention"].run(context)

    assert 6 * 30 == counts(seeded.path)["results"]


def test_a_writer_is_not_held_up_by_retention(store: Store) -> None:
    """While 30,000 old rows are deleted, a writer recording a probe every 20 ms never waits
    longer than a fraction of a second."""
    seed_raw(store.path, 30_000)
    record(store, NOW, [result("live", NOW, Outcome.OK)])  # the daemon is probing
    latencies: list[float] = []
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            at = datetime.now(UTC)
            started = time.monotonic()
            record(store, at, [result("live", at, Outcome.OK)])
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = apply_retention(store, RetentionPolicy(probe_results_days=90), now=NOW)
    finally:
        done.set()
        thread.join()

    assert 30_000 == report.probe_results_deleted
    assert len(latencies) > 5
    assert max(latencies) < 0.5


def test_a_reader_holding_an_old_snapshot_does_not_hold_up_the_checkpoint(store: Store) -> None:
    """The WAL truncation waits only briefly for a reader (it holds the write lock meanwhile):
    with a snapshot open it gives up at once, and truncates on the next run."""
    record(store, NOW, [result("a", NOW, Outcome.OK)])
    reader = sqlite3.connect(store.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM probe_result").fetchone()
        record(store, NOW, [result("b", NOW, Outcome.OK)])  # frames past the reader's snapshot
        started = time.monotonic()
        blocked = apply_retention(store, RetentionPolicy(), now=NOW)
        elapsed = time.monotonic() - started
        record(store, NOW, [result("c", NOW, Outcome.OK)])  # a writer gets in at once
    finally:
        reader.close()
    assert not blocked.wal_truncated
    assert elapsed < 2.0  # the busy timeout is 5 s
    assert apply_retention(store, RetentionPolicy(), now=NOW).wal_truncated
    assert 0 == store.path.with_name(store.path.name + "-wal").stat().st_size


def test_the_retention_job_waits_while_the_clock_is_not_steady(seeded: Store) -> None:
    """After a wall-clock jump the daemon's retention job deletes nothing (a forward jump of
    100 days would otherwise take the whole history with it)."""
    config = make_config()
    before = counts(seeded.path)
    context = JobContext(
        cycle=CycleContext(config, seeded, bytes(32), cast(Any, None), lambda: NOW),
        status=DaemonStatus(),
        clock_steady=lambda: False,
    )

    JOBS["retention"].run(context)

    assert before == counts(seeded.path)


def test_retention_keeps_history_when_nothing_was_recorded_since_the_cutoff(
    seeded: Store,
) -> None:
    """The clock set 100 days forward (the jump happened while no daemon watched): the newest
    result is older than the cutoff, so retention deletes nothing rather than everything."""
    before = counts(seeded.path)

    report = apply_retention(seeded, RetentionPolicy(), now=NOW + timedelta(days=100))

    assert (0, before) == (report.probe_results_deleted, counts(seeded.path))
