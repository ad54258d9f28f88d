"""The report's read-only view of the database, with the standard library's ``sqlite3``.

Why not the store's SQLAlchemy engine: importing SQLAlchemy costs most of a second on a small
host, several times what a whole status board may take. The settings are the store's reader
settings (:func:`monitor.store.database.open_engine` with ``readonly=True``):
``file:...?mode=ro``, ``PRAGMA query_only=ON``, ``busy_timeout``, and one explicit ``BEGIN``
... ``COMMIT`` per report (a consistent snapshot; in WAL mode a reader neither blocks the
daemon's writes nor waits for them).

The schema check is the store's (:func:`monitor.store.migrations.require_current_schema`) over
the same list of revisions, :data:`monitor.model.schema.SCHEMA_REVISIONS`; the columns each data
source reads are declared through :func:`monitor.model.schema.columns`.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from monitor.damage import damage_detail, damage_message
from monitor.exits import EXIT_DATABASE, EXIT_SOFTWARE
from monitor.model.schema import SCHEMA_REVISIONS
from monitor.report.errors import ReportError

BUSY_TIMEOUT_MS = 5000


@dataclass
class ReportDatabase:
    """An open read-only connection and what the schema offers."""

    path: Path
    connection: sqlite3.Connection
    tables: frozenset[str]
    revision: str

    def has(self, *tables: str) -> bool:
        """Return whether every named table exists (a feature's migration has landed)."""
        return all(table in self.tables for table in tables)

    def columns(self, table: str) -> frozenset[str]:
        """Return the column names of *table* (empty if it does not exist)."""
        if table not in self.tables:
            return frozenset()
        rows = self.connection.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        return frozenset(str(row[1]) for row in rows)

    def close(self) -> None:
        self.connection.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_error(path: Path, error: sqlite3.Error, what: str) -> ReportError:
    """The report's error for a failed read: a damaged file says so and how to recover
    (exit 70, as every command), anything else is exit 1."""
    detail = damage_detail(error)
    if detail is not None:
        return ReportError(damage_message(path, detail), EXIT_SOFTWARE)
    return ReportError(f"{what} the database {path}: {error}", EXIT_DATABASE)


@contextmanager
def open_database(
    path: Path, *, revisions: tuple[str, ...] | None = None
) -> Iterator[ReportDatabase]:
    """Open the database at *path* read-only and yield it inside one read transaction.

    Raise ReportError (exit code 1, one line) if there is no database, it is empty or not a
    database, it cannot be read (e.g. locked beyond the busy timeout), or its schema is not
    the newest this monitor knows (older: run ``monitor db upgrade``; newer: upgrade monitor).
    """
    expected = revisions if revisions is not None else SCHEMA_REVISIONS
    try:
        exists = path.is_file()
    except PermissionError:
        raise ReportError(
            f"cannot read the database {path}: permission denied; run as the service's user, "
            'or as a member of its group with [database] group_access = "read-write"',
            EXIT_DATABASE,
        ) from None
    if not exists:
        raise ReportError(
            f"no database at {path}; run `monitor check` or `monitor db upgrade` first "
            "(or pass --database PATH)",
            EXIT_DATABASE,
        )
    uri = "file:" + urllib.parse.quote(os.fspath(path.resolve())) + "?mode=ro"
    try:
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
    except sqlite3.Error as error:
        raise _read_error(path, error, "cannot open") from None
    try:
        try:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA query_only=ON")
            connection.execute("BEGIN")
            tables = frozenset(
                str(row[0])
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            revision = _revision(connection, tables)
        except sqlite3.Error as error:
            raise _read_error(path, error, "cannot read") from None
        _require_current(path, revision, expected)
        assert revision is not None
        database = ReportDatabase(path, connection, tables, revision)
        try:
            yield database
        except sqlite3.Error as error:
            raise _read_error(path, error, "cannot read") from None
    finally:
        try:
            if connection.in_transaction:
                connection.execute("COMMIT")
        except sqlite3.Error:
            pass  # a read transaction has nothing to lose; closing ends it anyway
        connection.close()


def _revision(connection: sqlite3.Connection, tables: frozenset[str]) -> str | None:
    if "alembic_version" not in tables:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _require_current(path: Path, revision: str | None, expected: tuple[str, ...]) -> None:
    head = expected[-1] if expected else None
    if revision is None:
        raise ReportError(
            f"the database at {path} is empty (no schema yet); run `monitor db upgrade`, "
            "then `monitor check`",
            EXIT_DATABASE,
        )
    if revision == head:
        return
    if revision in expected:
        raise ReportError(
            f"the database at {path} has an older schema ({revision}, newest {head}); "
            "run `monitor db upgrade`",
            EXIT_DATABASE,
        )
    raise ReportError(
        f"the database at {path} has schema {revision}, which this monitor does not know "
        f"(newest known {head}); it was written by a newer monitor: upgrade monitor",
        EXIT_DATABASE,
    )
