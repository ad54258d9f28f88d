"""The daemon's status row (migration ``0004_daemon``): one ``INSERT ... ON CONFLICT DO UPDATE``
per write, cheap enough for the daemon's heartbeat, which writes at most once a minute
(:mod:`monitor.daemon.status`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.model.clock import require_aware
from monitor.model.daemon import DAEMON_STATES, DaemonStatusRecord
from monitor.store.database import Database
from monitor.store.mapping import RecordMap
from monitor.store.models.daemon import DaemonStatusRow

STATUS = RecordMap(DaemonStatusRecord)


class DaemonStatusRepository:
    """Reads and writes of the daemon's status row."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def write(self, record: DaemonStatusRecord) -> None:
        """Insert or replace the row of ``record.instance`` in one short transaction.

        Raise ValueError (before writing) for a state other than running, stopping or stopped,
        or a naive time; StoreError if the database cannot be written.
        """
        if record.state not in DAEMON_STATES:
            raise ValueError(f"unknown daemon state {record.state!r}")
        for name in ("started_at", "last_beat_at", "last_probe_at", "stopped_at"):
            require_aware(getattr(record, name), name)
        values = STATUS.to_values(record)
        statement = sqlite_insert(DaemonStatusRow).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[DaemonStatusRow.instance],
            set_={name: statement.excluded[name] for name in values if name != "instance"},
        )
        with self._database.write() as session:
            session.execute(statement)

    def read(self, instance: str | None = None) -> DaemonStatusRecord | None:
        """Return the row of *instance*, or (None) the row with the newest heartbeat; None if no
        daemon has written one."""
        query = select(DaemonStatusRow)
        if instance is not None:
            query = query.where(DaemonStatusRow.instance == instance)
        query = query.order_by(DaemonStatusRow.last_beat_at.desc()).limit(1)
        with self._database.read() as session:
            row = session.scalars(query).first()
            return None if row is None else STATUS.to_record(row)
