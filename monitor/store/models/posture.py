"""The posture tables: directory observations, the current value of each fact, its changes.

Created by the migrations ``0003_posture`` and ``0006_failed_reads``. One *fact* is
identified by its key ``kind:tenant/identity/environment:subject`` (see
:class:`monitor.model.observations.Observation`):

* ``posture_observation`` keeps every observation of every directory pass (source, time, the
  fact as canonical JSON, or why it was not observed);
* ``posture_fact`` holds the current value of each fact and since when it has had it — the
  table findings are evaluated from;
* ``posture_change`` gets a row whenever a fact's value (or its observability) changes, and
  when a fact disappears (a licence removed, a role revoked, an identity no longer read), so
  history shows *when* it happened even after old observations are deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base


class PostureObservationRow(Base):
    """One observation of one fact by one directory pass."""

    __tablename__ = "posture_observation"
    __table_args__ = (
        Index(None, "fact_key", "observed_at"),
        Index(None, "tenant", "observed_at"),
        Index(None, "observed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36))
    fact_key: Mapped[str]
    kind: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str]
    identity: Mapped[str | None]
    environment: Mapped[str | None]
    subject: Mapped[str]
    source: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime]
    observed: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)  # the fact as canonical JSON


class PostureFactRow(Base):
    """The current value of one fact (one row per fact key)."""

    __tablename__ = "posture_fact"
    __table_args__ = (Index(None, "tenant"), Index(None, "last_observation_id"))

    fact_key: Mapped[str] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str]
    identity: Mapped[str | None]
    environment: Mapped[str | None]
    subject: Mapped[str]
    source: Mapped[str] = mapped_column(String(32))
    observed: Mapped[bool] = mapped_column(Boolean)
    cause: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    since: Mapped[datetime]  # when the current value was first observed
    last_observed_at: Mapped[datetime]
    # Reads in a row that failed (the value, when there is one, is the last known) and when the
    # first of them was; 0 and NULL after a read that succeeded.
    failed_reads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failing_since: Mapped[datetime | None]
    last_observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("posture_observation.id", ondelete="SET NULL")
    )


class PostureChangeRow(Base):
    """A fact changed value (``from_value`` None and ``from_observed`` None: first seen;
    ``to_observed`` None: the fact disappeared)."""

    __tablename__ = "posture_change"
    __table_args__ = (
        Index(None, "fact_key", "at"),
        Index(None, "tenant", "at"),
        Index(None, "at"),
        Index(None, "observation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fact_key: Mapped[str]
    kind: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str]
    identity: Mapped[str | None]
    environment: Mapped[str | None]
    subject: Mapped[str]
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    from_observed: Mapped[bool | None] = mapped_column(Boolean)
    to_observed: Mapped[bool | None] = mapped_column(Boolean)
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    to_cause: Mapped[str | None] = mapped_column(String(32))
    observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("posture_observation.id", ondelete="SET NULL")
    )
