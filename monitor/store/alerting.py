"""The alerting tables: incidents, transitions, silences, the outbox and delivery attempts.

Evaluation runs inside one ``BEGIN IMMEDIATE`` transaction through
:meth:`AlertingRepository.unit`, which hands out an :class:`AlertingUnit`: reads, incident
writes, transitions and outbox rows all commit together or not at all. Delivery never holds a
transaction across network I/O: it claims rows (one short transaction), sends, then records the
outcome (another).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.model.incidents import IncidentRecord, SilenceRecord, TransitionRecord
from monitor.model.outbox import (
    DeliveryAttemptRecord,
    NewOutbox,
    OutboxOutcome,
    OutboxRecord,
    OutboxWork,
    UrlAttempt,
)
from monitor.store.database import Database
from monitor.store.mapping import RecordMap, column, details, details_json
from monitor.store.models.alerting import (
    DeliveryAttemptRow,
    IncidentRow,
    IncidentTransitionRow,
    OutboxRow,
    SilenceRow,
)

INCIDENT = RecordMap(
    IncidentRecord,
    read={"details": column("details", details)},
    write={"details": lambda incident: details_json(incident.details)},
)
TRANSITION = RecordMap(TransitionRecord)
SILENCE = RecordMap(SilenceRecord)
OUTBOX = RecordMap(OutboxRecord)
ATTEMPT = RecordMap(DeliveryAttemptRecord)
NEW_OUTBOX = RecordMap(NewOutbox)
URL_ATTEMPT = RecordMap(UrlAttempt)
_KEY = frozenset({"id"})


class AlertingUnit:
    """The alerting reads and writes of one open ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def open_incidents(self) -> list[IncidentRecord]:
        query = (
            select(IncidentRow).where(IncidentRow.resolved_at.is_(None)).order_by(IncidentRow.id)
        )
        return [INCIDENT.to_record(row) for row in self._session.scalars(query)]

    def owing_resolved_incidents(self) -> list[IncidentRecord]:
        """Return resolved incidents whose resolved notice still waits for a silence to end."""
        query = (
            select(IncidentRow)
            .where(IncidentRow.resolved_at.is_not(None), IncidentRow.owed.is_not(None))
            .order_by(IncidentRow.id)
        )
        return [INCIDENT.to_record(row) for row in self._session.scalars(query)]

    def active_silences(self, now: datetime) -> list[SilenceRecord]:
        query = select(SilenceRow).where(
            SilenceRow.removed_at.is_(None), SilenceRow.starts_at <= now, SilenceRow.until > now
        )
        return [SILENCE.to_record(row) for row in self._session.scalars(query)]

    def save_incident(self, record: IncidentRecord) -> IncidentRecord:
        """Insert (``id`` None) or update an incident; return it with its id."""
        if record.id is None:
            row = IncidentRow()
            self._session.add(row)
        else:
            found = self._session.get(IncidentRow, record.id)
            if found is None:
                raise ValueError(f"no incident {record.id} to update")
            row = found
        INCIDENT.fill(row, record, exclude=_KEY)
        self._session.flush()
        return replace(record, id=row.id)

    def add_transition(
        self,
        incident_id: int,
        *,
        at: datetime,
        event: str,
        level: str,
        rung: int | None = None,
        notified: bool = False,
        note: str = "",
    ) -> None:
        self._session.add(
            IncidentTransitionRow(
                incident_id=incident_id,
                at=at,
                event=event,
                level=level,
                rung=rung,
                notified=notified,
                note=note,
            )
        )

    def enqueue(self, rows: Sequence[NewOutbox], now: datetime) -> int:
        """Write outbox rows, skipping any whose (dedup_key, channel) exists; return how many
        were written."""
        written = 0
        for new in rows:
            statement = (
                sqlite_insert(OutboxRow)
                .values(
                    **NEW_OUTBOX.to_values(new),
                    created_at=now,
                    attempts=0,
                    status="pending",
                    delivered_urls=0,
                )
                .on_conflict_do_nothing(index_elements=["dedup_key", "channel"])
            )
            result = self._session.execute(statement)
            written += int(getattr(result, "rowcount", 0) or 0)
        return written

    def supersede_pending(self, incident_id: int, now: datetime) -> list[str]:
        """Mark the incident's undelivered pending rows superseded; return their channels."""
        rows = self._session.scalars(
            select(OutboxRow).where(
                OutboxRow.incident_id == incident_id, OutboxRow.status == "pending"
            )
        ).all()
        for row in rows:
            row.status = "superseded"
            row.finished_at = now
        return sorted({row.channel for row in rows})

    def expired_rows(self, created_before: datetime) -> list[OutboxRecord]:
        """Return pending rows created before *created_before* (candidates for dead letters)."""
        query = (
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.created_at < created_before)
            .order_by(OutboxRow.id)
        )
        return [OUTBOX.to_record(row) for row in self._session.scalars(query)]

    def pending_rows(self, channel: str) -> list[OutboxRecord]:
        query = (
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.channel == channel)
            .order_by(OutboxRow.id)
        )
        return [OUTBOX.to_record(row) for row in self._session.scalars(query)]

    def channels_with_pending(self) -> list[str]:
        query = select(OutboxRow.channel).where(OutboxRow.status == "pending").distinct()
        return sorted(self._session.scalars(query))

    def mark_dead(self, outbox_ids: Sequence[int], now: datetime, error: str) -> None:
        if not outbox_ids:
            return
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(list(outbox_ids)), OutboxRow.status == "pending")
            .values(status="dead", finished_at=now, last_error=error)
        )


class AlertingRepository:
    """Reads and writes of the alerting tables; every method is one short transaction, except
    :meth:`unit`, which hands out the transaction of one evaluation."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def incidents(
        self,
        *,
        open_only: bool = False,
        identity: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[IncidentRecord]:
        """Return incidents, newest first; *since* keeps those open at or after that time."""
        query = select(IncidentRow).order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc())
        if open_only:
            query = query.where(IncidentRow.resolved_at.is_(None))
        if identity is not None:
            query = query.where(IncidentRow.identity == identity)
        if since is not None:
            query = query.where(
                or_(IncidentRow.resolved_at.is_(None), IncidentRow.resolved_at >= since)
            )
        if limit is not None:
            query = query.limit(limit)
        with self._database.read() as session:
            return [INCIDENT.to_record(row) for row in session.scalars(query)]

    def incident(self, incident_id: int) -> IncidentRecord | None:
        with self._database.read() as session:
            row = session.get(IncidentRow, incident_id)
            return None if row is None else INCIDENT.to_record(row)

    def incident_transitions(self, incident_id: int | None = None) -> list[TransitionRecord]:
        """Return transitions in time order, of one incident or of all."""
        query = select(IncidentTransitionRow).order_by(
            IncidentTransitionRow.at, IncidentTransitionRow.id
        )
        if incident_id is not None:
            query = query.where(IncidentTransitionRow.incident_id == incident_id)
        with self._database.read() as session:
            return [TRANSITION.to_record(row) for row in session.scalars(query)]

    def silences(self, *, now: datetime | None = None) -> list[SilenceRecord]:
        """Return silences ordered by id; with *now*, only those not removed and not over."""
        query = select(SilenceRow).order_by(SilenceRow.id)
        if now is not None:
            query = query.where(SilenceRow.removed_at.is_(None), SilenceRow.until > now)
        with self._database.read() as session:
            return [SILENCE.to_record(row) for row in session.scalars(query)]

    def outbox(
        self, *, status: str | None = None, channel: str | None = None, limit: int | None = None
    ) -> list[OutboxRecord]:
        """Return outbox rows ordered by id."""
        query = select(OutboxRow).order_by(OutboxRow.id)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        if channel is not None:
            query = query.where(OutboxRow.channel == channel)
        if limit is not None:
            query = query.limit(limit)
        with self._database.read() as session:
            return [OUTBOX.to_record(row) for row in session.scalars(query)]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """Return the number of outbox rows per (channel, status)."""
        query = select(OutboxRow.channel, OutboxRow.status, func.count()).group_by(
            OutboxRow.channel, OutboxRow.status
        )
        with self._database.read() as session:
            return {(channel, status): count for channel, status, count in session.execute(query)}

    def outbox_work(self, now: datetime, created_before: datetime) -> OutboxWork:
        """Return what a dispatch at *now* has to do (rows created before *created_before* and
        still pending are past their maximum age). One read; nothing is locked."""
        with self._database.read() as session:
            recoverable = session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.status == "sending", OutboxRow.lease_until < now)
            )
            pending = session.execute(
                select(
                    OutboxRow.channel,
                    func.min(OutboxRow.not_before),
                    func.min(OutboxRow.created_at),
                )
                .where(OutboxRow.status == "pending")
                .group_by(OutboxRow.channel)
            ).all()
        due = frozenset(channel for channel, first_due, _ in pending if first_due <= now)
        expired = any(oldest < created_before for _, _, oldest in pending)
        return OutboxWork(
            recoverable=bool(recoverable),
            expired=expired,
            pending_channels=frozenset(channel for channel, _, _ in pending),
            due_channels=due,
        )

    def delivery_attempts(self, outbox_id: int | None = None) -> list[DeliveryAttemptRecord]:
        query = select(DeliveryAttemptRow).order_by(DeliveryAttemptRow.id)
        if outbox_id is not None:
            query = query.where(DeliveryAttemptRow.outbox_id == outbox_id)
        with self._database.read() as session:
            return [ATTEMPT.to_record(row) for row in session.scalars(query)]

    # --- writes --------------------------------------------------------------------------------

    @contextmanager
    def unit(self) -> Iterator[AlertingUnit]:
        """Yield an :class:`AlertingUnit` inside one ``BEGIN IMMEDIATE`` transaction, committed
        when the block ends without an exception and rolled back otherwise."""
        with self._database.write() as session:
            yield AlertingUnit(session)

    def recover_outbox_leases(self, now: datetime) -> int:
        """Put rows whose sender died (lease expired while ``sending``) back to ``pending``;
        return how many. Their next try is due at once."""
        with self._database.write() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == "sending", OutboxRow.lease_until < now)
                .values(
                    status="pending",
                    lease_until=None,
                    not_before=now,
                    last_error="the sender stopped during delivery (lease expired)",
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def claim_outbox(
        self, channel: str, now: datetime, lease_until: datetime, *, limit: int
    ) -> list[OutboxRecord]:
        """Claim up to *limit* due pending rows of *channel* (oldest first) until *lease_until*;
        return them. Each claim counts as an attempt."""
        with self._database.write() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.channel == channel,
                    OutboxRow.status == "pending",
                    OutboxRow.not_before <= now,
                )
                .order_by(OutboxRow.not_before, OutboxRow.id)
                .limit(limit)
            ).all()
            for row in rows:
                row.status = "sending"
                row.lease_until = lease_until
                row.attempts += 1
            session.flush()
            return [OUTBOX.to_record(row) for row in rows]

    def finish_outbox(self, outcomes: Sequence[OutboxOutcome], now: datetime) -> None:
        """Record what happened to claimed rows: an attempt row per URL tried; delivered URLs
        added to the row's mask; ``sent`` when every URL has it, else ``pending`` again until
        ``retry_at``. A row no longer ``sending`` (recovered by another process) only gets its
        attempts and mask recorded."""
        with self._database.write() as session:
            for outcome in outcomes:
                row = session.get(OutboxRow, outcome.outbox_id)
                if row is None:
                    continue
                for attempt in outcome.attempts:
                    session.add(
                        DeliveryAttemptRow(
                            outbox_id=row.id, at=now, **URL_ATTEMPT.to_values(attempt)
                        )
                    )
                    if attempt.ok:
                        row.delivered_urls |= 1 << attempt.url_index
                errors = [a.error for a in outcome.attempts if not a.ok and a.error]
                if errors:
                    row.last_error = "; ".join(dict.fromkeys(errors))
                if row.status != "sending":
                    continue
                row.lease_until = None
                if outcome.all_delivered:
                    row.status = "sent"
                    row.sent_at = now
                    row.finished_at = now
                else:
                    row.status = "pending"
                    row.not_before = outcome.retry_at or now

    def add_silence(
        self,
        *,
        identity: str | None = None,
        tag: str | None = None,
        tenant: str | None = None,
        starts_at: datetime,
        until: datetime,
        reason: str,
        created_by: str | None,
    ) -> SilenceRecord:
        """Store a silence for exactly one of *identity*, *tag*, *tenant*; return it."""
        if sum(value is not None for value in (identity, tag, tenant)) != 1:
            raise ValueError("a silence is for exactly one identity, tag or tenant")
        if until <= starts_at:
            raise ValueError("a silence must end after it starts")
        with self._database.write() as session:
            row = SilenceRow(
                identity=identity,
                tag=tag,
                tenant=tenant,
                starts_at=starts_at,
                until=until,
                reason=reason,
                created_at=starts_at,
                created_by=created_by,
            )
            session.add(row)
            session.flush()
            return SILENCE.to_record(row)

    def remove_silence(self, silence_id: int, now: datetime) -> SilenceRecord | None:
        """End a silence now; return it (None if there is no such silence)."""
        with self._database.write() as session:
            row = session.get(SilenceRow, silence_id)
            if row is None:
                return None
            if row.removed_at is None:
                row.removed_at = now
            session.flush()
            return SILENCE.to_record(row)

    def acknowledge_incident(
        self, incident_id: int, *, at: datetime, by: str | None, note: str | None
    ) -> IncidentRecord | None:
        """Mark an incident acknowledged (no more reminders) and record the transition; return
        it, or None if there is no such incident. Acknowledging again updates who and why."""
        with self._database.write() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                return None
            row.acknowledged_at = at
            row.acknowledged_by = by
            row.acknowledgement_note = note
            session.add(
                IncidentTransitionRow(
                    incident_id=incident_id,
                    at=at,
                    event="acknowledged",
                    level=row.level,
                    rung=None,
                    notified=False,
                    note=f"by {by}" + (f": {note}" if note else "") if by else (note or ""),
                )
            )
            session.flush()
            return INCIDENT.to_record(row)

    def requeue_dead(self, now: datetime, *, channel: str | None = None) -> int:
        """Put dead rows back to pending (after an operator fixed a channel); return how many.
        Their age restarts now, so they get a full delivery window again."""
        with self._database.write() as session:
            conditions = [OutboxRow.status == "dead"]
            if channel is not None:
                conditions.append(OutboxRow.channel == channel)
            result = session.execute(
                update(OutboxRow)
                .where(and_(*conditions))
                .values(status="pending", not_before=now, created_at=now, finished_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)
