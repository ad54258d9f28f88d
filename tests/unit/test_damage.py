"""Telling a damaged database file from other database failures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from monitor.damage import damage_detail, damage_message


def test_a_garbled_file_is_recognised_through_wrappers(tmp_path: Path) -> None:
    """SQLite's "file is not a database", raised through SQLAlchemy and re-raised as another
    exception, is found; a locked database and other errors are not damage."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"\x5a" * 8192)
    engine = create_engine(f"sqlite:///{path}")

    def read() -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT * FROM sqlite_master"))
        except Exception as error:
            raise RuntimeError("database: unusable") from error

    with pytest.raises(RuntimeError) as caught:
        read()
    engine.dispose()

    assert "file is not a database" == damage_detail(caught.value)
    locked = OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    assert damage_detail(locked) is None
    assert damage_detail(ValueError("malformed input")) is None


def test_the_message_names_the_file_and_both_remedies() -> None:
    """One line: the path, SQLite's words, the .recover pipeline (quoted) and the backup."""
    message = damage_message(
        Path("/var/lib/my monitor/monitor.db"), "database disk image is malformed"
    )

    assert "\n" not in message
    assert message.startswith(
        "the database /var/lib/my monitor/monitor.db is damaged (database disk image is malformed)"
    )
    assert (
        "`sqlite3 '/var/lib/my monitor/monitor.db' .recover | "
        "sqlite3 '/var/lib/my monitor/monitor.db.recovered'`"
    ) in message
    assert message.endswith("or restore a backup")
