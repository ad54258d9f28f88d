"""The daemon's status row on a real SQLite file: written at start, by the heartbeat at most
once a minute, when stopping and when stopped; a database error never stops the beat."""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import structlog
from support.daemon import make_config, wait_until

from monitor.config.model import DatabaseConfig, JobTiming, ScheduleConfig
from monitor.daemon import Daemon, Notifier
from monitor.daemon.jobs import JOBS, JobContext, JobSpec
from monitor.daemon.service import _QUIET_LOGGERS
from monitor.daemon.status import (
    STATUS_WRITE_SECONDS,
    DaemonStatus,
    write_heartbeat,
    write_started,
    write_stopped,
    write_stopping,
)
from monitor.model.daemon import DaemonStatusRecord
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.pipeline.steps import CycleContext
from monitor.store import Store
from monitor.store.database import open_engine
from monitor.store.models.base import Base

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Beats:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


def heartbeat_context(
    store: Store, status: DaemonStatus, clock: Clock, beats: Beats, *, stopping: bool = False
) -> JobContext:
    return JobContext(
        cycle=CycleContext(make_config(), store, bytes(32), cast(Any, None), clock),
        status=status,
        should_stop=lambda: stopping,
        beat=beats,
    )


def row(store: Store) -> DaemonStatusRecord:
    found = store.daemon.read()
    assert found is not None
    return found


def test_start_writes_a_running_row(store: Store) -> None:
    """write_started records who runs where, since when, and how often it will write."""
    status = DaemonStatus(2, pid=812, hostname="monitor-01")
    status.set_identities(2, ["app", "user"])

    assert write_started(
        store, status, now=T0, config_path=Path("/etc/monitor/monitor.toml"), heartbeat_seconds=5
    )

    written = row(store)
    assert ("running", 812, "monitor-01") == (written.state, written.pid, written.hostname)
    assert (T0, T0, None) == (written.started_at, written.last_beat_at, written.stopped_at)
    assert ("/etc/monitor/monitor.toml", 2) == (written.config_path, written.identities)
    assert STATUS_WRITE_SECONDS == written.write_interval_seconds


def test_a_slow_heartbeat_is_recorded_as_the_write_interval(store: Store) -> None:
    """With a heartbeat slower than a minute the row is written as often as it beats, and
    says so (the report's staleness follows)."""
    write_started(store, DaemonStatus(), now=T0, heartbeat_seconds=120)

    assert 120 == row(store).write_interval_seconds


def test_the_heartbeat_beats_then_writes_the_row(store: Store) -> None:
    """The heartbeat job beats, then writes the row with the counters of the probe jobs."""
    status = DaemonStatus(1)
    clock, beats = Clock(), Beats()
    status.record_pass(
        [
            ProbeResult(
                identity="app",
                environment="e",
                tenant="t",
                credential_type="client_secret",
                started_at=T0,
                duration_ms=10,
                outcome=Outcome.CREDENTIAL_INVALID,
                stage="token",
            )
        ],
        T0,
    )
    clock.advance(30)

    JOBS["heartbeat"].run(heartbeat_context(store, status, clock, beats))

    written = row(store)
    assert 1 == beats.count
    assert (clock.now, T0, 1, 1) == (
        written.last_beat_at,
        written.last_probe_at,
        written.probes_since_start,
        written.failing_pairs,
    )


def test_the_heartbeat_writes_at_most_once_a_minute(store: Store) -> None:
    """Beating every 5 s for three minutes writes the row at 0, 60, 120 and 180 s only; every
    beat still reaches the watchdog."""
    status = DaemonStatus()
    clock, beats = Clock(), Beats()
    context = heartbeat_context(store, status, clock, beats)
    written_at: list[datetime] = []
    for _ in range(37):
        JOBS["heartbeat"].run(context)
        beat_at = row(store).last_beat_at
        if not written_at or written_at[-1] != beat_at:
            written_at.append(beat_at)
        clock.advance(5)

    assert 37 == beats.count
    assert [T0 + timedelta(seconds=s) for s in (0, 60, 120, 180)] == written_at


def test_the_heartbeat_writes_again_when_the_clock_goes_back(store: Store) -> None:
    """A clock set back (NTP step) does not silence the row for the size of the step."""
    status = DaemonStatus()
    write_heartbeat(store, status, now=T0)

    assert write_heartbeat(store, status, now=T0 - timedelta(hours=1))
    assert T0 - timedelta(hours=1) == row(store).last_beat_at


def test_a_database_error_never_stops_the_beat(store: Store) -> None:
    """With the table gone every beat still happens, the failure is one warning (not one per
    minute), and the first write that works again is logged once."""
    status = DaemonStatus()
    clock, beats = Clock(), Beats()
    context = heartbeat_context(store, status, clock, beats)
    connection = sqlite3.connect(store.path)
    try:
        connection.execute("DROP TABLE daemon_status")
        connection.commit()
    finally:
        connection.close()

    with structlog.testing.capture_logs() as logs:
        for _ in range(4):
            JOBS["heartbeat"].run(context)
            clock.advance(STATUS_WRITE_SECONDS)
        assert 4 == beats.count
        engine = open_engine(store.path)
        try:
            Base.metadata.tables["daemon_status"].create(engine)
        finally:
            engine.dispose()
        JOBS["heartbeat"].run(context)

    assert 5 == beats.count
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert 1 == len(warnings)
    assert "no such table" in warnings[0]["error"]
    assert ["daemon status recorded in the database again"] == [
        entry["event"] for entry in logs if entry["log_level"] == "info"
    ]
    assert clock.now == row(store).last_beat_at


def test_the_heartbeat_does_not_write_while_the_daemon_stops(store: Store) -> None:
    """Once stopping, the heartbeat still beats but leaves the row to Daemon.stop."""
    status = DaemonStatus()
    clock, beats = Clock(), Beats()

    JOBS["heartbeat"].run(heartbeat_context(store, status, clock, beats, stopping=True))

    assert 1 == beats.count
    assert store.daemon.read() is None


def test_start_stopping_stopped(store: Store) -> None:
    """The row goes running -> stopping -> stopped; a heartbeat after the stop began writes
    nothing, so the last row says the daemon stopped cleanly."""
    status = DaemonStatus(pid=812, hostname="monitor-01")
    write_started(store, status, now=T0)
    assert write_heartbeat(store, status, now=T0 + timedelta(minutes=1))

    assert write_stopping(store, status, now=T0 + timedelta(minutes=2), reason="SIGTERM")
    stopping = row(store)
    assert not write_heartbeat(store, status, now=T0 + timedelta(minutes=5))
    assert write_stopped(store, status, now=T0 + timedelta(minutes=2, seconds=3))
    stopped = row(store)

    assert ("stopping", "SIGTERM", T0) == (
        stopping.state,
        stopping.stop_reason,
        stopping.started_at,
    )
    assert ("stopped", "SIGTERM") == (stopped.state, stopped.stop_reason)
    assert T0 + timedelta(minutes=2, seconds=3) == stopped.stopped_at == stopped.last_beat_at


def test_start_warns_when_the_previous_daemon_did_not_stop(store: Store) -> None:
    """A row still saying "running" at start means the previous daemon crashed or was killed
    (or another daemon writes this database): one warning naming it."""
    write_started(store, DaemonStatus(pid=100, hostname="old-host"), now=T0)

    with structlog.testing.capture_logs() as logs:
        write_started(store, DaemonStatus(pid=200), now=T0 + timedelta(hours=1))

    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [(100, "old-host", "running")] == [
        (entry["previous_pid"], entry["previous_hostname"], entry["previous_state"])
        for entry in warnings
    ]
    assert 200 == row(store).pid


def test_a_clean_stop_leaves_no_warning_for_the_next_start(store: Store) -> None:
    """After write_stopped, the next start logs nothing."""
    status = DaemonStatus()
    write_started(store, status, now=T0)
    write_stopped(store, status, now=T0 + timedelta(minutes=1), reason="SIGTERM")

    with structlog.testing.capture_logs() as logs:
        write_started(store, DaemonStatus(), now=T0 + timedelta(hours=1))

    assert [] == [entry for entry in logs if entry["log_level"] == "warning"]
    assert ("running", None, None) == (
        row(store).state,
        row(store).stopped_at,
        row(store).stop_reason,
    )


@pytest.fixture
def _restore_logger_levels() -> Iterator[None]:
    """Daemon.start quiets some third-party loggers for the whole process; put them back."""
    levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("_restore_logger_levels")
def test_the_running_daemon_writes_its_row_from_the_heartbeat(tmp_path: Path, store: Store) -> None:
    """In a real Daemon the heartbeat (which runs at once) writes the row: this process, running,
    the identities of the configuration."""
    config = dataclasses.replace(
        make_config(ScheduleConfig(intervals={"heartbeat": 0.2})),
        database=DatabaseConfig(store.path),
    )
    idle = JobSpec(JobTiming("stand-in probe", "identity", 3600, 0), lambda ctx: None, "probes")
    daemon = Daemon(
        config,
        store,
        fingerprint_key=b"k" * 32,
        config_path=config.source,
        notifier=Notifier({}),
        jobs={"probe": idle, "heartbeat": JOBS["heartbeat"]},
    )
    daemon.start(install_signals=False)
    serving = threading.Thread(target=daemon.serve, daemon=True)
    serving.start()
    try:
        wait_until(lambda: store.daemon.read() is not None, timeout=10)
        written = store.daemon.read()
    finally:
        daemon.request_stop("test")
        serving.join(10)

    assert written is not None
    assert ("running", os.getpid(), 2) == (written.state, written.pid, written.identities)
