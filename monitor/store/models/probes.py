"""The probe tables: runs, results, the current state of each identity/environment pair, its
changes, daily rollups and lockout guards (migration ``0001``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base


class Run(Base):
    """One pass of probes; ``run_id`` is the UUID that also appears in the log lines."""

    __tablename__ = "run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    probes: Mapped[int] = mapped_column(default=0)
    ok: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    monitor_version: Mapped[str] = mapped_column(String(32))


class ProbeResultRow(Base):
    """One probe of one identity in one environment (see :class:`monitor.probes.base.ProbeResult`).

    ``attempted`` is False for held results: no sign-in was tried and ``outcome`` repeats the
    answer that caused the hold.
    """

    __tablename__ = "probe_result"
    __table_args__ = (
        Index(None, "identity", "environment", "started_at"),
        Index(None, "started_at"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    identity: Mapped[str]
    environment: Mapped[str]
    tenant: Mapped[str]
    credential_type: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    duration_ms: Mapped[int]
    outcome: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    attempted: Mapped[bool]
    message: Mapped[str] = mapped_column(Text)
    aadsts_code: Mapped[int | None]
    oauth_error: Mapped[str | None]
    http_status: Mapped[int | None]
    dataverse_error_code: Mapped[str | None]
    correlation_id: Mapped[str | None]
    trace_id: Mapped[str | None]
    token_source: Mapped[str | None] = mapped_column(String(32))
    ratelimit_burst_remaining: Mapped[int | None]
    ratelimit_time_remaining: Mapped[int | None]
    retry_after_seconds: Mapped[int | None]
    credential_fingerprint: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(36))
    organization_id: Mapped[str | None] = mapped_column(String(36))


class IdentityStateRow(Base):
    """The current state of one identity in one environment (one row each)."""

    __tablename__ = "identity_state"
    __table_args__ = (Index(None, "last_result_id"),)

    identity: Mapped[str] = mapped_column(primary_key=True)
    environment: Mapped[str] = mapped_column(primary_key=True)
    tenant: Mapped[str]
    credential_type: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    since: Mapped[datetime]
    last_probe_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    consecutive_successes: Mapped[int] = mapped_column(default=0)
    credential_fingerprint: Mapped[str | None] = mapped_column(String(64))
    last_result_id: Mapped[int | None] = mapped_column(
        ForeignKey("probe_result.id", ondelete="SET NULL")
    )


class StateChangeRow(Base):
    """A change of outcome (a "flip"); kept when retention deletes the raw results."""

    __tablename__ = "state_change"
    __table_args__ = (
        Index(None, "identity", "environment", "at"),
        Index(None, "at"),
        Index(None, "result_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str]
    environment: Mapped[str]
    at: Mapped[datetime]
    from_outcome: Mapped[str | None] = mapped_column(String(32))
    to_outcome: Mapped[str] = mapped_column(String(32))
    result_id: Mapped[int | None] = mapped_column(
        ForeignKey("probe_result.id", ondelete="SET NULL")
    )


class LockoutGuardRow(Base):
    """A hold on sign-ins for one identity (see :class:`monitor.model.probes.LockoutGuard`)."""

    __tablename__ = "lockout_guard"

    identity: Mapped[str] = mapped_column(primary_key=True)
    credential_fingerprint: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    aadsts_code: Mapped[int | None]
    since: Mapped[datetime]
    hold_until: Mapped[datetime | None]
    cooldown_seconds: Mapped[int | None]
    blocked_attempts: Mapped[int] = mapped_column(default=0)
    last_blocked_at: Mapped[datetime | None]
    forced_at: Mapped[datetime | None]


class ProbeStatsDailyRow(Base):
    """Per identity, environment and UTC day: result counts by outcome nature and durations.

    Upserted in the same transaction as the results, so reports over a year read ~365 rows per
    identity instead of ~35,000 raw results, and the rollup outlives raw-result retention.
    """

    __tablename__ = "probe_stats_daily"
    __table_args__ = (
        UniqueConstraint("identity", "environment", "day"),
        Index(None, "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str]
    environment: Mapped[str]
    day: Mapped[date]
    ok: Mapped[int] = mapped_column(default=0)
    definitive: Mapped[int] = mapped_column(default=0)
    transient: Mapped[int] = mapped_column(default=0)
    local: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    duration_ms_sum: Mapped[int] = mapped_column(default=0)
    duration_ms_max: Mapped[int] = mapped_column(default=0)
