"""Recording and reading the daemon's status row (see :mod:`monitor.store.models_daemon`).

Functions over a :class:`~monitor.store.Store` (writes) or a :class:`~monitor.store.Reader`
(reads), each one short transaction, handing out only :class:`DaemonStatusRecord`. A write is
one ``INSERT ... ON CONFLICT DO UPDATE`` of one row: cheap enough for the daemon's heartbeat,
which writes at most once a minute (:mod:`monitor.daemon.status`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.store.models_daemon import DaemonStatusRow
from monitor.store.store import Reader, Store

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


def _require_aware(value: datetime | None, what: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} must be an aware datetime")


def write_daemon_status(store: Store, record: DaemonStatusRecord) -> None:
    """Insert or replace the row of ``record.instance`` in one short transaction.

    Raise ValueError (before writing) for a state other than running, stopping or stopped, or a
    naive time; StoreError if the database cannot be written.
    """
    if record.state not in DAEMON_STATES:
        raise ValueError(f"unknown daemon state {record.state!r}")
    for name in ("started_at", "last_beat_at", "last_probe_at", "stopped_at"):
        _require_aware(getattr(record, name), name)
    values = asdict(record)
    statement = sqlite_insert(DaemonStatusRow).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[DaemonStatusRow.instance],
        set_={name: statement.excluded[name] for name in values if name != "instance"},
    )
    with store._write() as session:
        session.execute(statement)


def read_daemon_status(
    queries: Store | Reader, instance: str | None = None
) -> DaemonStatusRecord | None:
    """Return the row of *instance*, or (None) the row with the newest heartbeat; None if no
    daemon has written one."""
    query = select(DaemonStatusRow)
    if instance is not None:
        query = query.where(DaemonStatusRow.instance == instance)
    query = query.order_by(DaemonStatusRow.last_beat_at.desc()).limit(1)
    with queries._read() as session:
        row = session.scalars(query).first()
        return None if row is None else _record(row)


def _record(row: DaemonStatusRow) -> DaemonStatusRecord:
    return DaemonStatusRecord(
        state=row.state,
        pid=row.pid,
        hostname=row.hostname,
        monitor_version=row.monitor_version,
        started_at=row.started_at,
        last_beat_at=row.last_beat_at,
        write_interval_seconds=row.write_interval_seconds,
        probes_since_start=row.probes_since_start,
        identities=row.identities,
        failing_pairs=row.failing_pairs,
        last_probe_at=row.last_probe_at,
        config_path=row.config_path,
        stopped_at=row.stopped_at,
        stop_reason=row.stop_reason,
        instance=row.instance,
    )
