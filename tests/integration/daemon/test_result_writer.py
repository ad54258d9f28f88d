"""The daemon's write-behind: passes handed over are committed in one transaction per window."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.daemon.writer import ResultWriter
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RunRecord
from monitor.store import Store

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def result(identity: str, at: datetime, outcome: Outcome = Outcome.OK) -> ProbeResult:
    return ProbeResult(
        identity=identity,
        environment="prod",
        tenant="contoso",
        credential_type="client_secret",
        started_at=at,
        duration_ms=40,
        outcome=outcome,
        stage="dataverse",
    )


def run(at: datetime) -> RunRecord:
    return RunRecord(run_id=uuid.uuid4().hex, kind="scheduled", started_at=at, finished_at=at)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


def stored_runs(store: Store) -> set[str]:
    with sqlite3.connect(store.path) as connection:
        return {row[0] for row in connection.execute("SELECT run_id FROM run")}


def test_passes_wait_for_the_window_then_commit_together(store: Store) -> None:
    writer = ResultWriter(store, window_seconds=3600)
    runs = [run(T0 + timedelta(seconds=i)) for i in range(5)]
    for i, record in enumerate(runs):
        writer.submit(record, [result(f"app{i}", record.started_at)])
    assert set() == stored_runs(store)
    assert 5 == writer.pending

    assert writer.flush()
    assert {record.run_id for record in runs} == stored_runs(store)
    assert 0 == writer.pending
    assert 5 == len(store.probes.latest_states())


def test_state_advances_in_start_order_across_passes(store: Store) -> None:
    writer = ResultWriter(store, window_seconds=3600)
    late, early = run(T0 + timedelta(minutes=15)), run(T0)
    writer.submit(late, [result("app", late.started_at, Outcome.OK)])
    writer.submit(early, [result("app", early.started_at, Outcome.CREDENTIAL_INVALID)])
    writer.flush()
    (state,) = store.probes.latest_states()
    assert Outcome.OK is state.outcome


def test_a_bad_pass_is_refused_when_handed_over(store: Store) -> None:
    writer = ResultWriter(store, window_seconds=3600)
    naive = result("app", T0).evolve(started_at=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        writer.submit(run(T0), [naive])
    assert 0 == writer.pending


def test_close_commits_what_is_queued(store: Store) -> None:
    writer = ResultWriter(store, window_seconds=3600)
    writer.start()
    record = run(T0)
    writer.submit(record, [result("app", T0)])
    assert writer.close(timeout=5)
    assert {record.run_id} == stored_runs(store)


def test_the_thread_commits_each_window(store: Store) -> None:
    writer = ResultWriter(store, window_seconds=0.05)
    writer.start()
    try:
        record = run(T0)
        writer.submit(record, [result("app", T0)])
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while writer.pending and datetime.now(UTC) < deadline:
            pass
        assert {record.run_id} == stored_runs(store)
    finally:
        writer.close(timeout=5)


def test_a_refused_commit_keeps_the_results_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database locked by another process past the busy timeout: nothing is lost, the
    next flush commits."""
    import monitor.store.database as db

    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    with Store.open(tmp_path / "monitor.db") as store:
        writer = ResultWriter(store, window_seconds=3600)
        record = run(T0)
        writer.submit(record, [result("app", T0)])
        blocker = sqlite3.connect(store.path, timeout=0, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            assert not writer.flush()
            assert 1 == writer.pending
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert writer.flush()
        assert {record.run_id} == stored_runs(store)


def test_the_commit_hook_sees_each_committed_result_once_in_start_order(store: Store) -> None:
    """The evaluation gate learns of results only once they are stored (an evaluation started
    earlier could not see them); a failing hook loses nothing."""
    seen: list[list[str]] = []
    writer = ResultWriter(
        store, window_seconds=3600, on_commit=lambda rs: seen.append([r.identity for r in rs])
    )
    late, early = run(T0 + timedelta(seconds=5)), run(T0)
    writer.submit(late, [result("late", late.started_at)])
    writer.submit(early, [result("early", early.started_at)])
    assert [] == seen
    assert writer.flush()
    assert writer.flush()
    assert [["early", "late"]] == seen

    def broken(_results: object) -> None:
        raise RuntimeError("hook bug")

    failing = ResultWriter(store, window_seconds=3600, on_commit=broken)
    record = run(T0 + timedelta(seconds=9))
    failing.submit(record, [result("third", record.started_at)])
    assert failing.flush()
    assert record.run_id in stored_runs(store)
    assert 0 == failing.pending
