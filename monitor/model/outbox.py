"""The durable outbox: one row per notice and channel, and what each delivery attempt did.

Evaluation writes :class:`NewOutbox` rows in the incident's transaction; dispatch claims them,
sends outside any transaction and reports an :class:`OutboxOutcome` per row. Times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
