"""SQLite settings of the writer and reader engines, file permissions, and reads during writes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import OperationalError

from monitor.model.probes import ProbeResult, RunRecord
from monitor.model.schema import SCHEMA_REVISIONS
from monitor.store import Store, StoreError
from monitor.store.database import open_engine
from monitor.store.models.probes import Run

MakeResult = Callable[..., ProbeResult]
MakeRun = Callable[..., RunRecord]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REPOSITORY = Path(__file__).resolve().parents[3]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_database_is_private_whatever_the_umask(db_path: Path) -> None:
    """The directory is created 0700 and the database and its WAL files 0600, even with a
    permissive umask."""
    previous = os.umask(0o002)
    try:
        with Store.open(db_path) as store:
            store.guards.all()
            wal = db_path.with_name(db_path.name + "-wal")
            shm = db_path.with_name(db_path.name + "-shm")
            modes = {path.name: _mode(path) for path in (db_path, wal, shm)}
    finally:
        os.umask(previous)
    assert _mode(db_path.parent) == 0o700
    assert modes == {"monitor.db": 0o600, "monitor.db-wal": 0o600, "monitor.db-shm": 0o600}


def test_writer_connection_settings(db_path: Path) -> None:
    """Writer connections use WAL, synchronous=FULL, a 5 s busy timeout and foreign keys."""
    Store.open(db_path).close()
    engine = open_engine(db_path)
    try:
        with engine.connect() as connection:
            settings = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in (
                    "journal_mode",
                    "journal_size_limit",
                    "synchronous",
                    "busy_timeout",
                    "foreign_keys",
                )
            }
    finally:
        engine.dispose()
    assert settings == {
        "journal_mode": "wal",
        "journal_size_limit": 64 * 1024 * 1024,
        "synchronous": 2,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }


def test_writer_takes_the_write_lock_at_begin(db_path: Path) -> None:
    """A writer transaction that has only read still holds the write lock (BEGIN IMMEDIATE),
    so a read-then-write never has to upgrade its lock."""
    Store.open(db_path).close()
    engine = open_engine(db_path)
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        with engine.begin() as connection:
            connection.execute(select(Run.id)).all()
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()


def test_reader_is_read_only(db_path: Path) -> None:
    """The reader engine opens the file read-only with query_only on: no write gets through."""
    Store.open(db_path).close()
    engine = open_engine(db_path, readonly=True)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA query_only").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            with pytest.raises(OperationalError, match=r"readonly|read-only"):
                connection.execute(text("DELETE FROM run"))
    finally:
        engine.dispose()


def test_reader_on_missing_database(tmp_path: Path) -> None:
    """A reader on a path without a database says how to create one and creates nothing."""
    path = tmp_path / "nowhere" / "monitor.db"
    expected = f"no database at {path}; run `monitor check` or `monitor db upgrade` first"
    with pytest.raises(StoreError) as raised:
        Store.open_readonly(path)
    assert str(raised.value) == expected
    assert not path.parent.exists()


def test_reader_path_with_uri_characters(
    tmp_path: Path, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A database path containing characters special in URIs ('?', '#', '%', space) opens."""
    path = tmp_path / "odd #1 %20 dir" / "mon?itor.db"
    with Store.open(path) as store:
        store.probes.record_results(make_run(), [make_result()])
    with Store.open_readonly(path) as reader:
        assert [state.identity for state in reader.probes.latest_states()] == ["sales-sync"]


def test_reader_is_not_blocked_by_an_open_write_transaction(
    db_path: Path, make_result: MakeResult, make_run: MakeRun
) -> None:
    """While another thread holds a write transaction open, a reader reads the last committed
    state at once (WAL), without "database is locked"."""
    with Store.open(db_path) as store:
        store.probes.record_results(make_run(), [make_result()])
    holding = threading.Event()
    release = threading.Event()
    failures: list[BaseException] = []

    def hold_write_transaction() -> None:
        engine = open_engine(db_path)
        try:
            with engine.begin() as connection:
                connection.execute(
                    insert(Run).values(
                        run_id="uncommitted",
                        kind="check",
                        started_at=T0,
                        probes=0,
                        ok=0,
                        failed=0,
                        monitor_version="test",
                    )
                )
                holding.set()
                release.wait(timeout=10)
        except BaseException as error:  # reported to the test thread
            failures.append(error)
            holding.set()
        finally:
            engine.dispose()

    writer = threading.Thread(target=hold_write_transaction)
    writer.start()
    try:
        assert holding.wait(timeout=5)
        started = time.monotonic()
        with Store.open_readonly(db_path) as reader:
            states = reader.probes.latest_states()
            results = reader.probes.recent_results()
        elapsed = time.monotonic() - started
    finally:
        release.set()
        writer.join(timeout=10)
    assert failures == []
    assert [state.identity for state in states] == ["sales-sync"]
    assert [stored.run_id for stored in results] != ["uncommitted"]
    assert elapsed < 1.0


def test_writer_reads_do_not_wait_for_the_write_lock(
    db_path: Path, make_result: MakeResult, make_run: MakeRun
) -> None:
    """The writer's read methods use a plain snapshot transaction, so they answer at once while
    another writer holds the write lock."""
    with Store.open(db_path) as store:
        store.probes.record_results(make_run(), [make_result()])
        other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            states = store.probes.latest_states()
            guard = store.guards.get("sales-sync")
            elapsed = time.monotonic() - started
            other.execute("ROLLBACK")
        finally:
            other.close()
    assert [state.identity for state in states] == ["sales-sync"]
    assert guard is None
    assert elapsed < 1.0


def test_a_new_connection_to_an_existing_database_does_not_wait_for_the_write_lock(
    db_path: Path, make_result: MakeResult, make_run: MakeRun
) -> None:
    """Opening a connection writes nothing to an existing database (auto_vacuum is set on a new
    file only), so a connection opened while another writer holds the lock reads at once
    instead of failing with "database is locked" after the busy timeout."""
    with Store.open(db_path) as store:
        store.probes.record_results(make_run(), [make_result()])
        store.database.close()  # the pool is emptied: the next read opens a new connection
        other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            states = store.probes.latest_states()
            elapsed = time.monotonic() - started
            other.execute("ROLLBACK")
        finally:
            other.close()
    reader = sqlite3.connect(db_path)
    try:
        auto_vacuum = reader.execute("PRAGMA auto_vacuum").fetchone()[0]
    finally:
        reader.close()
    assert [state.identity for state in states] == ["sales-sync"]
    assert auto_vacuum == 2  # INCREMENTAL, set when the file was created
    assert elapsed < 1.0


def test_opening_a_current_database_does_not_load_alembic(db_path: Path) -> None:
    """Readers, and writers on an up-to-date database, check the schema revision without
    importing Alembic (it costs more than the report's whole start-up budget)."""
    Store.open(db_path).close()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from monitor.store import Store\n"
        f"path = Path({str(db_path)!r})\n"
        "Store.open_readonly(path).close()\n"
        "Store.open(path).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout == "False\n"


def test_installed_layout_migrates_from_the_packaged_folder(tmp_path: Path) -> None:
    """In a wheel, migrations/ is packed as monitor/_migrations: an installed monitor finds it
    there and can create its database without the repository."""
    site = tmp_path / "site"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPOSITORY / "monitor", site / "monitor", ignore=ignore)
    shutil.copytree(REPOSITORY / "migrations", site / "monitor" / "_migrations", ignore=ignore)
    database = tmp_path / "installed" / "monitor.db"
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "from pathlib import Path\n"
        "import monitor\n"
        "from monitor.store import migrate\n"
        "from monitor.store.migrations import script_location\n"
        "print(monitor.__file__)\n"
        "print(script_location())\n"
        f"print(migrate(Path({str(database)!r})).after)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert completed.stdout.splitlines() == [
        str(site / "monitor" / "__init__.py"),
        str(site / "monitor" / "_migrations"),
        SCHEMA_REVISIONS[-1],
    ]
