"""The daemon's own status: one row that ``monitor run`` keeps current, read by ``monitor report``.

Created by the migration ``0004_daemon``. The daemon writes the row at start (state
``running``), from its heartbeat job at most once a minute, when it begins to stop
(``stopping``) and when it has stopped (``stopped``); see :mod:`monitor.daemon.status`.

One database belongs to one daemon, so there is one row, keyed ``instance = "daemon"``
(:data:`monitor.store.daemon.DAEMON_INSTANCE`). The key leaves room for more instances later;
readers take the row with the newest heartbeat. A second daemon started by mistake against the
same database overwrites the row, and its ``hostname`` and ``pid`` show which one wrote last.
A row that still says ``running`` but whose ``last_beat_at`` is older than a few
``write_interval_seconds`` belongs to a daemon that crashed, was killed or hangs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base


class DaemonStatusRow(Base):
    """What one daemon instance last said about itself."""

    __tablename__ = "daemon_status"

    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # running, stopping, stopped
    pid: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str]
    monitor_version: Mapped[str] = mapped_column(String(32))
    config_path: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    last_beat_at: Mapped[datetime]  # the time of the newest write: the database heartbeat
    write_interval_seconds: Mapped[int]  # how often the running daemon writes this row
    last_probe_at: Mapped[datetime | None]
    probes_since_start: Mapped[int]
    identities: Mapped[int]  # identities scheduled
    failing_pairs: Mapped[int]  # identity/environment pairs whose latest probe was not ok
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(String(32))  # e.g. SIGTERM
