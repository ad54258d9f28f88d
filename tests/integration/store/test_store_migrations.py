"""The Alembic migrations against the models, and schema revision checks."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from monitor.model.schema import SCHEMA_REVISIONS
from monitor.store import Store, StoreError, migrate, schema_status
from monitor.store.database import open_engine
from monitor.store.migrations import alembic_config, script_location
from monitor.store.models.base import Base

EMPTY_REVISION = '''"""An empty revision on top of the real ones."""

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def _schema(path: Path) -> list[tuple[str, str, str]]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    finally:
        connection.close()
    return [(kind, name, sql or "") for kind, name, sql in rows]


def _set_revision(path: Path, revision: str | None) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("DELETE FROM alembic_version")
            if revision is not None:
                connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    finally:
        connection.close()


def _scripts_with_extra_revision(tmp_path: Path) -> Path:
    location = tmp_path / "migrations"
    shutil.copytree(script_location(), location, ignore=shutil.ignore_patterns("__pycache__"))
    text = EMPTY_REVISION.format(head=SCHEMA_REVISIONS[-1])
    (location / "versions" / "9999_empty.py").write_text(text)
    return location


def test_migrated_schema_equals_models(db_path: Path) -> None:
    """A database built only by the migrations has exactly the models' tables, columns, types,
    indexes and constraints."""
    migrate(db_path)
    engine = open_engine(db_path)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent(db_path: Path) -> None:
    """Upgrading a database that is already at the newest revision changes nothing."""
    first = migrate(db_path)
    schema = _schema(db_path)
    second = migrate(db_path)
    assert (first.before, first.after, first.changed) == (None, SCHEMA_REVISIONS[-1], True)
    assert (second.before, second.after, second.changed) == (
        SCHEMA_REVISIONS[-1],
        SCHEMA_REVISIONS[-1],
        False,
    )
    assert _schema(db_path) == schema


def test_downgrade_to_base_and_back(db_path: Path) -> None:
    """Every migration can be undone and redone (a developer's safety net)."""
    migrate(db_path)
    schema = _schema(db_path)
    engine = open_engine(db_path, foreign_keys=False)
    try:
        with engine.begin() as connection:
            config = alembic_config(None)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
    finally:
        engine.dispose()
    assert [name for _, name, _ in _schema(db_path)] == ["alembic_version"]
    migrate(db_path)
    assert _schema(db_path) == schema


def test_schema_revisions_constant_matches_the_scripts() -> None:
    """The revision list readers check against without Alembic is the scripts' history."""
    scripts = ScriptDirectory.from_config(alembic_config(None))
    history = [script.revision for script in scripts.walk_revisions()]
    assert list(SCHEMA_REVISIONS) == list(reversed(history))


def test_auto_vacuum_is_incremental_from_the_first_table(db_path: Path) -> None:
    """auto_vacuum only takes effect before the first table: a new database has it."""
    migrate(db_path)
    connection = sqlite3.connect(db_path)
    try:
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    finally:
        connection.close()


def test_schema_status_current(db_path: Path) -> None:
    """A freshly migrated database reports the newest revision."""
    migrate(db_path)
    status = schema_status(db_path)
    assert (status.current, status.up_to_date, status.newer) == (
        SCHEMA_REVISIONS[-1],
        True,
        False,
    )


def test_schema_status_detects_older_schema(db_path: Path, tmp_path: Path) -> None:
    """A database one revision behind the scripts needs an upgrade, and migrate brings it up."""
    migrate(db_path)
    location = _scripts_with_extra_revision(tmp_path)
    status = schema_status(db_path, location=location)
    assert (status.current, status.head, status.up_to_date, status.newer) == (
        SCHEMA_REVISIONS[-1],
        "9999",
        False,
        False,
    )
    upgrade = migrate(db_path, location=location)
    assert (upgrade.before, upgrade.after) == (SCHEMA_REVISIONS[-1], "9999")
    assert schema_status(db_path, location=location).up_to_date


def test_reader_refuses_an_older_schema(db_path: Path) -> None:
    """A reader on a database without a schema revision says to run `monitor db upgrade`."""
    migrate(db_path)
    _set_revision(db_path, None)
    status = schema_status(db_path)
    assert (status.current, status.up_to_date, status.newer) == (None, False, False)
    with pytest.raises(StoreError, match=r"run `monitor db upgrade`"):
        Store.open_readonly(db_path)


def test_unknown_revision_is_newer(db_path: Path) -> None:
    """A revision this monitor does not know was written by a newer one: readers and writers
    refuse it instead of guessing."""
    migrate(db_path)
    _set_revision(db_path, "ffff")
    assert schema_status(db_path).newer
    with pytest.raises(StoreError, match="newer monitor"):
        Store.open_readonly(db_path)
    with pytest.raises(StoreError, match="newer monitor"):
        Store.open(db_path)


def test_empty_file_is_migrated_by_the_writer(db_path: Path) -> None:
    """Store.open on an empty file (as left by a crash before the first table) migrates it."""
    db_path.parent.mkdir()
    db_path.touch(mode=0o600)
    with Store.open(db_path) as store:
        assert store.probes.latest_states() == []
    assert schema_status(db_path).up_to_date


def test_not_a_database_is_a_store_error(db_path: Path) -> None:
    """A file that is not SQLite gives a one-line StoreError, not a traceback."""
    db_path.parent.mkdir()
    db_path.write_bytes(b"this is not a database, just some text that is long enough" * 20)
    with pytest.raises(StoreError, match="not a database"):
        Store.open_readonly(db_path)
    with pytest.raises(StoreError, match="not a database"):
        Store.open(db_path)


def test_the_daemon_upgrades_in_a_child_process(db_path: Path) -> None:
    """`monitor run` opens with migrate_in_child: the schema is upgraded by a child Python and
    the daemon process never imports Alembic (it would keep ~11 MB of it for months)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from monitor.store import Store; "
        "store = Store.open(Path(sys.argv[1]), migrate_in_child=True); store.close(); "
        "print('alembic' in sys.modules)"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(db_path)], capture_output=True, text=True, check=True
    )
    output = child.stdout.strip().splitlines()
    assert "False" == output[-1]
    assert schema_status(db_path).up_to_date
    assert "database schema upgraded" in child.stdout + child.stderr


def test_an_upgrade_in_a_child_reports_its_one_line_reason(db_path: Path) -> None:
    migrate(db_path)
    _set_revision(db_path, "ffff")
    with pytest.raises(StoreError, match="newer monitor") as raised:
        Store.open(db_path, migrate_in_child=True)
    assert "\n" not in str(raised.value)
