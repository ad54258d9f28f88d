"""The probe history: runs, results, the state of each identity/environment pair, state
changes and daily rollups (the tables of migration ``0001``).

Recording a batch is one transaction: the runs, every result, the new state of each pair, a
state change wherever an outcome changed, and the daily rollup, all or nothing. How a result
moves a pair's state is :func:`monitor.model.probes.next_state`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast

from sqlalchemy import BigInteger, Table, and_, case, func, or_, select, type_coerce
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.model.clock import require_aware
from monitor.model.incidents import ProbeHistory
from monitor.model.outcomes import Nature, Outcome, info
from monitor.model.probes import (
    RUN_KINDS,
    DailyStats,
    IdentityState,
    ProbeResult,
    RateLimit,
    RunRecord,
    Stage,
    StateChangeRecord,
    StoredResult,
    is_change,
    next_state,
)
from monitor.model.usage import ProbeTally
from monitor.store.database import Database
from monitor.store.mapping import RecordMap, column, optional_outcome, outcome, outcome_text
from monitor.store.models.probes import (
    IdentityStateRow,
    ProbeResultRow,
    ProbeStatsDailyRow,
    Run,
    StateChangeRow,
)
from monitor.store.query import filtered

_MICROSECONDS_PER_DAY = 86_400 * 1_000_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()

RESULT = RecordMap(
    ProbeResult,
    read={
        "outcome": column("outcome", outcome),
        "stage": column("stage", lambda value: cast(Stage, value)),
        "rate_limit": lambda row: RateLimit(
            burst_remaining=row.ratelimit_burst_remaining,
            time_remaining=row.ratelimit_time_remaining,
            retry_after_seconds=row.retry_after_seconds,
        ),
    },
    write={
        "outcome": lambda result: outcome_text(result.outcome),
        "ratelimit_burst_remaining": lambda result: result.rate_limit.burst_remaining,
        "ratelimit_time_remaining": lambda result: result.rate_limit.time_remaining,
        "retry_after_seconds": lambda result: result.rate_limit.retry_after_seconds,
    },
    skip=frozenset({"rate_limit"}),
)
STATE = RecordMap(
    IdentityState,
    read={"outcome": column("outcome", outcome)},
    write={"outcome": lambda state: outcome_text(state.outcome)},
)
CHANGE = RecordMap(
    StateChangeRecord,
    read={
        "from_outcome": column("from_outcome", optional_outcome),
        "to_outcome": column("to_outcome", outcome),
    },
)
DAILY = RecordMap(DailyStats)
_STATE_KEY = frozenset({"identity", "environment"})


class ProbeRepository:
    """Reads and writes of the probe history; every method is one short transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record_results(
        self, run: RunRecord, results: Sequence[ProbeResult]
    ) -> list[StateChangeRecord]:
        """Store a run and its results, advance identity state, write state changes and the
        daily rollup, all in one transaction; return the state changes in result order.

        Results are applied in order of ``started_at`` (stable). A ``run_id`` recorded before
        gets the new results added to it. Raise ValueError before writing anything if the run
        kind or an outcome is not known; on any error nothing is written.
        See :func:`monitor.model.probes.next_state` for how held (``attempted=False``) results
        count.
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
        with self._database.write() as session:
            run_pks = _store_runs(session, checked)
            # One order for the whole batch: each pair's state advances in order of start.
            ordered = sorted(
                ((result, run_pks[run.run_id]) for run, results in checked for result in results),
                key=lambda item: item[0].started_at,
            )
            results_in_order = [result for result, _ in ordered]
            result_rows = [
                ProbeResultRow(run_id=run_pk, **RESULT.to_values(result))
                for result, run_pk in ordered
            ]
            session.add_all(result_rows)
            session.flush()  # assigns ids
            changes = _advance_states(session, results_in_order, result_rows)
            _upsert_daily(session, results_in_order)
            session.flush()
            return [CHANGE.to_record(row) for row in changes]

    def latest_states(self, *, identity: str | None = None) -> list[IdentityState]:
        """Return the current state of every identity/environment pair seen, ordered by name."""
        query = filtered(
            select(IdentityStateRow).order_by(
                IdentityStateRow.identity, IdentityStateRow.environment
            ),
            {IdentityStateRow.identity: identity},
        )
        with self._database.read() as session:
            return [STATE.to_record(row) for row in session.scalars(query)]

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
        query = filtered(
            select(ProbeResultRow, Run.run_id)
            .join(Run, ProbeResultRow.run_id == Run.id)
            .order_by(ProbeResultRow.started_at.desc(), ProbeResultRow.id.desc())
            .limit(limit),
            {ProbeResultRow.identity: identity, ProbeResultRow.environment: environment},
            time=ProbeResultRow.started_at,
            since=since,
        )
        with self._database.read() as session:
            return [
                StoredResult(id=row.id, run_id=run_id, result=RESULT.to_record(row))
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
        query = filtered(
            select(StateChangeRow).order_by(StateChangeRow.at, StateChangeRow.id),
            {StateChangeRow.identity: identity, StateChangeRow.environment: environment},
            time=StateChangeRow.at,
            since=since,
            until=until,
        )
        with self._database.read() as session:
            return [CHANGE.to_record(row) for row in session.scalars(query)]

    def daily_stats(
        self,
        identity: str | None = None,
        *,
        environment: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[DailyStats]:
        """Return daily rollups ordered by identity, environment and day; *until* is exclusive."""
        daily = ProbeStatsDailyRow
        query = filtered(
            select(daily).order_by(daily.identity, daily.environment, daily.day),
            {daily.identity: identity, daily.environment: environment},
            time=daily.day,
            since=since,
            until=until,
        )
        with self._database.read() as session:
            return [DAILY.to_record(row) for row in session.scalars(query)]

    def latest_attempted_results(
        self,
        since: datetime,
        identities: Sequence[str] | None = None,
        *,
        outcome: Outcome | None = None,
    ) -> list[ProbeResult]:
        """Return the newest attempted result of each identity / environment pair that has one
        started at or after *since*, optionally only for *identities*, and only those newest
        results whose outcome is *outcome*, ordered by pair."""
        newest = (
            select(
                ProbeResultRow.identity.label("identity"),
                ProbeResultRow.environment.label("environment"),
                func.max(ProbeResultRow.id).label("id"),
            )
            .where(ProbeResultRow.attempted.is_(True), ProbeResultRow.started_at >= since)
            .group_by(ProbeResultRow.identity, ProbeResultRow.environment)
        )
        if identities is not None:
            newest = newest.where(ProbeResultRow.identity.in_(list(identities)))
        latest = newest.subquery()
        # Results are inserted in start order within a run and runs follow each other, so the
        # highest id of a pair is its newest result; ties on started_at cannot reorder it.
        query = (
            select(ProbeResultRow)
            .join(latest, ProbeResultRow.id == latest.c.id)
            .order_by(ProbeResultRow.identity, ProbeResultRow.environment)
        )
        if outcome is not None:
            query = query.where(ProbeResultRow.outcome == outcome.value)
        with self._database.read() as session:
            return [RESULT.to_record(row) for row in session.scalars(query)]

    def throttled_results(
        self, since: datetime, identities: Sequence[str] | None = None
    ) -> list[ProbeResult]:
        """Return the attempted results answered "throttled" started at or after *since*,
        oldest first."""
        query = (
            select(ProbeResultRow)
            .where(
                ProbeResultRow.attempted.is_(True),
                ProbeResultRow.outcome == Outcome.THROTTLED.value,
                ProbeResultRow.started_at >= since,
            )
            .order_by(ProbeResultRow.started_at, ProbeResultRow.id)
        )
        if identities is not None:
            query = query.where(ProbeResultRow.identity.in_(list(identities)))
        with self._database.read() as session:
            return [RESULT.to_record(row) for row in session.scalars(query)]

    def probe_tallies(self, since: date) -> list[ProbeTally]:
        """Return per identity, UTC day and credential type how many stored results were
        attempted, got a token, or were held, from *since* on (see
        :mod:`monitor.usage.footprint`)."""
        day_number = type_coerce(ProbeResultRow.started_at, BigInteger()) // _MICROSECONDS_PER_DAY
        attempted = ProbeResultRow.attempted.is_(True)
        signed_in = and_(
            attempted,
            or_(ProbeResultRow.stage == "dataverse", ProbeResultRow.token_source.is_not(None)),
        )
        query = (
            select(
                ProbeResultRow.identity,
                day_number.label("day_number"),
                ProbeResultRow.credential_type,
                func.sum(case((attempted, 1), else_=0)),
                func.sum(case((signed_in, 1), else_=0)),
                func.sum(case((attempted, 0), else_=1)),
            )
            .where(ProbeResultRow.started_at >= datetime.combine(since, time(), tzinfo=UTC))
            .group_by(ProbeResultRow.identity, "day_number", ProbeResultRow.credential_type)
            .order_by(ProbeResultRow.identity, "day_number")
        )
        with self._database.read() as session:
            return [
                ProbeTally(
                    identity=identity,
                    day=date.fromordinal(_EPOCH_DAY + int(number)),
                    credential_type=credential_type,
                    attempted=int(tried or 0),
                    signed_in=int(signed or 0),
                    held=int(held or 0),
                )
                for identity, number, credential_type, tried, signed, held in session.execute(query)
            ]

    def probe_history(self) -> dict[tuple[str, str], ProbeHistory]:
        """Return, per identity and environment seen, the failure run and the newest result's
        codes (see :class:`ProbeHistory`)."""
        with self._database.read() as session:
            return _probe_history(session)


def check_results(run: RunRecord, results: Sequence[ProbeResult]) -> list[ProbeResult]:
    """Return *results* ready to store for *run* (ordered by start, outcomes as Outcome);
    raise ValueError naming the problem if the run kind, a time or an outcome is not valid."""
    if run.kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {run.kind!r}; expected one of {RUN_KINDS}")
    require_aware(run.started_at, "run.started_at")
    require_aware(run.finished_at, "run.finished_at")
    for result in results:
        require_aware(result.started_at, f"started_at of {result.identity}")
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
        previous = None if state_row is None else STATE.to_record(state_row)
        state = next_state(previous, result, result_row.id)
        if state_row is None:
            state_row = IdentityStateRow(identity=result.identity, environment=result.environment)
            session.add(state_row)
            state_rows[key] = state_row
        STATE.fill(state_row, state, exclude=_STATE_KEY)
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


def _probe_history(session: Session) -> dict[tuple[str, str], ProbeHistory]:
    histories: dict[tuple[str, str], ProbeHistory] = {}
    # The newest change into failure (from ok, or the first observation) per pair.
    into_failure = (
        select(func.max(StateChangeRow.id))
        .where(
            or_(StateChangeRow.from_outcome.is_(None), StateChangeRow.from_outcome == "ok"),
            StateChangeRow.to_outcome != "ok",
        )
        .group_by(StateChangeRow.identity, StateChangeRow.environment)
    )
    into_ok = (
        select(func.max(StateChangeRow.id))
        .where(StateChangeRow.to_outcome == "ok", StateChangeRow.from_outcome.is_not(None))
        .group_by(StateChangeRow.identity, StateChangeRow.environment)
    )
    failing: dict[tuple[str, str], datetime] = {}
    for row in session.scalars(select(StateChangeRow).where(StateChangeRow.id.in_(into_failure))):
        failing[(row.identity, row.environment)] = row.at
    recovered: dict[tuple[str, str], str] = {}
    for row in session.scalars(select(StateChangeRow).where(StateChangeRow.id.in_(into_ok))):
        if row.from_outcome is not None:
            recovered[(row.identity, row.environment)] = row.from_outcome
    query = select(IdentityStateRow, ProbeResultRow).outerjoin(
        ProbeResultRow, IdentityStateRow.last_result_id == ProbeResultRow.id
    )
    for state, result in session.execute(query):
        key = (state.identity, state.environment)
        histories[key] = ProbeHistory(
            identity=state.identity,
            environment=state.environment,
            failing_since=failing.get(key) if state.outcome != "ok" else None,
            recovered_from=recovered.get(key) if state.outcome == "ok" else None,
            aadsts_code=None if result is None else result.aadsts_code,
            http_status=None if result is None else result.http_status,
            correlation_id=None if result is None else result.correlation_id,
            stage=None if result is None else result.stage,
            message=None if result is None else result.message,
        )
    return histories
