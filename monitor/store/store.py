"""The store: one database and one repository per aggregate.

``Store.open(path)`` opens the writer (creating and upgrading the database as needed);
``Store.open_readonly(path)`` a read-only view that never blocks the daemon. Either way the
repositories are the same: :attr:`Store.probes` (runs, results, identity state, rollups),
:attr:`Store.guards` (lockout guards), :attr:`Store.posture` (directory facts),
:attr:`Store.alerting` (incidents, silences, outbox), :attr:`Store.usage` (usage reports and
counts) and :attr:`Store.daemon` (the daemon's status row); :attr:`Store.signin_locks` keeps
two processes from signing in as one password identity at once. They accept and return only the
frozen records of :mod:`monitor.model`; sessions and ORM rows never leave :mod:`monitor.store`.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.logsetup import get_logger
from monitor.store.alerting import AlertingRepository
from monitor.store.daemon import DaemonStatusRepository
from monitor.store.database import Database, create_database_file, database_errors, open_engine
from monitor.store.guards import GuardRepository
from monitor.store.keyfile import FingerprintKeyLost, fingerprint_key, key_path, new_key
from monitor.store.migrations import (
    migrate,
    migrate_in_subprocess,
    quick_schema_status,
    require_current_schema,
)
from monitor.store.posture import PostureRepository
from monitor.store.probes import ProbeRepository
from monitor.store.signin_locks import SignInLocks
from monitor.store.usage import UsageRepository

log = get_logger("monitor.store")


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
        self.signin_locks = SignInLocks(database.path)

    @classmethod
    def open(cls, path: Path, *, migrate_in_child: bool = False, shared: bool = False) -> Store:
        """Open the database at *path* for writing, creating it (directory 0700, file 0600;
        2770 and 0660 if *shared* with the service's group) and upgrading its schema as needed.
        Raise StoreError if the schema is newer than this monitor knows.

        With *migrate_in_child*, an upgrade runs in a child Python process (the daemon: Alembic
        would stay in its memory, about 11 MB, for as long as it runs)."""
        create_database_file(path, shared=shared)
        engine = open_engine(path, shared=shared)
        try:
            with database_errors(path), engine.connect() as connection:
                status = quick_schema_status(connection)
            if not status.up_to_date:  # only then pay for importing Alembic
                if migrate_in_child:
                    upgrade = migrate_in_subprocess(path)
                    log.info(
                        "database schema upgraded",
                        database=str(path),
                        before=upgrade.before,
                        after=upgrade.after,
                    )
                else:
                    migrate(path)
        except BaseException:
            engine.dispose()
            raise
        return cls(Database(path, engine))

    @classmethod
    def open_readonly(cls, path: Path) -> Store:
        """Open the database at *path* read-only; it never blocks the daemon.

        Raise StoreError if there is no database, or its schema is not the one this monitor
        writes (older: the message says to run ``monitor db upgrade``).
        """
        engine = open_engine(path, readonly=True)
        try:
            with database_errors(path), engine.connect() as connection:
                require_current_schema(quick_schema_status(connection), path)
        except BaseException:
            engine.dispose()
            raise
        return cls(Database(path, engine))

    @property
    def path(self) -> Path:
        return self.database.path

    def fingerprint_key(self) -> bytes:
        """Return the install key beside the database, creating it on first use.

        Raise FingerprintKeyLost if the key file is gone while lockout guards exist: a new key
        would make every known-bad password look new, and each would be sent once more.
        """
        try:
            return fingerprint_key(self.path, create=False)
        except FileNotFoundError:
            if self.guards.all():
                where = key_path(self.path)
                raise FingerprintKeyLost(
                    f"the fingerprint key {where} is missing, but the database holds lockout "
                    "guards made with it; restore it from a backup, or run `monitor db new-key` "
                    "to start over with a new key (each held password identity is then tried "
                    "once more)"
                ) from None
            return new_key(key_path(self.path))

    def replace_fingerprint_key(self) -> bytes:
        """Create a new install key (after the old one was lost for good) and release every
        lockout guard, whose fingerprints the new key cannot match; return the new key."""
        for guard in self.guards.all():
            self.guards.release(guard.identity)
        path = key_path(self.path)
        path.unlink(missing_ok=True)
        return new_key(path)

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
