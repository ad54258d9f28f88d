"""Retention: keep the database bounded without ever delaying a probe.

Raw probe results older than ``probe_results_days`` are deleted, then the runs left without
results, then daily rollups older than ``daily_stats_days``. Each delete is one short
``BEGIN IMMEDIATE`` transaction of at most ``batch_rows`` rows, with a pause between batches, so a
probe waiting to record its result waits for one small batch at most (Uptime Kuma #2470: blocking
maintenance produced false downtime). State changes (``state_change``), identity state and
lockout guards are never deleted here; a state change whose raw result is gone keeps its row
with ``result_id`` NULL (``ON DELETE SET NULL``). Tables of other parts of the pipeline
(incidents, outbox) are theirs to bound.

Afterwards the freed pages go back to the file system with ``PRAGMA incremental_vacuum`` (the
database is created with ``auto_vacuum=INCREMENTAL``), in chunks, and the write-ahead log is
truncated with ``PRAGMA wal_checkpoint(TRUNCATE)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Delete, delete, exists, func, select

from monitor.logsetup import get_logger
from monitor.store.database import BUSY_TIMEOUT_MS
from monitor.store.models.probes import ProbeResultRow, ProbeStatsDailyRow, Run
from monitor.store.store import Store

log = get_logger("monitor.store.retention")

# Pages freed per incremental_vacuum call (4 MiB at the default 4 KiB page size).
VACUUM_PAGES_PER_STEP = 1024

# How long the WAL checkpoint waits for readers and writers (milliseconds).
CHECKPOINT_BUSY_MS = 200


@dataclass(frozen=True)
class RetentionPolicy:
    probe_results_days: int = 90
    daily_stats_days: int = 730
    batch_rows: int = 500
    pause_seconds: float = 0.02  # between batches: lets a waiting writer in


@dataclass(frozen=True)
class RetentionResult:
    """What one retention run did."""

    probe_results_deleted: int
    runs_deleted: int
    daily_stats_deleted: int
    batches: int
    pages_freed: int
    wal_truncated: bool
    stopped_early: bool
    seconds: float


def apply_retention(
    store: Store,
    policy: RetentionPolicy,
    *,
    now: datetime,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> RetentionResult:
    """Delete what *policy* no longer keeps as of *now*, in batches; then vacuum and checkpoint.

    *should_stop* is checked between batches: when it turns true the run ends early (what was
    deleted stays deleted; the next run goes on). Raise StoreError if the database fails.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    if policy.batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    started = time.monotonic()
    results_cutoff = now - timedelta(days=policy.probe_results_days)
    daily_cutoff = (now - timedelta(days=policy.daily_stats_days)).astimezone(UTC).date()
    counts = {"results": 0, "runs": 0, "daily": 0}
    batches = 0
    stopped = False
    with store.database.read() as session:
        newest = session.scalar(select(func.max(ProbeResultRow.started_at)))
    if newest is not None and newest < results_cutoff:
        # Nothing was recorded since the cutoff: either the clock jumped forward or nothing
        # has probed for the whole retention period. Either way, deleting now would leave no
        # history at all; the next run, after new results, decides.
        log.warning(
            "retention skipped: the newest probe result is older than the retention period "
            "(was the clock set forward?)",
            newest=newest.isoformat(),
            cutoff=results_cutoff.isoformat(),
        )
        return RetentionResult(0, 0, 0, 0, 0, False, False, 0.0)

    statements: dict[str, Callable[[], Delete]] = {
        "results": lambda: delete(ProbeResultRow).where(
            ProbeResultRow.id.in_(
                select(ProbeResultRow.id)
                .where(ProbeResultRow.started_at < results_cutoff)
                .order_by(ProbeResultRow.started_at)
                .limit(policy.batch_rows)
                .scalar_subquery()
            )
        ),
        "runs": lambda: delete(Run).where(
            Run.id.in_(
                select(Run.id)
                .where(Run.started_at < results_cutoff)
                .where(~exists().where(ProbeResultRow.run_id == Run.id))
                .limit(policy.batch_rows)
                .scalar_subquery()
            )
        ),
        "daily": lambda: delete(ProbeStatsDailyRow).where(
            ProbeStatsDailyRow.id.in_(
                select(ProbeStatsDailyRow.id)
                .where(ProbeStatsDailyRow.day < daily_cutoff)
                .limit(policy.batch_rows)
                .scalar_subquery()
            )
        ),
    }
    for what, statement in statements.items():
        while True:
            if should_stop():
                stopped = True
                break
            with store.database.write() as session:
                result = session.execute(statement())
                deleted = int(getattr(result, "rowcount", 0) or 0)
            batches += 1
            counts[what] += deleted
            if deleted < policy.batch_rows:
                break
            sleep(policy.pause_seconds)
        if stopped:
            break

    pages_freed = 0
    truncated = False
    if not stopped:
        pages_freed = _incremental_vacuum(store, should_stop, sleep, policy.pause_seconds)
        truncated = _checkpoint(store)
    report = RetentionResult(
        probe_results_deleted=counts["results"],
        runs_deleted=counts["runs"],
        daily_stats_deleted=counts["daily"],
        batches=batches,
        pages_freed=pages_freed,
        wal_truncated=truncated,
        stopped_early=stopped,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info(
        "retention",
        probe_results_deleted=report.probe_results_deleted,
        runs_deleted=report.runs_deleted,
        daily_stats_deleted=report.daily_stats_deleted,
        batches=report.batches,
        pages_freed=report.pages_freed,
        wal_truncated=report.wal_truncated,
        stopped_early=report.stopped_early,
        seconds=report.seconds,
    )
    return report


def _incremental_vacuum(
    store: Store,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], None],
    pause: float,
) -> int:
    """Free the file's free pages in chunks; return how many pages were given back."""
    freed = 0
    with store.database.raw_connection() as cursor:
        while not should_stop():
            free = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
            if free == 0:
                break
            # Each step of this pragma frees one page, and the sqlite3 module's execute() steps
            # a statement without result columns only once: executescript runs it to completion
            # (sqlite3_exec).
            cursor.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES_PER_STEP});")
            after = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
            freed += free - after
            if after >= free:  # auto_vacuum is off for this file: nothing to give back
                break
            sleep(pause)
    return freed


def _checkpoint(store: Store) -> bool:
    """Copy the WAL into the database and truncate it; return whether it was fully done (a
    reader holding an old snapshot can keep part of it, which is not an error)."""
    with store.database.raw_connection() as cursor:
        # A TRUNCATE checkpoint holds the write lock while it waits for readers: wait briefly,
        # so that probes never queue behind it; a busy answer only means the WAL is truncated
        # later (journal_size_limit bounds it meanwhile).
        cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        try:
            busy, _log_frames, _checkpointed = cursor.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)"
            ).fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return int(busy) == 0
