"""The daemon's own status row, and the verdict on it: is ``monitor run`` alive?

The table this module reads (the contract with :mod:`monitor.daemon.status`; only this module
changes if its shape does):

``daemon_status``
    one row per daemon instance (today one, ``instance = 'daemon'``): ``state`` (``running``,
    ``stopping``, ``stopped``), ``pid``, ``hostname``, ``monitor_version``, ``config_path``,
    ``started_at``, ``last_beat_at`` (the newest write: the database heartbeat),
    ``write_interval_seconds`` (how often a running daemon writes), ``last_probe_at``,
    ``probes_since_start``, ``identities``, ``failing_pairs``, ``stopped_at``, ``stop_reason``.
    Times are integer microseconds since the epoch, UTC.

A row that says ``running`` or ``stopping`` is *stale* when its heartbeat is older than
:data:`STALE_AFTER_WRITES` write intervals: that daemon crashed, was killed or hangs (a hung
scheduler also stops the systemd watchdog pings, and systemd restarts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.model.schema import columns
from monitor.report.database import ReportDatabase
from monitor.report.model import DaemonSummary, DaemonVerdict, Level
from monitor.report.sources.base import Unavailable, check_tables, select, utc

REQUIRES = "requires the daemon migration 0004_daemon"
MISSING = f"the daemon's status is not recorded in this database ({REQUIRES})"

COLUMNS = columns(
    "daemon_status",
    "instance",
    "state",
    "pid",
    "hostname",
    "monitor_version",
    "config_path",
    "started_at",
    "last_beat_at",
    "write_interval_seconds",
    "last_probe_at",
    "probes_since_start",
    "identities",
    "failing_pairs",
    "stopped_at",
    "stop_reason",
)
TABLES = {"daemon_status": COLUMNS}

# A running daemon rewrites its row every write interval (60 s); three missed writes is dead.
STALE_AFTER_WRITES = 3
DEFAULT_WRITE_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class DaemonRow:
    """The newest status row (times aware UTC)."""

    instance: str
    state: str
    pid: int
    hostname: str
    monitor_version: str
    config_path: str | None
    started_at: datetime
    last_beat_at: datetime
    write_interval_seconds: int
    last_probe_at: datetime | None
    probes_since_start: int
    identities: int
    failing_pairs: int
    stopped_at: datetime | None
    stop_reason: str | None


def status_row(database: ReportDatabase) -> DaemonRow | Unavailable | None:
    """Return the row with the newest heartbeat, None if no daemon ever wrote one."""
    missing = check_tables(database, TABLES, MISSING)
    if missing is not None:
        return missing
    row = database.connection.execute(
        select("daemon_status", COLUMNS) + " ORDER BY last_beat_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    (
        instance,
        state,
        pid,
        hostname,
        version,
        config_path,
        started_at,
        last_beat_at,
        interval,
        last_probe_at,
        probes,
        identities,
        failing,
        stopped_at,
        stop_reason,
    ) = row
    started = utc(started_at)
    beat = utc(last_beat_at)
    assert started is not None  # NOT NULL columns
    assert beat is not None
    return DaemonRow(
        instance=str(instance),
        state=str(state),
        pid=int(pid),
        hostname=str(hostname),
        monitor_version=str(version),
        config_path=config_path,
        started_at=started,
        last_beat_at=beat,
        write_interval_seconds=int(interval or DEFAULT_WRITE_INTERVAL_SECONDS),
        last_probe_at=utc(last_probe_at),
        probes_since_start=int(probes or 0),
        identities=int(identities or 0),
        failing_pairs=int(failing or 0),
        stopped_at=utc(stopped_at),
        stop_reason=stop_reason,
    )


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


def judge(row: DaemonRow, now: datetime) -> DaemonSummary:
    """Return the verdict on *row* at *now* (see :func:`summary`)."""
    interval = max(1, row.write_interval_seconds)
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
        verdict, level = "stopping", "notice"
    elif row.state == "running":
        verdict, level = "running", "ok"
    else:  # a state a newer monitor wrote: say what it says, claim nothing
        verdict, level = "unknown", "unknown"
    return DaemonSummary(
        verdict,
        level,
        state=row.state,
        stale=stale and row.state != "stopped",
        since_beat=since_beat,
        stale_after=stale_after,
        hostname=row.hostname,
        pid=row.pid,
        monitor_version=row.monitor_version,
        config_path=row.config_path,
        started_at=row.started_at,
        last_beat_at=row.last_beat_at,
        last_probe_at=row.last_probe_at,
        probes_since_start=row.probes_since_start,
        identities=row.identities,
        failing_pairs=row.failing_pairs,
        stopped_at=row.stopped_at,
        stop_reason=row.stop_reason,
        note=None
        if verdict != "unknown"
        else f"the daemon recorded the state {row.state!r}, which this report does not know",
    )
