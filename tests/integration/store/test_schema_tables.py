"""One schema for the store and the report: the table list of monitor.model.schema equals the
models and what the migrations build, and every column the report reads is in it."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

from monitor.model.schema import SCHEMA_REVISIONS, TABLES
from monitor.report import sources
from monitor.store import migrate
from monitor.store.migrations import script_location
from monitor.store.models.base import Base

RENAME_REVISION = '''"""A later revision that renames a column the report reads."""

import sqlalchemy as sa
from alembic import op

revision = "9999_rename"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.alter_column("summary", new_column_name="headline", existing_type=sa.Text())


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.alter_column("headline", new_column_name="summary", existing_type=sa.Text())
'''


def database_columns(path: Path) -> dict[str, frozenset[str]]:
    """Return every table of the database at *path* and its columns (Alembic's own excepted)."""
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name != 'alembic_version'"
            )
        ]
        return {
            table: frozenset(row[1] for row in connection.execute(f"PRAGMA table_info({table})"))
            for table in tables
        }
    finally:
        connection.close()


def report_reads() -> dict[str, set[str]]:
    """Return every column the report's data sources declare they read, by table."""
    reads: dict[str, set[str]] = {}
    for module_info in pkgutil.iter_modules(sources.__path__):
        module = importlib.import_module(f"{sources.__name__}.{module_info.name}")
        for name in ("TABLES", "READS"):
            declared: Mapping[str, Sequence[str]] = getattr(module, name, {})
            for table, columns in declared.items():
                reads.setdefault(table, set()).update(columns)
    return reads


def missing_for_the_report(path: Path) -> list[str]:
    """Return ``table.column`` for every column the report reads that the database lacks."""
    found = database_columns(path)
    return sorted(
        f"{table}.{column}"
        for table, columns in report_reads().items()
        for column in columns
        if column not in found.get(table, frozenset())
    )


def test_the_table_list_is_the_models() -> None:
    """monitor.model.schema.TABLES names exactly the models' tables and columns."""
    models = {
        name: frozenset(column.name for column in table.columns)
        for name, table in Base.metadata.tables.items()
    }
    assert models == dict(TABLES)


def test_the_table_list_is_what_the_migrations_build(tmp_path: Path) -> None:
    """A database built by the migrations alone has exactly the tables and columns listed."""
    path = tmp_path / "monitor.db"
    migrate(path)
    assert dict(TABLES) == database_columns(path)


def test_the_report_reads_only_columns_the_migrations_build(tmp_path: Path) -> None:
    """Every column a report source reads exists in a migrated database (so a migration that
    renames or drops one fails here, not in an operator's report)."""
    path = tmp_path / "monitor.db"
    migrate(path)
    assert report_reads()  # the sources declare what they read
    assert [] == missing_for_the_report(path)


def test_a_migration_renaming_a_column_the_report_reads_is_caught(tmp_path: Path) -> None:
    """With one more revision that renames incident.summary, the check above names it."""
    location = tmp_path / "migrations"
    shutil.copytree(script_location(), location, ignore=shutil.ignore_patterns("__pycache__"))
    text = RENAME_REVISION.format(head=SCHEMA_REVISIONS[-1])
    (location / "versions" / "9999_rename.py").write_text(text)
    path = tmp_path / "monitor.db"

    migrate(path, location=location)

    assert ["incident.summary"] == missing_for_the_report(path)
    assert dict(TABLES) != database_columns(path)
