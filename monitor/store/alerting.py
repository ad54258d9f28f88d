"""Store methods and records for alerting: incidents, transitions, silences, outbox, attempts.

:class:`AlertingQueries` (reads, also on the read-only :class:`~monitor.store.Reader`) and
:class:`AlertingWriter` (writes, on :class:`~monitor.store.Store`) are mixins: they use the
``_read`` / ``_write`` sessions of the class they are mixed into. Evaluation runs inside one
``BEGIN IMMEDIATE`` transaction through :meth:`AlertingWriter.alerting_unit`, which hands out an
:class:`AlertingUnit`: reads, incident writes, transitions and outbox rows all commit together or
not at all. Delivery never holds a transaction across network I/O: it claims rows (one short
transaction), sends, then records the outcome (another).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.store.models import IdentityStateRow, ProbeResultRow, StateChangeRow
from monitor.store.models_alerting import (
    DeliveryAttemptRow,
    IncidentRow,
    IncidentTransitionRow,
    OutboxRow,
    SilenceRow,
)

OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "superseded")
INCIDENT_PREFIX = "CM-"


def incident_label(incident_id: int) -> str:
    """Return how people see an incident id: ``CM-42``."""
    return f"{INCIDENT_PREFIX}{incident_id}"


def parse_incident_label(text: str) -> int:
    """Given ``CM-42``, ``cm-42`` or ``42``, return 42. Raise ValueError for anything else."""
    value = text.strip()
    if value.upper().startswith(INCIDENT_PREFIX):
        value = value[len(INCIDENT_PREFIX) :]
    if not value.isdigit():
        raise ValueError(f"not an incident id: {text!r} (expected e.g. CM-42)")
    return int(value)


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored (``id`` None before it is first written). Times are aware UTC."""

    id: int | None
    key: str
    kind: str
    level: str
    tenant: str
    identity: str | None
    environment: str | None
    subject: str
    summary: str
    remedy: str
    source: str
    deadline: datetime | None
    opened_at: datetime
    observed_at: datetime
    details: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledgement_note: str | None = None
    notified_at: datetime | None = None
    notified_level: str | None = None
    ladder_rung: int | None = None
    next_notice_at: datetime | None = None
    owed: str | None = None

    @property
    def label(self) -> str:
        return "CM-?" if self.id is None else incident_label(self.id)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class TransitionRecord:
    id: int
    incident_id: int
    at: datetime
    event: str
    level: str
    rung: int | None
    notified: bool
    note: str


@dataclass(frozen=True)
class SilenceRecord:
    """Notifications wait for incidents of ``identity``, of identities tagged ``tag``, or of
    ``tenant`` (exactly one is set) from ``starts_at`` until ``until``."""

    id: int
    identity: str | None
    tag: str | None
    tenant: str | None
    starts_at: datetime
    until: datetime
    reason: str
    created_at: datetime
    created_by: str | None
    removed_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.removed_at is None and self.starts_at <= now < self.until

    @property
    def scope(self) -> str:
        if self.identity is not None:
            return f"identity {self.identity}"
        if self.tag is not None:
            return f"tag {self.tag}"
        return f"tenant {self.tenant}"


@dataclass(frozen=True)
class NewOutbox:
    """An outbox row to write: one notice for one channel."""

    dedup_key: str
    channel: str
    incident_id: int | None
    event: str
    level: str
    notice: str  # JSON, rendered content only
    not_before: datetime


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    dedup_key: str
    channel: str
    incident_id: int | None
    event: str
    level: str
    notice: str
    created_at: datetime
    not_before: datetime
    attempts: int
    status: str
    lease_until: datetime | None
    last_error: str | None
    delivered_urls: int
    sent_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class DeliveryAttemptRecord:
    id: int
    outbox_id: int
    at: datetime
    url_index: int
    ok: bool
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class UrlAttempt:
    """The outcome of sending to one URL of a channel (what dispatch reports back)."""

    url_index: int
    ok: bool
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class OutboxOutcome:
    """What happened to one claimed row: the attempts per URL, and when to retry if not all
    URLs have it now (None when every URL has it)."""

    outbox_id: int
    attempts: tuple[UrlAttempt, ...]
    all_delivered: bool
    retry_at: datetime | None


@dataclass(frozen=True)
class OutboxWork:
    """What a dispatcher has to do at a moment, found with one read: leases to recover, rows
    past the maximum age, channels with pending rows and those with rows due now."""

    recoverable: bool
    expired: bool
    pending_channels: frozenset[str]
    due_channels: frozenset[str]


@dataclass(frozen=True)
class ProbeHistory:
    """What the probe rules need beyond the current state of an identity in an environment.

    ``failing_since`` is when the current run of failures began (the change from ok, or the first
    result), whatever classes the failures had since; ``recovered_from`` is the outcome the
    newest change to ok came from. ``aadsts_code`` / ``http_status`` / ``correlation_id`` /
    ``stage`` belong to the newest result.
    """

    identity: str
    environment: str
    failing_since: datetime | None = None
    recovered_from: str | None = None
    aadsts_code: int | None = None
    http_status: int | None = None
    correlation_id: str | None = None
    stage: str | None = None
    message: str | None = None  # of the newest result (names e.g. a missing privilege)


# --- reads ---------------------------------------------------------------------------------


class AlertingQueries:
    """Reads of the alerting tables (mixed into the store's reader and writer)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Session]: ...

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
        with self._read() as session:
            return [_incident_record(row) for row in session.scalars(query)]

    def incident(self, incident_id: int) -> IncidentRecord | None:
        with self._read() as session:
            row = session.get(IncidentRow, incident_id)
            return None if row is None else _incident_record(row)

    def incident_transitions(self, incident_id: int | None = None) -> list[TransitionRecord]:
        """Return transitions in time order, of one incident or of all."""
        query = select(IncidentTransitionRow).order_by(
            IncidentTransitionRow.at, IncidentTransitionRow.id
        )
        if incident_id is not None:
            query = query.where(IncidentTransitionRow.incident_id == incident_id)
        with self._read() as session:
            return [_transition_record(row) for row in session.scalars(query)]

    def silences(self, *, now: datetime | None = None) -> list[SilenceRecord]:
        """Return silences ordered by id; with *now*, only those not removed and not over."""
        query = select(SilenceRow).order_by(SilenceRow.id)
        if now is not None:
            query = query.where(SilenceRow.removed_at.is_(None), SilenceRow.until > now)
        with self._read() as session:
            return [_silence_record(row) for row in session.scalars(query)]

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
        with self._read() as session:
            return [_outbox_record(row) for row in session.scalars(query)]

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        """Return the number of outbox rows per (channel, status)."""
        query = select(OutboxRow.channel, OutboxRow.status, func.count()).group_by(
            OutboxRow.channel, OutboxRow.status
        )
        with self._read() as session:
            return {(channel, status): count for channel, status, count in session.execute(query)}

    def outbox_work(self, now: datetime, created_before: datetime) -> OutboxWork:
        """Return what a dispatch at *now* has to do (rows created before *created_before* and
        still pending are past their maximum age). One read; nothing is locked."""
        with self._read() as session:
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
        with self._read() as session:
            return [_attempt_record(row) for row in session.scalars(query)]

    def probe_history(self) -> dict[tuple[str, str], ProbeHistory]:
        """Return, per identity and environment seen, the failure run and the newest result's
        codes (see :class:`ProbeHistory`)."""
        with self._read() as session:
            return _probe_history(session)


# --- writes --------------------------------------------------------------------------------


class AlertingUnit:
    """The alerting reads and writes of one open ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def open_incidents(self) -> list[IncidentRecord]:
        query = (
            select(IncidentRow).where(IncidentRow.resolved_at.is_(None)).order_by(IncidentRow.id)
        )
        return [_incident_record(row) for row in self._session.scalars(query)]

    def owing_resolved_incidents(self) -> list[IncidentRecord]:
        """Return resolved incidents whose resolved notice still waits for a silence to end."""
        query = (
            select(IncidentRow)
            .where(IncidentRow.resolved_at.is_not(None), IncidentRow.owed.is_not(None))
            .order_by(IncidentRow.id)
        )
        return [_incident_record(row) for row in self._session.scalars(query)]

    def active_silences(self, now: datetime) -> list[SilenceRecord]:
        query = select(SilenceRow).where(
            SilenceRow.removed_at.is_(None), SilenceRow.starts_at <= now, SilenceRow.until > now
        )
        return [_silence_record(row) for row in self._session.scalars(query)]

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
        _copy_incident(record, row)
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
                    dedup_key=new.dedup_key,
                    channel=new.channel,
                    incident_id=new.incident_id,
                    event=new.event,
                    level=new.level,
                    notice=new.notice,
                    created_at=now,
                    not_before=new.not_before,
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
        return [_outbox_record(row) for row in self._session.scalars(query)]

    def pending_rows(self, channel: str) -> list[OutboxRecord]:
        query = (
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.channel == channel)
            .order_by(OutboxRow.id)
        )
        return [_outbox_record(row) for row in self._session.scalars(query)]

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


class AlertingWriter:
    """Writes of the alerting tables (mixed into :class:`~monitor.store.Store`)."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Session]: ...

    @contextmanager
    def alerting_unit(self) -> Iterator[AlertingUnit]:
        """Yield an :class:`AlertingUnit` inside one ``BEGIN IMMEDIATE`` transaction, committed
        when the block ends without an exception and rolled back otherwise."""
        with self._write() as session:
            yield AlertingUnit(session)

    def recover_outbox_leases(self, now: datetime) -> int:
        """Put rows whose sender died (lease expired while ``sending``) back to ``pending``;
        return how many. Their next try is due at once."""
        with self._write() as session:
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
        with self._write() as session:
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
            return [_outbox_record(row) for row in rows]

    def finish_outbox(self, outcomes: Sequence[OutboxOutcome], now: datetime) -> None:
        """Record what happened to claimed rows: an attempt row per URL tried; delivered URLs
        added to the row's mask; ``sent`` when every URL has it, else ``pending`` again until
        ``retry_at``. A row no longer ``sending`` (recovered by another process) only gets its
        attempts and mask recorded."""
        with self._write() as session:
            for outcome in outcomes:
                row = session.get(OutboxRow, outcome.outbox_id)
                if row is None:
                    continue
                for attempt in outcome.attempts:
                    session.add(
                        DeliveryAttemptRow(
                            outbox_id=row.id,
                            at=now,
                            url_index=attempt.url_index,
                            ok=attempt.ok,
                            error=attempt.error,
                            duration_ms=attempt.duration_ms,
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
        with self._write() as session:
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
            return _silence_record(row)

    def remove_silence(self, silence_id: int, now: datetime) -> SilenceRecord | None:
        """End a silence now; return it (None if there is no such silence)."""
        with self._write() as session:
            row = session.get(SilenceRow, silence_id)
            if row is None:
                return None
            if row.removed_at is None:
                row.removed_at = now
            session.flush()
            return _silence_record(row)

    def acknowledge_incident(
        self, incident_id: int, *, at: datetime, by: str | None, note: str | None
    ) -> IncidentRecord | None:
        """Mark an incident acknowledged (no more reminders) and record the transition; return
        it, or None if there is no such incident. Acknowledging again updates who and why."""
        with self._write() as session:
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
            return _incident_record(row)

    def requeue_dead(self, now: datetime, *, channel: str | None = None) -> int:
        """Put dead rows back to pending (after an operator fixed a channel); return how many.
        Their age restarts now, so they get a full delivery window again."""
        with self._write() as session:
            conditions = [OutboxRow.status == "dead"]
            if channel is not None:
                conditions.append(OutboxRow.channel == channel)
            result = session.execute(
                update(OutboxRow)
                .where(and_(*conditions))
                .values(status="pending", not_before=now, created_at=now, finished_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)


# --- queries and conversions ---------------------------------------------------------------


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


def _details_json(details: Mapping[str, object]) -> str:
    return json.dumps(dict(details), default=str, sort_keys=True)


def _details(text: str | None) -> Mapping[str, object]:
    if not text:
        return MappingProxyType({})
    try:
        value: Any = json.loads(text)
    except ValueError:
        return MappingProxyType({})
    return MappingProxyType(value if isinstance(value, dict) else {})


def _copy_incident(record: IncidentRecord, row: IncidentRow) -> None:
    row.key = record.key
    row.kind = record.kind
    row.level = record.level
    row.tenant = record.tenant
    row.identity = record.identity
    row.environment = record.environment
    row.subject = record.subject
    row.summary = record.summary
    row.remedy = record.remedy
    row.source = record.source
    row.details = _details_json(record.details)
    row.deadline = record.deadline
    row.opened_at = record.opened_at
    row.observed_at = record.observed_at
    row.resolved_at = record.resolved_at
    row.acknowledged_at = record.acknowledged_at
    row.acknowledged_by = record.acknowledged_by
    row.acknowledgement_note = record.acknowledgement_note
    row.notified_at = record.notified_at
    row.notified_level = record.notified_level
    row.ladder_rung = record.ladder_rung
    row.next_notice_at = record.next_notice_at
    row.owed = record.owed


def _incident_record(row: IncidentRow) -> IncidentRecord:
    return IncidentRecord(
        id=row.id,
        key=row.key,
        kind=row.kind,
        level=row.level,
        tenant=row.tenant,
        identity=row.identity,
        environment=row.environment,
        subject=row.subject,
        summary=row.summary,
        remedy=row.remedy,
        source=row.source,
        details=_details(row.details),
        deadline=row.deadline,
        opened_at=row.opened_at,
        observed_at=row.observed_at,
        resolved_at=row.resolved_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        acknowledgement_note=row.acknowledgement_note,
        notified_at=row.notified_at,
        notified_level=row.notified_level,
        ladder_rung=row.ladder_rung,
        next_notice_at=row.next_notice_at,
        owed=row.owed,
    )


def _transition_record(row: IncidentTransitionRow) -> TransitionRecord:
    return TransitionRecord(
        id=row.id,
        incident_id=row.incident_id,
        at=row.at,
        event=row.event,
        level=row.level,
        rung=row.rung,
        notified=row.notified,
        note=row.note,
    )


def _silence_record(row: SilenceRow) -> SilenceRecord:
    return SilenceRecord(
        id=row.id,
        identity=row.identity,
        tag=row.tag,
        tenant=row.tenant,
        starts_at=row.starts_at,
        until=row.until,
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
        removed_at=row.removed_at,
    )


def _outbox_record(row: OutboxRow) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        dedup_key=row.dedup_key,
        channel=row.channel,
        incident_id=row.incident_id,
        event=row.event,
        level=row.level,
        notice=row.notice,
        created_at=row.created_at,
        not_before=row.not_before,
        attempts=row.attempts,
        status=row.status,
        lease_until=row.lease_until,
        last_error=row.last_error,
        delivered_urls=row.delivered_urls,
        sent_at=row.sent_at,
        finished_at=row.finished_at,
    )


def _attempt_record(row: DeliveryAttemptRow) -> DeliveryAttemptRecord:
    return DeliveryAttemptRecord(
        id=row.id,
        outbox_id=row.outbox_id,
        at=row.at,
        url_index=row.url_index,
        ok=row.ok,
        error=row.error,
        duration_ms=row.duration_ms,
    )
