"""Engines with the SQLite settings the daemon and the reading CLI need, and Alembic glue.

Settings (reliability reference, section 4): every connection sets ``busy_timeout=5000``;
writers also set ``auto_vacuum=INCREMENTAL`` on a new, empty file (it is effective only before
the first table exists, and setting it is a write), ``journal_mode=WAL`` with a 64 MiB
``journal_size_limit``, ``synchronous=FULL`` and
``foreign_keys=ON``, and start every transaction with ``BEGIN IMMEDIATE`` so a read-then-write
transaction never fails with "database is locked". Readers open ``file:...?mode=ro`` with
``PRAGMA query_only=ON`` and a plain ``BEGIN``. Both turn off the ``sqlite3`` module's own
transaction handling (``isolation_level=None``) so that SQLAlchemy's transaction is SQLite's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, IntegrityError, ProgrammingError

from monitor.store.errors import StoreError
from monitor.store.records import SchemaStatus, Upgrade

BUSY_TIMEOUT_MS = 5000

# A write-ahead log left larger than this is truncated to it whenever it is reset.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

# How long a schema upgrade in a child process may take.
MIGRATION_TIMEOUT_SECONDS = 600

# Connections a writer engine keeps open (see _writer_engine).
WRITER_POOL_SIZE = 5
WRITER_POOL_OVERFLOW = 16

# Every Alembic revision in ``migrations/versions``, oldest first (a test keeps this true).
# Readers check the schema against it without importing Alembic, which would cost ~0.15 s.
SCHEMA_REVISIONS: tuple[str, ...] = (
    "0001",
    "0002_alerting",
    "0005_usage",
    "0003_posture",
    "0004_daemon",
)

# Execution option: on a writer engine, start a plain deferred transaction for reads only.
READ_ONLY_OPTION = "monitor_read_only"

_REPO_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_PACKAGED_MIGRATIONS = Path(__file__).resolve().parents[1] / "_migrations"


def missing_database_message(path: Path) -> str:
    return f"no database at {path}; run `monitor check` or `monitor db upgrade` first"


def open_engine(path: Path, *, readonly: bool = False, foreign_keys: bool = True) -> Engine:
    """Given a database file, return an engine with the settings for a writer or a reader.

    A writer engine creates the file on first use and begins every transaction with ``BEGIN
    IMMEDIATE``, except on connections with the execution option ``READ_ONLY_OPTION`` set,
    which only read. A reader engine never creates or changes anything; raise StoreError if
    the file does not exist. ``foreign_keys=False`` is for the
    migration engine only (SQLite's procedure for table rebuilds).
    """
    if readonly:
        return _reader_engine(path)
    return _writer_engine(path, foreign_keys=foreign_keys)


def _writer_engine(path: Path, *, foreign_keys: bool) -> Engine:
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


def create_database_file(path: Path) -> None:
    """Create *path* (and a missing parent directory, mode 0700) as an empty private file.

    SQLite accepts an empty file as an empty database and creates the ``-wal`` and ``-shm``
    files with the database file's permissions, so the whole database stays 0600 whatever the
    process umask. An existing file is left as it is.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)


# --- Alembic -------------------------------------------------------------------------------


def script_location() -> Path:
    """Return the Alembic folder: the one packed into the wheel, else the repository's."""
    if (_PACKAGED_MIGRATIONS / "env.py").is_file():
        return _PACKAGED_MIGRATIONS
    return _REPO_MIGRATIONS


def alembic_config(location: Path | None) -> Any:
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolation treats '%' specially.
    folder = os.fspath(location or script_location())
    config.set_main_option("script_location", folder.replace("%", "%%"))
    return config


def _head(location: Path | None) -> tuple[str, set[str]]:
    """Return the head revision and every revision the scripts know."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(location))
    heads = scripts.get_heads()
    if len(heads) != 1:
        raise StoreError(f"the migrations have {len(heads)} heads; expected exactly one")
    return heads[0], {script.revision for script in scripts.walk_revisions()}


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def migrate(path: Path, *, location: Path | None = None) -> Upgrade:
    """Create or upgrade the database at *path* to the newest schema; return before/after.

    The whole upgrade is one ``BEGIN IMMEDIATE`` transaction (SQLite DDL is transactional), so
    concurrent upgraders queue up and a failed upgrade leaves the old schema intact. Foreign
    keys are off while tables are rebuilt and checked before commit. Raise StoreError if the
    database carries a revision this monitor does not know.
    """
    from alembic import command

    head, known = _head(location)
    create_database_file(path)
    config = alembic_config(location)
    engine = open_engine(path, foreign_keys=False)
    try:
        with database_errors(path), engine.begin() as connection:
            before = _current_revision(connection)
            if before is not None and before not in known:
                raise StoreError(_newer_message(path, before, head))
            if before != head:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise StoreError(f"upgrade of {path} broke foreign keys: {problems[:3]}")
            after = _current_revision(connection)
    finally:
        engine.dispose()
    assert after is not None
    return Upgrade(before=before, after=after)


def migrate_in_subprocess(path: Path, *, location: Path | None = None) -> Upgrade:
    """Run :func:`migrate` in a child Python process and return what it did, so that this
    process never imports Alembic. Raise StoreError with the child's one-line reason if it
    fails."""
    argv = [sys.executable, "-m", "monitor.store.migrate_child", os.fspath(path)]
    if location is not None:
        argv.append(os.fspath(location))
    try:
        child = subprocess.run(
            argv, capture_output=True, text=True, timeout=MIGRATION_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StoreError(f"upgrade of {path} failed: {error}") from error
    lines = child.stdout.split()
    if child.returncode != 0 or len(lines) != 2:
        errors = child.stderr.strip().splitlines()
        reason = errors[-1] if errors else f"exit status {child.returncode}"
        raise StoreError(reason)
    before, after = lines
    return Upgrade(before=None if before == "-" else before, after=after)


def schema_status(path: Path, *, location: Path | None = None) -> SchemaStatus:
    """Return the schema revision of the database at *path* against this monitor's newest.

    Opens the database read-only. Raise StoreError if there is no database file.
    """
    head, known = _head(location)
    engine = open_engine(path, readonly=True)
    try:
        with database_errors(path), engine.connect() as connection:
            current = _current_revision(connection)
    finally:
        engine.dispose()
    return SchemaStatus(current=current, head=head, known=current is None or current in known)


def quick_schema_status(connection: Connection) -> SchemaStatus:
    """Return the schema status of an open database from :data:`SCHEMA_REVISIONS`."""
    current: str | None = None
    has_table = connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).first()
    if has_table is not None:
        current = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return SchemaStatus(
        current=current,
        head=SCHEMA_REVISIONS[-1],
        known=current is None or current in SCHEMA_REVISIONS,
    )


def require_current_schema(status: SchemaStatus, path: Path) -> None:
    """Raise StoreError with the command to run unless *status* is the newest schema."""
    if status.up_to_date:
        return
    if status.newer:
        raise StoreError(_newer_message(path, status.current, status.head))
    if status.current is None:
        raise StoreError(f"the database at {path} has no schema yet; run `monitor db upgrade`")
    raise StoreError(
        f"the database at {path} has an older schema ({status.current}, newest {status.head}); "
        "run `monitor db upgrade`"
    )


def _newer_message(path: Path, current: str | None, head: str) -> str:
    return (
        f"the database at {path} has schema {current}, which this monitor does not know "
        f"(newest known {head}); it was written by a newer monitor: upgrade monitor"
    )
