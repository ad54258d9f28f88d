"""Several processes on one database: writers lose no update, readers are never locked out."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.store import Store

WRITE_SECONDS = 1.0
# Each process works at least this many times, however late a loaded machine starts it.
MIN_ROUNDS = 25

if TYPE_CHECKING:
    # What each process puts on the queue: its role, how many transactions it made, its errors.
    Report = multiprocessing.queues.Queue[tuple[str, int, list[str]]]


def _write_for_a_while(path: str, start: float, seconds: float, done: Report) -> None:
    """Record one ok result per transaction until the time is up; report count and errors."""
    count = 0
    errors: list[str] = []
    with Store.open(Path(path)) as store:
        while time.time() < start:
            time.sleep(0.005)
        while time.time() < start + seconds or count < MIN_ROUNDS:
            now = datetime.now(UTC)
            result = ProbeResult(
                identity="sales-sync",
                environment="contoso-prod",
                tenant="contoso",
                credential_type="client_secret",
                started_at=now,
                duration_ms=1,
                outcome=Outcome.OK,
                stage="dataverse",
            )
            try:
                store.probes.record_results(
                    RunRecord(str(uuid.uuid4()), "scheduled", now), [result]
                )
                count += 1
            except Exception as error:  # reported to the test, which fails on any
                errors.append(f"{type(error).__name__}: {error}")
    done.put(("write", count, errors))


def _read_for_a_while(path: str, start: float, seconds: float, done: Report) -> None:
    """Read the state board repeatedly while writers run; report reads and errors."""
    reads = 0
    errors: list[str] = []
    while time.time() < start:
        time.sleep(0.005)
    with Store.open_readonly(Path(path)) as reader:
        while time.time() < start + seconds or reads < MIN_ROUNDS:
            try:
                reader.probes.latest_states()
                reader.probes.recent_results(limit=10)
                reads += 1
            except Exception as error:  # reported to the test, which fails on any
                errors.append(f"{type(error).__name__}: {error}")
    done.put(("read", reads, errors))


def test_concurrent_writers_and_a_reader(db_path: Path) -> None:
    """Two writer processes doing read-then-write transactions at once lose no update (the
    consecutive-success counter equals the number of commits), and a reader process reading
    all the while never sees "database is locked"."""
    Store.open(db_path).close()
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    start = time.time() + 1.0  # past the spawned interpreters' start-up
    processes = [
        context.Process(target=_write_for_a_while, args=(str(db_path), start, WRITE_SECONDS, done))
        for _ in range(2)
    ]
    processes.append(
        context.Process(target=_read_for_a_while, args=(str(db_path), start, WRITE_SECONDS, done))
    )
    for process in processes:
        process.start()
    reports = [done.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert [errors for _, _, errors in reports] == [[], [], []]
    writes = sum(count for kind, count, _ in reports if kind == "write")
    reads = sum(count for kind, count, _ in reports if kind == "read")
    with Store.open_readonly(db_path) as reader:
        [state] = reader.probes.latest_states()
        stats_total = sum(
            stats.total for stats in reader.probes.daily_stats()
        )  # midnight may split
        stored = reader.probes.recent_results(limit=1_000_000)
    assert writes > 0
    assert reads > 0
    assert state.consecutive_successes == writes
    assert stats_total == writes
    assert len(stored) == writes
