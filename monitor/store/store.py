"""The store: one database and one repository per aggregate.

``Store.open(path)`` opens the writer (creating and upgrading the database as needed);
``Store.open_readonly(path)`` a read-only view that never blocks the daemon. Either way the
repositories are the same: :attr:`Store.probes` (runs, results, identity state, rollups),
:attr:`Store.guards` (lockout guards), :attr:`Store.posture` (directory facts),
:attr:`Store.alerting` (incidents, silences, outbox), :attr:`Store.usage` (usage reports and
counts) and :attr:`Store.daemon` (the daemon's status row). They accept and return only the
frozen records of :mod:`monitor.model`; sessions and ORM rows never leave :mod:`monitor.store`.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.store.alerting import AlertingRepository
from monitor.store.daemon import DaemonStatusRepository
from monitor.store.database import Database
from monitor.store.guards import GuardRepository
from monitor.store.posture import PostureRepository
from monitor.store.probes import ProbeRepository
from monitor.store.usage import UsageRepository


class Store:
    """The open database and its repositories (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.probes = ProbeRepository(database)
        self.guards = GuardRepository(database)
        self.posture = PostureRepository(database)
        self.alerting = AlertingRepository(database)
        self.usage = UsageRepository(database)
        self.daemon = DaemonStatusRepository(database)

    @classmethod
    def open(cls, path: Path, *, migrate_in_child: bool = False) -> Store:
        """Open the database at *path* for writing (see :meth:`Database.open_writer`)."""
        return cls(Database.open_writer(path, migrate_in_child=migrate_in_child))

    @classmethod
    def open_readonly(cls, path: Path) -> Store:
        """Open the database at *path* read-only (see :meth:`Database.open_reader`)."""
        return cls(Database.open_reader(path))

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self.database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
