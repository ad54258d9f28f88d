"""Schema upgrades with Alembic, and the schema checks that need no Alembic.

Writers upgrade a database to the newest schema when they open it (:func:`migrate`, or
:func:`migrate_in_subprocess` for the daemon, which must not keep Alembic in memory);
:func:`quick_schema_status` tells an older or newer schema from the current one by
:data:`monitor.model.schema.SCHEMA_REVISIONS` alone. See ``migrations/README.md`` for writing a
new revision.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from monitor.model.schema import SCHEMA_HEAD, SCHEMA_REVISIONS, SchemaStatus, Upgrade
from monitor.store.database import create_database_file, database_errors, open_engine
from monitor.store.errors import StoreError

# How long a schema upgrade in a child process may take.
MIGRATION_TIMEOUT_SECONDS = 600

_REPO_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_PACKAGED_MIGRATIONS = Path(__file__).resolve().parents[1] / "_migrations"


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
        head=SCHEMA_HEAD,
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
