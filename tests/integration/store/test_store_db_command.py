"""`monitor db upgrade` and `monitor db status` on real database files."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from monitor.cli import add_command
from monitor.model.schema import SCHEMA_REVISIONS

HEAD = SCHEMA_REVISIONS[-1]


def _run(argv: list[str], config: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="monitor")
    parser.add_argument("-c", "--config", default=str(config or "/nonexistent/monitor.toml"))
    add_command(parser.add_subparsers(dest="command"), "db")
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def test_upgrade_creates_then_reports_newest(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first upgrade creates the schema and says from which revision to which; the second
    says there was nothing to do."""
    assert _run(["db", "--database", str(db_path), "upgrade"]) == 0
    assert _run(["db", "upgrade", "--database", str(db_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{db_path}: upgraded schema (none) -> {HEAD}",
        f"{db_path}: schema {HEAD} is already the newest",
    ]


def test_status_up_to_date(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status on a migrated database prints its revision and exits 0."""
    _run(["db", "--database", str(db_path), "upgrade"])
    capsys.readouterr()
    assert _run(["db", "status", "--database", str(db_path)]) == 0
    assert capsys.readouterr().out == f"{db_path}: schema {HEAD} (newest)\n"


def test_status_needs_upgrade(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status on a database behind the newest schema says to upgrade and exits 1."""
    _run(["db", "--database", str(db_path), "upgrade"])
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("DELETE FROM alembic_version")
    connection.close()
    capsys.readouterr()
    assert _run(["db", "status", "--database", str(db_path)]) == 1
    assert "run `monitor db upgrade`" in capsys.readouterr().out


def test_status_newer_schema(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status on a database written by a newer monitor exits 2; upgrade refuses it too."""
    _run(["db", "--database", str(db_path), "upgrade"])
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff'")
    connection.close()
    assert _run(["db", "status", "--database", str(db_path)]) == 2
    assert _run(["db", "upgrade", "--database", str(db_path)]) == 2
    captured = capsys.readouterr()
    assert "upgrade monitor" in captured.out
    assert "newer monitor" in captured.err


def test_status_without_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """status where there is no database says how to create one and exits 1."""
    path = tmp_path / "monitor.db"
    assert _run(["db", "status", "--database", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"monitor db: no database at {path}; run `monitor check` or `monitor db upgrade` first\n"
    )
    assert not path.exists()


def test_config_error_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --database the path comes from the configuration; an invalid one exits 78."""
    config = tmp_path / "monitor.toml"
    config.write_text("[database\npath = 'x'\n")
    config.chmod(0o600)
    assert _run(["db", "status"], config=config) == 78
    assert str(config) in capsys.readouterr().err
