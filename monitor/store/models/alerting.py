"""The alerting tables: incidents and their transitions, silences, the outbox and its attempts.

Created by the migration ``0002_alerting``. Rules, beyond those of :mod:`monitor.store.models`:

* An incident is one problem over time. At most one incident per finding key is open (a partial
  unique index), so two writers evaluating at once cannot open the same problem twice.
* Every change of an incident is an ``incident_transition`` row; an outbox row is written in the
  same transaction as the transition that asked for it (the transactional outbox).
* The outbox holds one row per notice and channel. ``(dedup_key, channel)`` is unique, so writing
  the same notice twice is a no-op. ``notice`` is the rendered content as JSON; it never holds a
  secret (channel URLs live only in the configuration).
* ``delivery_attempt`` records every try on every URL of a channel, with a short error class
  ("HTTP 500", "connection failed") and never the URL itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base


class IncidentRow(Base):
    """One problem of an identity (or a tenant) from when it was first found until it cleared.

    ``ladder_rung`` is the nearest lead-time rung (days before the deadline; 0 once the deadline
    has passed) already announced; ``next_notice_at`` is when a reminder (or the daily "still
    expired" repeat) is due. ``owed`` names a notice held back by a silence ("opened" or
    "resolved"), sent when the silence ends.
    """

    __tablename__ = "incident"
    __table_args__ = (
        Index(
            "ix_incident_open_key",
            "key",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
        ),
        Index(None, "resolved_at"),
        Index(None, "identity", "opened_at"),
        Index(None, "owed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str]
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str]
    identity: Mapped[str | None]
    environment: Mapped[str | None]
    subject: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    remedy: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, default="{}")
    deadline: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    observed_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None]
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None]
    notified_level: Mapped[str | None] = mapped_column(String(16))
    ladder_rung: Mapped[int | None]
    next_notice_at: Mapped[datetime | None]
    owed: Mapped[str | None] = mapped_column(String(16))


class IncidentTransitionRow(Base):
    """One change of an incident: opened, escalated, a lead-time rung, a reminder, resolved...

    ``notified`` says whether notices were queued for it (False when silenced, acknowledged, or
    no channel takes it).
    """

    __tablename__ = "incident_transition"
    __table_args__ = (Index(None, "incident_id", "at"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    rung: Mapped[int | None]
    notified: Mapped[bool]
    note: Mapped[str] = mapped_column(Text, default="")


class SilenceRow(Base):
    """Notifications for an identity, a tag or a tenant wait until ``until``."""

    __tablename__ = "silence"
    __table_args__ = (Index(None, "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str | None]
    tag: Mapped[str | None]
    tenant: Mapped[str | None]
    starts_at: Mapped[datetime]
    until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None]
    removed_at: Mapped[datetime | None]


class OutboxRow(Base):
    """One notice for one channel, from the transaction that decided it until it is delivered.

    ``status``: pending, sending (claimed until ``lease_until``), sent, dead (gave up after the
    maximum age; the fallback channel was told), superseded (the incident cleared before this
    opening notice went out; the resolved notice says so). ``delivered_urls`` is a bit mask of
    the channel's URLs that already accepted it, so a retry never repeats a delivered URL.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedup_key", "channel"),
        Index(None, "status", "not_before"),
        Index(None, "incident_id"),
        Index(None, "channel", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str]
    channel: Mapped[str]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    notice: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_urls: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DeliveryAttemptRow(Base):
    """One try to deliver one outbox row to one URL of its channel (the notification log)."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (Index(None, "outbox_id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    url_index: Mapped[int]
    ok: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]
