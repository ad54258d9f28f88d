"""Opening the database for a report: read-only, one-line errors, schema checks, and reading
while a writer commits."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_kit import build, context

from monitor.exits import EXIT_DATABASE
from monitor.model.schema import SCHEMA_REVISIONS
from monitor.report.database import open_database
from monitor.report.errors import ReportError
from monitor.report.views import board, history


def _copy(source: Path, tmp_path: Path) -> Path:
    path = tmp_path / "monitor.db"
    shutil.copy(source, path)
    return path


def test_missing_database(tmp_path: Path) -> None:
    """No file: a one-line error naming the path and what to run."""
    with pytest.raises(ReportError) as raised, open_database(tmp_path / "none.db"):
        pass
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"no database at {tmp_path / 'none.db'}; run `monitor check`")
    assert EXIT_DATABASE == raised.value.exit_code


def test_empty_file(tmp_path: Path) -> None:
    """An empty file has no schema: say so and what to run."""
    path = tmp_path / "monitor.db"
    path.touch()
    expected = r"is empty \(no schema yet\); run `monitor db upgrade`"
    with pytest.raises(ReportError, match=expected), open_database(path):
        pass


def test_not_a_database(tmp_path: Path) -> None:
    """A file that is not SQLite gives a one-line error."""
    path = tmp_path / "monitor.db"
    path.write_bytes(b"not a database at all " * 100)
    with pytest.raises(ReportError, match="not a database"), open_database(path):
        pass


def test_older_schema_says_upgrade(history_db: Path, tmp_path: Path) -> None:
    """A database one revision behind what this monitor knows: run `monitor db upgrade`."""
    path = _copy(history_db, tmp_path)
    newer = (*SCHEMA_REVISIONS, "9999_future")
    expected = r"older schema .*run `monitor db upgrade`"
    with pytest.raises(ReportError, match=expected), open_database(path, revisions=newer):
        pass


def test_newer_schema_says_upgrade_monitor(history_db: Path, tmp_path: Path) -> None:
    """A revision this monitor does not know was written by a newer monitor."""
    path = _copy(history_db, tmp_path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff'")
    connection.close()
    with pytest.raises(ReportError, match="newer monitor: upgrade monitor"), open_database(path):
        pass


def test_the_report_cannot_write(history_db: Path, tmp_path: Path) -> None:
    """The connection is read-only: a write attempt fails and the file stays as it was."""
    path = _copy(history_db, tmp_path)
    before = path.read_bytes()
    with open_database(path) as database:
        with pytest.raises(sqlite3.OperationalError):
            database.connection.execute("DELETE FROM run")
        build_result = board.build(database, context(), _options())
    assert build_result.table("identities").rows
    assert before == path.read_bytes()


def _options() -> object:
    from monitor.report.views.common import Options

    return Options()


def _write_for_a_while(path: str, seconds: float, done: multiprocessing.Queue[object]) -> None:
    """Record results one transaction after another (the daemon's pattern) for a while."""
    from monitor.model.outcomes import Outcome
    from monitor.model.probes import ProbeResult, RunRecord
    from monitor.store import Store

    count = 0
    errors: list[str] = []
    with Store.open(Path(path)) as store:
        done.put("started")
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = datetime.now(UTC)
            result = ProbeResult(
                identity="sales-sync",
                environment="contoso-prod",
                tenant="contoso",
                credential_type="client_secret",
                started_at=now,
                duration_ms=1,
                outcome=Outcome.OK if count % 3 else Outcome.UNREACHABLE,
                stage="dataverse",
            )
            try:
                store.probes.record_results(
                    RunRecord(str(uuid.uuid4()), "scheduled", now), [result]
                )
                count += 1
            except Exception as error:  # reported to the test, which fails on any
                errors.append(f"{type(error).__name__}: {error}")
    done.put((count, errors))


def test_reports_while_a_writer_commits(history_db: Path, tmp_path: Path) -> None:
    """A writer process commits state changes continuously while the board and a history are
    read again and again: no "database is locked", no error, and the writer is not held up."""
    path = _copy(history_db, tmp_path)
    spawn = multiprocessing.get_context("spawn")
    done: multiprocessing.Queue[object] = spawn.Queue()
    writer = spawn.Process(target=_write_for_a_while, args=(str(path), 1.5, done))
    writer.start()
    assert "started" == done.get(timeout=30)
    reads = 0
    errors: list[str] = []
    while writer.is_alive():
        now = datetime.now(UTC)
        try:
            build(board, path, context(now=now))
            build(history, path, context(now=now, identities={"sales-sync"}, days=1))
            reads += 1
        except Exception as error:  # collected, the test fails on any
            errors.append(f"{type(error).__name__}: {error}")
    writes, writer_errors = done.get(timeout=30)  # type: ignore[misc]
    writer.join(timeout=10)
    assert (0, [], []) == (writer.exitcode, errors, writer_errors)
    assert reads > 0
    assert writes > 0
