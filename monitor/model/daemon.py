"""What a running daemon says about itself: the one status row per database.

``monitor run`` writes it at start, on its heartbeat (at most once a minute) and at stop;
``monitor report`` reads it to tell whether the daemon is alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# The key of the one row a database's daemon writes (one database, one daemon).
DAEMON_INSTANCE = "daemon"

DaemonState = Literal["running", "stopping", "stopped"]
DAEMON_STATES: tuple[DaemonState, ...] = ("running", "stopping", "stopped")


@dataclass(frozen=True)
class DaemonStatusRecord:
    """What a daemon says about itself (the columns of ``daemon_status``; times aware UTC)."""

    state: str  # one of DAEMON_STATES (a newer monitor may write others)
    pid: int
    hostname: str
    monitor_version: str
    started_at: datetime
    last_beat_at: datetime
    write_interval_seconds: int
    probes_since_start: int = 0
    identities: int = 0
    failing_pairs: int = 0
    last_probe_at: datetime | None = None
    config_path: str | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    instance: str = DAEMON_INSTANCE
