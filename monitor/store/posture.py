"""Posture facts: every directory read's observations, the current value of each fact, and
its changes (the tables of migrations ``0003_posture`` and ``0006_failed_reads``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from monitor.model.clock import require_aware
from monitor.model.observations import (
    KEEPS_LAST_VALUE,
    Observation,
    PostureChange,
    fact_to_text,
    stored_fact,
    stored_observation,
)
from monitor.store.database import Database
from monitor.store.mapping import RecordMap
from monitor.store.models.posture import PostureChangeRow, PostureFactRow, PostureObservationRow
from monitor.store.query import filtered

CHANGE = RecordMap(
    PostureChange,
    read={
        "from_fact": lambda row: stored_fact(row.kind, row.from_value),
        "to_fact": lambda row: stored_fact(row.kind, row.to_value),
    },
    skip=frozenset({"from_fact", "to_fact"}),
)


class PostureRepository:
    """Reads and writes of posture facts; every method is one short transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record(
        self,
        run_id: str,
        observations: Sequence[Observation],
        *,
        tenants: Iterable[str],
        at: datetime,
    ) -> list[PostureChange]:
        """Record one directory pass over *tenants* in one transaction; return the changes.

        Every observation gets a row; the fact it observes is created or updated, with a change row
        when its value, its observability or its not-observed cause differs. A failed read of a
        fact known before keeps the fact's value when the failure says nothing about it
        (:data:`~monitor.model.observations.KEEPS_LAST_VALUE`; a failure of a whole kind, subject
        ``""``, stands for every known fact of that kind and scope) and counts in its
        ``failed_reads``; no change row. Facts of *tenants* that this pass did not observe at all
        have disappeared (a licence removed, a role revoked, an identity no longer configured):
        their fact rows are deleted, each with a change row at *at*. Raise ValueError (before
        writing) for a naive time or an observation of another tenant.
        """
        require_aware(at, "at")
        scope = set(tenants)
        for observation in observations:
            require_aware(observation.observed_at, f"observed_at of {observation.key}")
            if observation.tenant not in scope:
                raise ValueError(
                    f"{observation.key} is not in the recorded tenants {sorted(scope)}"
                )
        changes: list[PostureChangeRow] = []
        with self._database.write() as session:
            existing = {
                row.fact_key: row
                for row in session.scalars(
                    select(PostureFactRow).where(PostureFactRow.tenant.in_(scope))
                )
            }
            known: dict[tuple[str, str, str | None, str | None], list[PostureFactRow]] = {}
            for stored in existing.values():
                if stored.observed:
                    scope_key = (stored.kind, stored.tenant, stored.identity, stored.environment)
                    known.setdefault(scope_key, []).append(stored)
            seen: set[str] = set()
            for observation in observations:
                reading = _reading(observation)
                row = PostureObservationRow(
                    run_id=run_id, observed_at=observation.observed_at, **reading
                )
                session.add(row)
                session.flush()
                seen.add(observation.key)
                kept = _keeping_value(observation, existing, known)
                if kept:
                    for known_fact in kept:
                        seen.add(known_fact.fact_key)
                        _failed(known_fact, observation, row.id)
                    continue
                fact = existing.get(observation.key)
                created = fact is None
                if fact is None:
                    fact = PostureFactRow(since=observation.observed_at, **reading)
                    session.add(fact)
                    existing[observation.key] = fact
                elif (fact.observed, fact.value, None if fact.observed else fact.cause) != (
                    observation.observed,
                    reading["value"],
                    observation.cause,
                ):
                    fact.since = observation.observed_at
                else:
                    fact.last_observation_id = row.id
                    fact.last_observed_at = max(fact.last_observed_at, observation.observed_at)
                    fact.reason, fact.source = observation.reason, observation.source
                    fact.cause = observation.cause
                    _count_reads(fact, observation)
                    continue
                changes.append(
                    _change_row(
                        fact,
                        at=observation.observed_at,
                        to=reading,
                        observation_id=row.id,
                        new=created,
                    )
                )
                for name, value in reading.items():
                    setattr(fact, name, value)
                _count_reads(fact, observation)
                fact.last_observed_at = max(
                    fact.last_observed_at or observation.observed_at, observation.observed_at
                )
                fact.last_observation_id = row.id
            for key, fact in existing.items():
                if key not in seen:
                    changes.append(_change_row(fact, at=at, to=None, observation_id=None))
                    session.delete(fact)
            session.add_all(changes)
            session.flush()
            return [CHANGE.to_record(row) for row in changes]

    def current(
        self, *, tenant: str | None = None, identity: str | None = None
    ) -> list[Observation]:
        """Return the current value of every fact (optionally of one tenant / identity) as
        observations with ``since`` set, ordered by fact key."""
        # Plain rows rather than ORM objects: the evaluation job reads every fact each minute,
        # and building thousands of tracked objects costs several times the query.
        table = PostureFactRow.__table__
        query = select(table).order_by(table.c.fact_key)
        if tenant is not None:
            query = query.where(table.c.tenant == tenant)
        if identity is not None:
            query = query.where(table.c.identity == identity)
        with self._database.read() as session:
            rows = list(session.execute(query))
        found = [
            stored_observation(
                kind=row.kind,
                tenant=row.tenant,
                identity=row.identity,
                environment=row.environment,
                subject=row.subject,
                source=row.source,
                observed=row.observed,
                cause=row.cause,
                reason=row.reason,
                value=row.value,
                since=row.since,
                last_observed_at=row.last_observed_at,
                failed_reads=row.failed_reads,
                failing_since=row.failing_since,
            )
            for row in rows
        ]
        return [observation for observation in found if observation is not None]

    def changes(
        self,
        *,
        tenant: str | None = None,
        identity: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PostureChange]:
        """Return posture changes in time order, optionally filtered; *until* is exclusive."""
        change = PostureChangeRow
        query = filtered(
            select(change).order_by(change.at, change.id),
            {change.tenant: tenant, change.identity: identity, change.kind: kind},
            time=change.at,
            since=since,
            until=until,
        )
        with self._database.read() as session:
            return [CHANGE.to_record(row) for row in session.scalars(query)]

    def last_reads(self) -> dict[str, datetime]:
        """Return, per tenant, when its directory was last read (its newest observation)."""
        query = select(
            PostureObservationRow.tenant, func.max(PostureObservationRow.observed_at)
        ).group_by(PostureObservationRow.tenant)
        with self._database.read() as session:
            rows = session.execute(query).all()
        found: dict[str, datetime] = {}
        for tenant, latest in rows:
            if latest is not None:  # max() keeps the column type: an aware datetime
                found[tenant] = latest
        return found

    def observation_count(self, *, run_id: str | None = None) -> int:
        """Return how many observations are stored (of one pass, when *run_id* is given)."""
        query = select(func.count()).select_from(PostureObservationRow)
        if run_id is not None:
            query = query.where(PostureObservationRow.run_id == run_id)
        with self._database.read() as session:
            return int(session.execute(query).scalar_one())

    def delete_observations_before(self, before: datetime, *, batch_rows: int = 500) -> int:
        """Delete up to *batch_rows* observations older than *before* that no current fact points
        at; return how many were deleted (call again until 0). Facts and changes are kept."""
        require_aware(before, "before")
        with self._database.write() as session:
            current = select(PostureFactRow.last_observation_id).where(
                PostureFactRow.last_observation_id.is_not(None)
            )
            ids = list(
                session.scalars(
                    select(PostureObservationRow.id)
                    .where(PostureObservationRow.observed_at < before)
                    .where(PostureObservationRow.id.not_in(current))
                    .order_by(PostureObservationRow.id)
                    .limit(batch_rows)
                )
            )
            if ids:
                session.execute(
                    delete(PostureObservationRow).where(PostureObservationRow.id.in_(ids))
                )
            return len(ids)


_SCOPE = ("fact_key", "kind", "tenant", "identity", "environment", "subject")


def _keeping_value(
    observation: Observation,
    existing: Mapping[str, PostureFactRow],
    known: Mapping[tuple[str, str, str | None, str | None], list[PostureFactRow]],
) -> list[PostureFactRow]:
    """Return the known facts a failed *observation* leaves with their last value: the fact of
    its key, or (for a failure of a whole kind, subject ``""``) every known fact of its kind and
    scope; none when it succeeded or its cause drops the value."""
    if observation.observed or observation.cause not in KEEPS_LAST_VALUE:
        return []
    fact = existing.get(observation.key)
    if fact is not None:
        return [fact] if fact.observed else []
    if observation.subject:
        return []
    scope = (observation.kind, observation.tenant, observation.identity, observation.environment)
    return list(known.get(scope, ()))


def _failed(fact: PostureFactRow, observation: Observation, observation_id: int) -> None:
    """Note a failed read of a fact that keeps its last known value."""
    fact.cause, fact.reason = observation.cause, observation.reason
    fact.failed_reads = (fact.failed_reads or 0) + 1
    fact.failing_since = fact.failing_since or observation.observed_at
    fact.last_observation_id = observation_id


def _count_reads(fact: PostureFactRow, observation: Observation) -> None:
    """Count a failed read in a row, or start again after one that succeeded."""
    if observation.observed:
        fact.failed_reads, fact.failing_since = 0, None
    else:
        fact.failed_reads = (fact.failed_reads or 0) + 1
        fact.failing_since = fact.failing_since or observation.observed_at


def _reading(observation: Observation) -> dict[str, Any]:
    """Return what an observation says, as the columns every posture table shares."""
    return {
        "fact_key": observation.key,
        "kind": observation.kind,
        "tenant": observation.tenant,
        "identity": observation.identity,
        "environment": observation.environment,
        "subject": observation.subject,
        "source": observation.source,
        "observed": observation.observed,
        "cause": observation.cause,
        "reason": observation.reason,
        "value": fact_to_text(observation.fact),
    }


def _change_row(
    fact: PostureFactRow,
    *,
    at: datetime,
    to: dict[str, Any] | None,
    observation_id: int | None,
    new: bool = False,
) -> PostureChangeRow:
    """Return the change of *fact* (as stored before it) at *at*: first seen (*new*), a new
    reading *to*, or gone (*to* None)."""
    return PostureChangeRow(
        **{name: getattr(fact, name) for name in _SCOPE},
        at=at,
        source=fact.source if to is None else to["source"],
        from_observed=None if new else fact.observed,
        to_observed=None if to is None else to["observed"],
        from_value=None if new else fact.value,
        to_value=None if to is None else to["value"],
        to_cause=None if to is None else to["cause"],
        observation_id=observation_id,
    )
