"""Recording and reading posture observations (see :mod:`monitor.store.models_posture`).

Functions over a :class:`~monitor.store.Store` (writes) or a :class:`~monitor.store.Reader`
(reads), each one short transaction, handing out only frozen dataclasses and
:class:`~monitor.directory.observations.Observation` objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from monitor.directory.observations import (
    FACT_TYPES,
    Fact,
    NotObservedCause,
    Observation,
    Source,
    fact_from_json,
    fact_to_text,
)
from monitor.store.models_posture import PostureChangeRow, PostureFactRow, PostureObservationRow
from monitor.store.store import Reader, Store

Queries = Store | Reader


@dataclass(frozen=True)
class PostureChange:
    """A fact changed: first seen (``from_observed`` None), changed value or observability, or
    disappeared (``to_observed`` None)."""

    id: int
    fact_key: str
    kind: str
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    at: datetime
    source: str
    from_observed: bool | None
    to_observed: bool | None
    from_fact: Fact | None
    to_fact: Fact | None
    to_cause: str | None


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime")


def _fact(kind: str, text: str | None) -> Fact | None:
    if text is None or kind not in FACT_TYPES:
        return None
    return fact_from_json(kind, json.loads(text))


def record_observations(
    store: Store,
    run_id: str,
    observations: Sequence[Observation],
    *,
    tenants: Iterable[str],
    at: datetime,
) -> list[PostureChange]:
    """Record one directory pass over *tenants* in one transaction; return the changes.

    Every observation gets a row; the fact it observes is created or updated, with a change row
    when its value, its observability or its not-observed cause differs. Facts of *tenants* that
    this pass did not observe at all have disappeared (a licence removed, a role revoked, an
    identity no longer configured): their fact rows are deleted, each with a change row at *at*.
    Raise ValueError (before writing) for a naive time or an observation of another tenant.
    """
    _require_aware(at, "at")
    scope = set(tenants)
    for observation in observations:
        _require_aware(observation.observed_at, f"observed_at of {observation.key}")
        if observation.tenant not in scope:
            raise ValueError(f"{observation.key} is not in the recorded tenants {sorted(scope)}")
    changes: list[PostureChangeRow] = []
    with store._write() as session:
        existing = {
            row.fact_key: row
            for row in session.scalars(
                select(PostureFactRow).where(PostureFactRow.tenant.in_(scope))
            )
        }
        seen: set[str] = set()
        for observation in observations:
            key = observation.key
            value = fact_to_text(observation.fact)
            row = PostureObservationRow(
                run_id=run_id,
                fact_key=key,
                kind=observation.kind,
                tenant=observation.tenant,
                identity=observation.identity,
                environment=observation.environment,
                subject=observation.subject,
                source=observation.source,
                observed_at=observation.observed_at,
                observed=observation.observed,
                cause=observation.cause,
                reason=observation.reason,
                value=value,
            )
            session.add(row)
            session.flush()
            seen.add(key)
            fact = existing.get(key)
            if fact is None:
                fact = PostureFactRow(
                    fact_key=key,
                    kind=observation.kind,
                    tenant=observation.tenant,
                    identity=observation.identity,
                    environment=observation.environment,
                    subject=observation.subject,
                    source=observation.source,
                    observed=observation.observed,
                    cause=observation.cause,
                    reason=observation.reason,
                    value=value,
                    since=observation.observed_at,
                    last_observed_at=observation.observed_at,
                    last_observation_id=row.id,
                )
                session.add(fact)
                existing[key] = fact
                changes.append(_change(observation, None, None, row.id))
                continue
            changed = (fact.observed, fact.value, fact.cause) != (
                observation.observed,
                value,
                observation.cause,
            )
            if changed:
                changes.append(_change(observation, fact.observed, fact.value, row.id))
                fact.since = observation.observed_at
            fact.observed = observation.observed
            fact.value = value
            fact.cause = observation.cause
            fact.reason = observation.reason
            fact.source = observation.source
            fact.last_observed_at = max(fact.last_observed_at, observation.observed_at)
            fact.last_observation_id = row.id
        for key, fact in existing.items():
            if key in seen:
                continue
            changes.append(
                PostureChangeRow(
                    fact_key=key,
                    kind=fact.kind,
                    tenant=fact.tenant,
                    identity=fact.identity,
                    environment=fact.environment,
                    subject=fact.subject,
                    at=at,
                    source=fact.source,
                    from_observed=fact.observed,
                    to_observed=None,
                    from_value=fact.value,
                    to_value=None,
                    to_cause=None,
                    observation_id=None,
                )
            )
            session.delete(fact)
        session.add_all(changes)
        session.flush()
        return [_change_record(row) for row in changes]


def _change(
    observation: Observation,
    from_observed: bool | None,
    from_value: str | None,
    observation_id: int,
) -> PostureChangeRow:
    return PostureChangeRow(
        fact_key=observation.key,
        kind=observation.kind,
        tenant=observation.tenant,
        identity=observation.identity,
        environment=observation.environment,
        subject=observation.subject,
        at=observation.observed_at,
        source=observation.source,
        from_observed=from_observed,
        to_observed=observation.observed,
        from_value=from_value,
        to_value=fact_to_text(observation.fact),
        to_cause=observation.cause,
        observation_id=observation_id,
    )


def _change_record(row: PostureChangeRow) -> PostureChange:
    return PostureChange(
        id=row.id,
        fact_key=row.fact_key,
        kind=row.kind,
        tenant=row.tenant,
        identity=row.identity,
        environment=row.environment,
        subject=row.subject,
        at=row.at,
        source=row.source,
        from_observed=row.from_observed,
        to_observed=row.to_observed,
        from_fact=_fact(row.kind, row.from_value),
        to_fact=_fact(row.kind, row.to_value),
        to_cause=row.to_cause,
    )


def current_observations(
    queries: Queries, *, tenant: str | None = None, identity: str | None = None
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
    with queries._read() as session:
        rows = list(session.execute(query))
    found = []
    for row in rows:
        if row.kind not in FACT_TYPES:
            continue  # written by a newer monitor
        found.append(
            Observation(
                kind=row.kind,
                tenant=row.tenant,
                identity=row.identity,
                environment=row.environment,
                subject=row.subject,
                source=_source(row.source),
                observed_at=row.last_observed_at,
                fact=_fact(row.kind, row.value) if row.observed else None,
                cause=_cause(row.cause),
                reason=row.reason,
                since=row.since,
            )
        )
    return found


def _source(value: str) -> Source:
    if value in ("graph", "dataverse", "certificate file", "configuration"):
        return value  # type: ignore[return-value]
    return "graph"


def _cause(value: str | None) -> NotObservedCause | None:
    return value  # type: ignore[return-value]


def posture_changes(
    queries: Queries,
    *,
    tenant: str | None = None,
    identity: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[PostureChange]:
    """Return posture changes in time order, optionally filtered; *until* is exclusive."""
    query = select(PostureChangeRow).order_by(PostureChangeRow.at, PostureChangeRow.id)
    if tenant is not None:
        query = query.where(PostureChangeRow.tenant == tenant)
    if identity is not None:
        query = query.where(PostureChangeRow.identity == identity)
    if kind is not None:
        query = query.where(PostureChangeRow.kind == kind)
    if since is not None:
        query = query.where(PostureChangeRow.at >= since)
    if until is not None:
        query = query.where(PostureChangeRow.at < until)
    with queries._read() as session:
        return [_change_record(row) for row in session.scalars(query)]


def last_directory_reads(queries: Queries) -> dict[str, datetime]:
    """Return, per tenant, when its directory was last read (its newest observation)."""
    query = select(
        PostureObservationRow.tenant, func.max(PostureObservationRow.observed_at)
    ).group_by(PostureObservationRow.tenant)
    with queries._read() as session:
        rows = session.execute(query).all()
    found: dict[str, datetime] = {}
    for tenant, latest in rows:
        if latest is not None:  # max() keeps the column type: an aware datetime
            found[tenant] = latest
    return found


def observation_count(queries: Queries, *, run_id: str | None = None) -> int:
    """Return how many observations are stored (of one pass, when *run_id* is given)."""
    query = select(func.count()).select_from(PostureObservationRow)
    if run_id is not None:
        query = query.where(PostureObservationRow.run_id == run_id)
    with queries._read() as session:
        return int(session.execute(query).scalar_one())


def delete_observations_before(store: Store, before: datetime, *, batch_rows: int = 500) -> int:
    """Delete up to *batch_rows* observations older than *before* that no current fact points
    at; return how many were deleted (call again until 0). Facts and changes are kept."""
    _require_aware(before, "before")
    with store._write() as session:
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
            session.execute(delete(PostureObservationRow).where(PostureObservationRow.id.in_(ids)))
        return len(ids)
