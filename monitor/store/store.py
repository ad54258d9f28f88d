"""The writer (:class:`Store`) and the read-only view (:class:`Reader`) of the database.

Both hand out only frozen dataclasses from :mod:`monitor.store.records`; sessions and ORM rows
never leave this module. Each method is one short transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import Engine, Table, delete, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from monitor.logsetup import get_logger
from monitor.outcomes import Nature, Outcome, info
from monitor.probes.base import ProbeResult, RateLimit, Stage
from monitor.store.alerting import AlertingQueries, AlertingWriter
from monitor.store.db import (
    READ_ONLY_OPTION,
    create_database_file,
    database_errors,
    migrate,
    migrate_in_subprocess,
    open_engine,
    quick_schema_status,
    require_current_schema,
)
from monitor.store.models import (
    IdentityStateRow,
    LockoutGuardRow,
    ProbeResultRow,
    ProbeStatsDailyRow,
    Run,
    StateChangeRow,
)
from monitor.store.records import (
    RUN_KINDS,
    DailyStats,
    IdentityState,
    LockoutGuard,
    RunRecord,
    StateChangeRecord,
    StoredResult,
)
from monitor.store.transitions import is_change, next_state
from monitor.store.usage import UsageQueries, UsageWriter

log = get_logger("monitor.store")


class _Queries(AlertingQueries, UsageQueries):
    """Reads shared by the writer and the read-only view."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self._path = path
        self._engine = engine
        # Writers of this process take turns here before BEGIN IMMEDIATE: SQLite's busy handler
        # sleeps and retries instead of queueing, so eight probe threads committing at once could
        # wait past the busy timeout ("database is locked"). Other processes still meet the
        # busy timeout. Reentrant, so a write method may call another.
        self._write_lock = threading.RLock()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with database_errors(self._path), self._read_sessions() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """Yield a session inside one ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with (
            self._write_lock,
            database_errors(self._path),
            self._sessions() as session,
            session.begin(),
        ):
            yield session

    def close(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def latest_states(self, *, identity: str | None = None) -> list[IdentityState]:
        """Return the current state of every identity/environment pair seen, ordered by name."""
        query = select(IdentityStateRow).order_by(
            IdentityStateRow.identity, IdentityStateRow.environment
        )
        if identity is not None:
            query = query.where(IdentityStateRow.identity == identity)
        with self._read() as session:
            return [_state_record(row) for row in session.scalars(query)]

    def recent_results(
        self,
        identity: str | None = None,
        *,
        environment: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredResult]:
        """Return up to *limit* stored results, newest first, optionally for one identity,
        one environment and from *since* on."""
        query = (
            select(ProbeResultRow, Run.run_id)
            .join(Run, ProbeResultRow.run_id == Run.id)
            .order_by(ProbeResultRow.started_at.desc(), ProbeResultRow.id.desc())
            .limit(limit)
        )
        if identity is not None:
            query = query.where(ProbeResultRow.identity == identity)
        if environment is not None:
            query = query.where(ProbeResultRow.environment == environment)
        if since is not None:
            query = query.where(ProbeResultRow.started_at >= since)
        with self._read() as session:
            return [
                StoredResult(id=row.id, run_id=run_id, result=_probe_result(row))
                for row, run_id in session.execute(query)
            ]

    def state_changes(
        self,
        identity: str | None = None,
        *,
        environment: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StateChangeRecord]:
        """Return state changes in time order, optionally filtered; *until* is exclusive."""
        query = select(StateChangeRow).order_by(StateChangeRow.at, StateChangeRow.id)
        if identity is not None:
            query = query.where(StateChangeRow.identity == identity)
        if environment is not None:
            query = query.where(StateChangeRow.environment == environment)
        if since is not None:
            query = query.where(StateChangeRow.at >= since)
        if until is not None:
            query = query.where(StateChangeRow.at < until)
        with self._read() as session:
            return [_change_record(row) for row in session.scalars(query)]

    def daily_stats(
        self,
        identity: str | None = None,
        *,
        environment: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[DailyStats]:
        """Return daily rollups ordered by identity, environment and day; *until* is exclusive."""
        query = select(ProbeStatsDailyRow).order_by(
            ProbeStatsDailyRow.identity, ProbeStatsDailyRow.environment, ProbeStatsDailyRow.day
        )
        if identity is not None:
            query = query.where(ProbeStatsDailyRow.identity == identity)
        if environment is not None:
            query = query.where(ProbeStatsDailyRow.environment == environment)
        if since is not None:
            query = query.where(ProbeStatsDailyRow.day >= since)
        if until is not None:
            query = query.where(ProbeStatsDailyRow.day < until)
        with self._read() as session:
            return [_daily_record(row) for row in session.scalars(query)]

    def get_guard(self, identity: str) -> LockoutGuard | None:
        """Return the lockout guard of *identity*, or None if its sign-ins are not held."""
        with self._read() as session:
            row = session.get(LockoutGuardRow, identity)
            return None if row is None else _guard_record(row)

    def list_guards(self) -> list[LockoutGuard]:
        """Return every lockout guard, ordered by identity."""
        with self._read() as session:
            rows = session.scalars(select(LockoutGuardRow).order_by(LockoutGuardRow.identity))
            return [_guard_record(row) for row in rows]


class Reader(_Queries):
    """A read-only view of the database for reports and the CLI; never blocks the daemon."""

    @classmethod
    def open(cls, path: Path) -> Reader:
        """Open the database at *path* read-only.

        Raise StoreError if there is no database, or its schema is not the one this monitor
        writes (older: the message says to run ``monitor db upgrade``).
        """
        engine = open_engine(path, readonly=True)
        try:
            with database_errors(path), engine.connect() as connection:
                require_current_schema(quick_schema_status(connection), path)
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine)


class Store(_Queries, AlertingWriter, UsageWriter):
    """The writer: records runs, results, state and lockout guards.

    Every write is one ``BEGIN IMMEDIATE`` transaction, so a concurrent writer (a manual
    ``monitor check`` beside the daemon) waits for the lock instead of losing an update.
    """

    @classmethod
    def open(cls, path: Path, *, migrate_in_child: bool = False) -> Store:
        """Open the database at *path* for writing, creating it (directory 0700, file 0600)
        and upgrading its schema as needed. Raise StoreError if the schema is newer than this
        monitor knows.

        With *migrate_in_child*, an upgrade runs in a child Python process (the daemon: Alembic
        would stay in its memory, about 11 MB, for as long as it runs)."""
        create_database_file(path)
        engine = open_engine(path)
        try:
            with database_errors(path), engine.connect() as connection:
                status = quick_schema_status(connection)
            if not status.up_to_date:  # only then pay for importing Alembic
                if migrate_in_child:
                    upgrade = migrate_in_subprocess(path)
                    log.info(
                        "database schema upgraded",
                        database=str(path),
                        before=upgrade.before,
                        after=upgrade.after,
                    )
                else:
                    migrate(path)
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine)

    def record_results(
        self, run: RunRecord, results: Sequence[ProbeResult]
    ) -> list[StateChangeRecord]:
        """Store a run and its results, advance identity state, write state changes and the
        daily rollup, all in one transaction; return the state changes in result order.

        Results are applied in order of ``started_at`` (stable). A ``run_id`` recorded before
        gets the new results added to it. Raise ValueError before writing anything if the run
        kind or an outcome is not known; on any error nothing is written.
        See :mod:`monitor.store.transitions` for how held (``attempted=False``) results count.
        """
        return self.record_batch([(run, results)])

    def record_batch(
        self, runs: Sequence[tuple[RunRecord, Sequence[ProbeResult]]]
    ) -> list[StateChangeRecord]:
        """Store several runs as :meth:`record_results` does, all in one transaction (the
        daemon's write-behind, :mod:`monitor.daemon.writer`); return the state changes.

        Raise ValueError before writing anything if any run is invalid.
        """
        checked = [(run, check_results(run, results)) for run, results in runs]
        if not checked:
            return []
        with self._write() as session:
            run_pks = _store_runs(session, checked)
            # One order for the whole batch: each pair's state advances in order of start.
            ordered = sorted(
                ((result, run_pks[run.run_id]) for run, results in checked for result in results),
                key=lambda item: item[0].started_at,
            )
            results_in_order = [result for result, _ in ordered]
            result_rows = [_result_row(run_pk, result) for result, run_pk in ordered]
            session.add_all(result_rows)
            session.flush()  # assigns ids
            changes = _advance_states(session, results_in_order, result_rows)
            _upsert_daily(session, results_in_order)
            session.flush()
            return [_change_record(row) for row in changes]

    # --- lockout guard -------------------------------------------------------------------

    def set_guard(
        self,
        identity: str,
        fingerprint: str | None,
        outcome: Outcome,
        aadsts_code: int | None,
        since: datetime,
        hold_until: datetime | None,
        cooldown_seconds: int | None,
        *,
        forced_at: datetime | None = None,
    ) -> LockoutGuard:
        """Hold sign-ins of *identity* (replacing any guard it had) and return the guard.

        ``hold_until`` None holds until the credential's fingerprint changes or the guard is
        cleared. Replacing a guard resets its blocked-attempt count. Record the guard before
        recording the result that caused it: a crash in between then errs on the side of not
        signing in again.
        """
        with self._write() as session:
            row = session.get(LockoutGuardRow, identity)
            if row is None:
                row = LockoutGuardRow(identity=identity)
                session.add(row)
            row.credential_fingerprint = fingerprint
            row.outcome = Outcome(outcome).value
            row.aadsts_code = aadsts_code
            row.since = since
            row.hold_until = hold_until
            row.cooldown_seconds = cooldown_seconds
            row.blocked_attempts = 0
            row.last_blocked_at = None
            row.forced_at = forced_at
            session.flush()
            return _guard_record(row)

    def note_blocked_attempt(self, identity: str, at: datetime) -> LockoutGuard | None:
        """Count one sign-in the guard held back at *at*; return the guard (None if none)."""
        with self._write() as session:
            row = session.get(LockoutGuardRow, identity)
            if row is None:
                return None
            row.blocked_attempts += 1
            row.last_blocked_at = at
            session.flush()
            return _guard_record(row)

    def note_forced_probe(self, identity: str, at: datetime) -> LockoutGuard | None:
        """Record that an operator forced a probe past the guard at *at*; return the guard."""
        with self._write() as session:
            row = session.get(LockoutGuardRow, identity)
            if row is None:
                return None
            row.forced_at = at
            session.flush()
            return _guard_record(row)

    def clear_guard(self, identity: str) -> bool:
        """Lift the guard of *identity*; return whether there was one."""
        with self._write() as session:
            deleted = session.execute(
                delete(LockoutGuardRow).where(LockoutGuardRow.identity == identity)
            )
            return bool(getattr(deleted, "rowcount", 0))


def check_results(run: RunRecord, results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Return *results* ready to store for *run* (ordered by start, outcomes as Outcome);
    raise ValueError naming the problem if the run kind, a time or an outcome is not valid."""
    if run.kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {run.kind!r}; expected one of {RUN_KINDS}")
    _require_aware(run.started_at, "run.started_at")
    _require_aware(run.finished_at, "run.finished_at")
    for result in results:
        _require_aware(result.started_at, f"started_at of {result.identity}")
    # Outcome(...) raises ValueError for anything that is not an outcome class.
    return [
        result.evolve(outcome=Outcome(result.outcome))
        for result in sorted(results, key=lambda result: result.started_at)
    ]


def _store_runs(
    session: Session, runs: Sequence[tuple[RunRecord, Sequence[ProbeResult]]]
) -> dict[str, int]:
    """Insert or update the run rows of *runs* (one query for those already stored, one flush);
    return the primary key of each run id."""
    ids = {run.run_id for run, _ in runs}
    rows = {row.run_id: row for row in session.scalars(select(Run).where(Run.run_id.in_(ids)))}
    for run, results in runs:
        row = rows.get(run.run_id)
        if row is None:
            row = Run(
                run_id=run.run_id,
                kind=run.kind,
                started_at=run.started_at,
                finished_at=run.finished_at,
                probes=0,
                ok=0,
                failed=0,
                monitor_version=run.monitor_version,
            )
            session.add(row)
            rows[run.run_id] = row
        elif run.finished_at is not None:
            row.finished_at = max(row.finished_at or run.finished_at, run.finished_at)
        ok_count = sum(1 for result in results if result.outcome is Outcome.OK)
        row.probes += len(results)
        row.ok += ok_count
        row.failed += len(results) - ok_count
    session.flush()
    return {run_id: row.id for run_id, row in rows.items()}


def _require_aware(value: datetime | None, what: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}); use UTC")


# --- state and rollup ------------------------------------------------------------------------


def _advance_states(
    session: Session, results: Sequence[ProbeResult], rows: Sequence[ProbeResultRow]
) -> list[StateChangeRow]:
    identities = {result.identity for result in results}
    state_rows: dict[tuple[str, str], IdentityStateRow] = {}
    if identities:
        query = select(IdentityStateRow).where(IdentityStateRow.identity.in_(identities))
        state_rows = {(row.identity, row.environment): row for row in session.scalars(query)}
    changes: list[StateChangeRow] = []
    for result, result_row in zip(results, rows, strict=True):
        key = (result.identity, result.environment)
        state_row = state_rows.get(key)
        previous = None if state_row is None else _state_record(state_row)
        state = next_state(previous, result, result_row.id)
        if state_row is None:
            state_row = IdentityStateRow(identity=result.identity, environment=result.environment)
            session.add(state_row)
            state_rows[key] = state_row
        _copy_state(state, state_row)
        if is_change(previous, state):
            change = StateChangeRow(
                identity=result.identity,
                environment=result.environment,
                at=result.started_at,
                from_outcome=None if previous is None else previous.outcome.value,
                to_outcome=state.outcome.value,
                result_id=result_row.id,
            )
            session.add(change)
            changes.append(change)
    session.flush()
    return changes


@dataclass
class _DayTally:
    ok: int = 0
    definitive: int = 0
    transient: int = 0
    local: int = 0
    held: int = 0
    total: int = 0
    duration_ms_sum: int = 0
    duration_ms_max: int = 0

    def add(self, result: ProbeResult) -> None:
        nature = info(result.outcome).nature
        if nature is Nature.HEALTHY:
            self.ok += 1
        elif nature is Nature.DEFINITIVE:
            self.definitive += 1
        elif nature is Nature.TRANSIENT:
            self.transient += 1
        else:
            self.local += 1
        self.held += 0 if result.attempted else 1
        self.total += 1
        self.duration_ms_sum += result.duration_ms
        self.duration_ms_max = max(self.duration_ms_max, result.duration_ms)


def _upsert_daily(session: Session, results: Iterable[ProbeResult]) -> None:
    tallies: dict[tuple[str, str, date], _DayTally] = {}
    for result in results:
        day = result.started_at.astimezone(UTC).date()
        tallies.setdefault((result.identity, result.environment, day), _DayTally()).add(result)
    if not tallies:
        return
    values = [
        {"identity": identity, "environment": environment, "day": day, **vars(tally)}
        for (identity, environment, day), tally in tallies.items()
    ]
    # One statement, compiled once and cached, run for every row (executemany): a statement
    # with one VALUES row per tally would be compiled anew for every batch size.
    session.connection().execute(_DAILY_UPSERT, values)


def _daily_upsert() -> Any:
    table = cast(Table, ProbeStatsDailyRow.__table__)
    statement = sqlite_insert(table)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.identity, table.c.environment, table.c.day],
        set_={
            "ok": table.c.ok + new.ok,
            "definitive": table.c.definitive + new.definitive,
            "transient": table.c.transient + new.transient,
            "local": table.c.local + new.local,
            "held": table.c.held + new.held,
            "total": table.c.total + new.total,
            "duration_ms_sum": table.c.duration_ms_sum + new.duration_ms_sum,
            "duration_ms_max": func.max(table.c.duration_ms_max, new.duration_ms_max),
        },
    )


_DAILY_UPSERT = _daily_upsert()


# --- row <-> record --------------------------------------------------------------------------


def _outcome(value: str) -> Outcome:
    # A newer monitor may have stored a class this one does not know: show it as unclassified
    # rather than fail a whole report.
    try:
        return Outcome(value)
    except ValueError:
        return Outcome.UNCLASSIFIED


def _result_row(run_pk: int, result: ProbeResult) -> ProbeResultRow:
    return ProbeResultRow(
        run_id=run_pk,
        identity=result.identity,
        environment=result.environment,
        tenant=result.tenant,
        credential_type=result.credential_type,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        outcome=Outcome(result.outcome).value,
        stage=result.stage,
        attempted=result.attempted,
        message=result.message,
        aadsts_code=result.aadsts_code,
        oauth_error=result.oauth_error,
        http_status=result.http_status,
        dataverse_error_code=result.dataverse_error_code,
        correlation_id=result.correlation_id,
        trace_id=result.trace_id,
        token_source=result.token_source,
        ratelimit_burst_remaining=result.rate_limit.burst_remaining,
        ratelimit_time_remaining=result.rate_limit.time_remaining,
        retry_after_seconds=result.rate_limit.retry_after_seconds,
        credential_fingerprint=result.credential_fingerprint,
        user_id=result.user_id,
        organization_id=result.organization_id,
    )


def _probe_result(row: ProbeResultRow) -> ProbeResult:
    return ProbeResult(
        identity=row.identity,
        environment=row.environment,
        tenant=row.tenant,
        credential_type=row.credential_type,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        outcome=_outcome(row.outcome),
        stage=cast(Stage, row.stage),
        attempted=row.attempted,
        message=row.message,
        aadsts_code=row.aadsts_code,
        oauth_error=row.oauth_error,
        http_status=row.http_status,
        dataverse_error_code=row.dataverse_error_code,
        correlation_id=row.correlation_id,
        trace_id=row.trace_id,
        token_source=row.token_source,
        rate_limit=RateLimit(
            burst_remaining=row.ratelimit_burst_remaining,
            time_remaining=row.ratelimit_time_remaining,
            retry_after_seconds=row.retry_after_seconds,
        ),
        credential_fingerprint=row.credential_fingerprint,
        user_id=row.user_id,
        organization_id=row.organization_id,
    )


def _state_record(row: IdentityStateRow) -> IdentityState:
    return IdentityState(
        identity=row.identity,
        environment=row.environment,
        tenant=row.tenant,
        credential_type=row.credential_type,
        outcome=_outcome(row.outcome),
        since=row.since,
        last_probe_at=row.last_probe_at,
        last_attempt_at=row.last_attempt_at,
        last_success_at=row.last_success_at,
        consecutive_failures=row.consecutive_failures,
        consecutive_successes=row.consecutive_successes,
        credential_fingerprint=row.credential_fingerprint,
        last_result_id=row.last_result_id,
    )


def _copy_state(state: IdentityState, row: IdentityStateRow) -> None:
    row.tenant = state.tenant
    row.credential_type = state.credential_type
    row.outcome = state.outcome.value
    row.since = state.since
    row.last_probe_at = state.last_probe_at
    row.last_attempt_at = state.last_attempt_at
    row.last_success_at = state.last_success_at
    row.consecutive_failures = state.consecutive_failures
    row.consecutive_successes = state.consecutive_successes
    row.credential_fingerprint = state.credential_fingerprint
    row.last_result_id = state.last_result_id


def _change_record(row: StateChangeRow) -> StateChangeRecord:
    return StateChangeRecord(
        id=row.id,
        identity=row.identity,
        environment=row.environment,
        at=row.at,
        from_outcome=None if row.from_outcome is None else _outcome(row.from_outcome),
        to_outcome=_outcome(row.to_outcome),
        result_id=row.result_id,
    )


def _guard_record(row: LockoutGuardRow) -> LockoutGuard:
    return LockoutGuard(
        identity=row.identity,
        credential_fingerprint=row.credential_fingerprint,
        outcome=_outcome(row.outcome),
        aadsts_code=row.aadsts_code,
        since=row.since,
        hold_until=row.hold_until,
        cooldown_seconds=row.cooldown_seconds,
        blocked_attempts=row.blocked_attempts,
        last_blocked_at=row.last_blocked_at,
        forced_at=row.forced_at,
    )


def _daily_record(row: ProbeStatsDailyRow) -> DailyStats:
    return DailyStats(
        identity=row.identity,
        environment=row.environment,
        day=row.day,
        ok=row.ok,
        definitive=row.definitive,
        transient=row.transient,
        local=row.local,
        held=row.held,
        total=row.total,
        duration_ms_sum=row.duration_ms_sum,
        duration_ms_max=row.duration_ms_max,
    )
