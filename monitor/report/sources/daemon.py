"""The daemon's own status row, and the verdict on it: is ``monitor run`` alive?

Reads the newest ``daemon_status`` row (written by :mod:`monitor.daemon.status`) into the
record the daemon writes, :class:`monitor.model.daemon.DaemonStatusRecord`. A row that says
``running`` or ``stopping`` is *stale* when its heartbeat (``last_beat_at``, the newest write)
is older than :data:`STALE_AFTER_WRITES` write intervals: that daemon crashed, was killed or
hangs (a hung scheduler also stops the systemd watchdog pings, and systemd restarts it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.model.daemon import DaemonStatusRecord
from monitor.report.database import ReportDatabase
from monitor.report.model import DaemonSummary, DaemonVerdict, Level
from monitor.report.sources.base import Unavailable, read_table, record_columns, to_record

REQUIRES = "requires the daemon migration 0004_daemon"
MISSING = f"the daemon's status is not recorded in this database ({REQUIRES})"

COLUMNS = record_columns("daemon_status", DaemonStatusRecord)
TIMES = ("started_at", "last_beat_at", "last_probe_at", "stopped_at")

# A running daemon rewrites its row every write interval (60 s); three missed writes is dead.
STALE_AFTER_WRITES = 3
DEFAULT_WRITE_INTERVAL_SECONDS = 60


def status_row(database: ReportDatabase) -> DaemonStatusRecord | Unavailable | None:
    """Return the row with the newest heartbeat, None if no daemon ever wrote one."""
    rows = read_table(
        database, "daemon_status", COLUMNS, MISSING, " ORDER BY last_beat_at DESC LIMIT 1"
    )
    if isinstance(rows, Unavailable):
        return rows
    return to_record(DaemonStatusRecord, COLUMNS, rows[0], times=TIMES) if rows else None


def summary(database: ReportDatabase, now: datetime) -> DaemonSummary:
    """Return the verdict on the daemon at *now*: running or stopping (a fresh heartbeat), not
    running (a clean stop, or a stale heartbeat without one), never ran (no row), or unknown (no
    status table)."""
    found = status_row(database)
    if isinstance(found, Unavailable):
        return DaemonSummary("unknown", "unknown", note=found.note)
    if found is None:
        return DaemonSummary("never_ran", "none")
    return judge(found, now)


def judge(row: DaemonStatusRecord, now: datetime) -> DaemonSummary:
    """Return the verdict on *row* at *now* (see :func:`summary`)."""
    interval = max(1, row.write_interval_seconds or DEFAULT_WRITE_INTERVAL_SECONDS)
    stale_after = timedelta(seconds=interval * STALE_AFTER_WRITES)
    since_beat = now - row.last_beat_at
    stale = since_beat > stale_after
    verdict: DaemonVerdict
    level: Level
    if row.state == "stopped":
        verdict, level = "not_running", "warning"
    elif stale:
        verdict, level = "not_running", "critical"
    elif row.state == "stopping":
        verdict, level = "stopping", "info"
    elif row.state == "running":
        verdict, level = "running", "ok"
    else:  # a state a newer monitor wrote: say what it says, claim nothing
        verdict, level = "unknown", "unknown"
    return DaemonSummary(
        verdict,
        level,
        status=row,
        stale=stale and row.state != "stopped",
        since_beat=since_beat,
        stale_after=stale_after,
        note=None
        if verdict != "unknown"
        else f"the daemon recorded the state {row.state!r}, which this report does not know",
    )
