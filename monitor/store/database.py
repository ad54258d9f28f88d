"""The database: one SQLite file, its engine, sessions and transactions (:class:`Database`).

Settings: every connection sets ``busy_timeout=5000``; writers also set
``auto_vacuum=INCREMENTAL`` on a new, empty file (it is effective only before the first table
exists, and setting it is a write), ``journal_mode=WAL`` with a 64 MiB ``journal_size_limit``,
``synchronous=FULL`` and ``foreign_keys=ON``, and start every transaction with
``BEGIN IMMEDIATE`` so a read-then-write transaction never fails with "database is locked".
Readers open ``file:...?mode=ro`` with ``PRAGMA query_only=ON`` and a plain ``BEGIN``. Both turn
off the ``sqlite3`` module's own transaction handling (``isolation_level=None``) so that
SQLAlchemy's transaction is SQLite's. See "SQLite in WAL mode" in the SQLite documentation
(https://www.sqlite.org/wal.html).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.errors import StoreError

BUSY_TIMEOUT_MS = 5000

# A write-ahead log left larger than this is truncated to it whenever it is reset.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# Connections a writer engine keeps open (see _writer_engine).
WRITER_POOL_SIZE = 5
WRITER_POOL_OVERFLOW = 16

# Execution option: on a writer engine, start a plain deferred transaction for reads only.
READ_ONLY_OPTION = "monitor_read_only"


def missing_database_message(path: Path) -> str:
    return f"no database at {path}; run `monitor check` or `monitor db upgrade` first"


def open_engine(
    path: Path, *, readonly: bool = False, foreign_keys: bool = True, shared: bool = False
) -> Engine:
    """Given a database file, return an engine with the settings for a writer or a reader.

    A writer engine creates the file on first use and begins every transaction with ``BEGIN
    IMMEDIATE``, except on connections with the execution option ``READ_ONLY_OPTION`` set,
    which only read. A reader engine never creates or changes anything; raise StoreError if
    the file does not exist. ``foreign_keys=False`` is for the
    migration engine only (SQLite's procedure for table rebuilds). *shared*: the ``-wal`` and
    ``-shm`` files a connection creates are given to the database's group
    (:func:`share_companions`).
    """
    if readonly:
        return _reader_engine(path)
    return _writer_engine(path, foreign_keys=foreign_keys, shared=shared)


def _writer_engine(path: Path, *, foreign_keys: bool, shared: bool) -> Engine:
    engine = create_engine(
        URL.create("sqlite+pysqlite", database=os.fspath(path)),
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        # The daemon's threads that touch the database at once (the result writer, the control
        # jobs, the heartbeat, password probes reading their guard) fit in the pool; past it a
        # connection is opened and closed per use. Last in, first out: the same few connections
        # stay warm and the others are not kept busy (each holds its own page cache).
        pool_size=WRITER_POOL_SIZE,
        max_overflow=WRITER_POOL_OVERFLOW,
        pool_use_lifo=True,
    )

    @event.listens_for(engine, "connect")
    def _setup(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below is the only one
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # auto_vacuum takes effect only before the first table, and setting it writes the
            # header in a write transaction: on an existing database that would make every new
            # connection wait for (and fail behind) a writer, so only an empty file gets it.
            if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
                cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()
        if shared:  # journal_mode=WAL above opened (or created) the -wal and -shm files
            share_companions(path)

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")  # a snapshot; never writes, needs no lock
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _reader_engine(path: Path) -> Engine:
    if not path.is_file():
        raise StoreError(missing_database_message(path))
    # An URI so that mode=ro applies; percent-encode the path so '?', '#' and '%' in it survive.
    uri_path = urllib.parse.quote(os.fspath(path.resolve()))
    engine = create_engine(
        URL.create(
            "sqlite+pysqlite", database=f"file:{uri_path}", query={"mode": "ro", "uri": "true"}
        ),
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _setup(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


@contextmanager
def database_errors(path: Path) -> Iterator[None]:
    """Turn database failures a user can act on into StoreError: locked for longer than the
    busy timeout, disk full, read-only or unreadable file, not a database. Constraint and
    programming errors are bugs and pass through unchanged."""
    try:
        yield
    except (IntegrityError, ProgrammingError):
        raise
    except DatabaseError as error:
        raise StoreError(f"database {path}: {error.orig}") from error


DATABASE_MODE = 0o600
# ``[database] group_access = "read-write"``: the service's group may read and annotate the
# history (report, silence, ack ... from a shell) while secrets stay the service's own.
SHARED_DATABASE_MODE = 0o660
_COMPANIONS = ("-wal", "-shm")
# The state directory: group members may create the -wal and -shm files (setgid keeps them in
# the service's group) when shared; read-only to the group otherwise.
SHARED_DIRECTORY_MODE = 0o2770
PRIVATE_DIRECTORY_MODE = 0o750


def create_database_file(path: Path, *, shared: bool | None = None) -> None:
    """Create *path* (and a missing parent directory, mode 0700, 2770 if *shared*) as an empty
    file with mode 0600, or 0660 if *shared*. Given *shared* (not None), an existing file of
    ours gets that mode too, so changing ``group_access`` takes effect at the next start; a
    file of another user (the service's, opened by a member of its group) is left as it is.

    SQLite accepts an empty file as an empty database and creates the ``-wal`` and ``-shm``
    files with the database file's permissions, so the whole database has this mode whatever
    the process umask.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True)
        if shared:
            path.parent.chmod(SHARED_DIRECTORY_MODE)
    except FileExistsError:
        if shared is not None:
            _fit_directory(path.parent, shared=shared)
    mode = SHARED_DATABASE_MODE if shared else DATABASE_MODE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        new = True
    except FileExistsError:
        if shared is None:
            return
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        new = False
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != mode:
            os.fchmod(fd, mode)  # a new file had the umask applied; an old one another mode
    finally:
        os.close(fd)
    if new:
        return
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):  # absent, or not ours
            if companion.stat().st_uid == os.geteuid():
                companion.chmod(mode)
    if shared:
        share_companions(path)


def _fit_directory(folder: Path, *, shared: bool) -> None:
    """Give the service's state directory the mode ``group_access`` asks for.

    The unit makes it 2770 (``StateDirectoryMode=``: setgid, and the group may create files), so
    that a member of the group can open the database while the daemon is stopped: SQLite then
    has to create the ``-wal`` and ``-shm`` files, and removes them again on close. Without
    group access the service takes the group's rights back (0750). Only a directory of this
    process's user that carries the setgid bit is touched, never an operator's own folder."""
    with contextlib.suppress(OSError):
        info = folder.stat()
        if info.st_uid != os.geteuid() or not info.st_mode & stat.S_ISGID:
            return
        wanted = SHARED_DIRECTORY_MODE if shared else PRIVATE_DIRECTORY_MODE
        if stat.S_IMODE(info.st_mode) != wanted:
            folder.chmod(wanted)


def share_companions(path: Path) -> None:
    """Give the ``-wal`` and ``-shm`` files of *path* that this process created the database
    file's group and mode: SQLite creates them with the database's mode but the creator's own
    group, so a file a group member created would lock the service out of its own database."""
    try:
        database = path.stat()
    except OSError:
        return
    for suffix in _COMPANIONS:
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):  # absent, not ours, or not a group of ours
            info = companion.stat()
            if info.st_uid != os.geteuid():
                continue
            if info.st_gid != database.st_gid:
                os.chown(companion, -1, database.st_gid)
            if stat.S_IMODE(info.st_mode) != stat.S_IMODE(database.st_mode):
                companion.chmod(stat.S_IMODE(database.st_mode))


class Database:
    """One open database file: what every repository of the store reads and writes through.

    :meth:`read` and :meth:`write` hand out an ORM session inside one transaction; nothing
    outside :mod:`monitor.store` ever sees a session. Writers of this process take turns on a
    lock before ``BEGIN IMMEDIATE``: SQLite's busy handler sleeps and retries instead of
    queueing, so eight probe threads committing at once could otherwise wait past the busy
    timeout ("database is locked"). Other processes still meet the busy timeout. The lock is
    reentrant, so a write may call another.
    """

    def __init__(self, path: Path, engine: Engine) -> None:
        self._path = path
        self._engine = engine
        self._write_lock = threading.RLock()
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session inside one read transaction (a consistent snapshot)."""
        with database_errors(self._path), self._read_sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Yield a session inside one ``BEGIN IMMEDIATE`` transaction, committed on success and
        rolled back on any exception."""
        with (
            self._write_lock,
            database_errors(self._path),
            self._sessions() as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def raw_connection(self) -> Iterator[Any]:
        """Yield a DB-API cursor outside any transaction, holding this process's write turn
        (for pragmas that cannot run in a transaction: incremental vacuum, WAL checkpoints)."""
        with self._write_lock, database_errors(self._path):
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
            finally:
                raw.close()

    def close(self) -> None:
        """Close every pooled connection; the object must not be used afterwards."""
        self._engine.dispose()
