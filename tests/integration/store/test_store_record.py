"""Recording results: stored rows, identity state, state changes, rollups, atomicity."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from monitor.model.lockout import LockoutGuard
from monitor.model.outcomes import Outcome
from monitor.model.probes import DailyStats, ProbeResult, RateLimit, RunRecord
from monitor.store import Store

MakeResult = Callable[..., ProbeResult]
MakeRun = Callable[..., RunRecord]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = ("run", "probe_result", "identity_state", "state_change", "probe_stats_daily")


def _counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    try:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in TABLES
        }
    finally:
        connection.close()


def _transitions(store: Store) -> list[tuple[str | None, str]]:
    return [
        (None if change.from_outcome is None else change.from_outcome.value, change.to_outcome)
        for change in store.probes.state_changes()
    ]


def test_results_round_trip(store: Store, make_result: MakeResult, make_run: MakeRun) -> None:
    """Every field of a result comes back as it went in, times as aware UTC."""
    local_time = datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    original = make_result(
        started_at=local_time,
        duration_ms=842,
        outcome=Outcome.THROTTLED,
        stage="dataverse",
        message="HTTP 429 from WhoAmI",
        aadsts_code=None,
        oauth_error=None,
        http_status=429,
        dataverse_error_code="0x80072322",
        correlation_id="0b6a3f4e-8a1c-4e43-9d6b-5f3c2a1b0c9d",
        trace_id="4f2d1c0b",
        token_source="identity_provider",
        rate_limit=RateLimit(burst_remaining=0, time_remaining=1200000, retry_after_seconds=30),
        credential_fingerprint="a" * 32,
        user_id="11111111-2222-3333-4444-555555555555",
        organization_id="66666666-7777-8888-9999-000000000000",
    )
    run = make_run()
    store.probes.record_results(run, [original])
    [stored] = store.probes.recent_results()
    assert stored.run_id == run.run_id
    assert stored.result == original
    assert stored.result.started_at.tzinfo == UTC
    assert stored.result.started_at == local_time


def test_first_observation_is_a_change_from_none(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """The first result of an identity/environment is a state change from None."""
    changes = store.probes.record_results(make_run(), [make_result()])
    assert [(c.identity, c.environment, c.from_outcome, c.to_outcome) for c in changes] == [
        ("sales-sync", "contoso-prod", None, Outcome.OK)
    ]
    assert changes[0].at == T0
    assert changes[0].result_id == store.probes.recent_results()[0].id


def test_outcome_changes_and_counters(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A change of outcome (also between failure classes) writes a state change; repeats do not.
    Failures count in a row across classes; a success resets them."""
    outcomes = [
        Outcome.OK,
        Outcome.OK,
        Outcome.UNREACHABLE,
        Outcome.THROTTLED,
        Outcome.THROTTLED,
        Outcome.OK,
    ]
    states = []
    for minute, outcome in enumerate(outcomes):
        store.probes.record_results(make_run(), [make_result(minute * 15, outcome=outcome)])
        [state] = store.probes.latest_states()
        states.append(
            (state.outcome.value, state.consecutive_failures, state.consecutive_successes)
        )
    assert states == [
        ("ok", 0, 1),
        ("ok", 0, 2),
        ("unreachable", 1, 0),
        ("throttled", 2, 0),
        ("throttled", 3, 0),
        ("ok", 0, 1),
    ]
    assert _transitions(store) == [
        (None, "ok"),
        ("ok", "unreachable"),
        ("unreachable", "throttled"),
        ("throttled", "ok"),
    ]
    [state] = store.probes.latest_states()
    assert state.since == T0 + timedelta(minutes=75)
    assert state.last_success_at == T0 + timedelta(minutes=75)


def test_since_and_last_success_follow_the_outcome(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """``since`` is the start of the current outcome; ``last_success_at`` the newest ok."""
    store.probes.record_results(
        make_run(),
        [
            make_result(0),
            make_result(15),
            make_result(30, outcome=Outcome.CREDENTIAL_EXPIRED, stage="token"),
            make_result(45, outcome=Outcome.CREDENTIAL_EXPIRED, stage="token"),
        ],
    )
    [state] = store.probes.latest_states()
    assert (state.since, state.last_success_at, state.last_probe_at) == (
        T0 + timedelta(minutes=30),
        T0 + timedelta(minutes=15),
        T0 + timedelta(minutes=45),
    )


def test_held_result_repeating_the_outcome_counts_nothing(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A held result (no sign-in) repeating the current outcome is stored but is neither a
    change nor a fresh failure, and does not move ``last_attempt_at``."""
    wrong = {"outcome": Outcome.CREDENTIAL_INVALID, "stage": "token", "aadsts_code": 50126}
    store.probes.record_results(make_run(), [make_result(0, **wrong)])
    changes = store.probes.record_results(
        make_run(),
        [
            make_result(60, attempted=False, **(wrong | {"stage": "guard"})),
            make_result(120, attempted=False, **(wrong | {"stage": "guard"})),
        ],
    )
    [state] = store.probes.latest_states()
    assert changes == []
    assert (state.consecutive_failures, state.consecutive_successes) == (1, 0)
    assert state.last_attempt_at == T0
    assert state.last_probe_at == T0 + timedelta(minutes=120)
    assert state.since == T0
    assert [stored.result.attempted for stored in store.probes.recent_results()] == [
        False,
        False,
        True,
    ]


def test_held_result_with_a_new_outcome_is_a_change(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A held failure in an environment that was ok changes the state (the credential is known
    bad) and ends the success streak, but is not counted as a failed attempt."""
    store.probes.record_results(make_run(), [make_result(0), make_result(15)])
    changes = store.probes.record_results(
        make_run(),
        [make_result(30, outcome=Outcome.ACCOUNT_LOCKED, stage="guard", attempted=False)],
    )
    [state] = store.probes.latest_states()
    assert [(c.from_outcome, c.to_outcome) for c in changes] == [
        (Outcome.OK, Outcome.ACCOUNT_LOCKED)
    ]
    assert (state.outcome, state.consecutive_failures, state.consecutive_successes) == (
        Outcome.ACCOUNT_LOCKED,
        0,
        0,
    )
    assert state.last_attempt_at == T0 + timedelta(minutes=15)
    assert state.since == T0 + timedelta(minutes=30)


def test_results_are_applied_in_time_order(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """Results handed over out of order are applied by ``started_at``."""
    changes = store.probes.record_results(
        make_run(),
        [make_result(30, outcome=Outcome.UNREACHABLE), make_result(0), make_result(15)],
    )
    assert [(c.from_outcome, c.to_outcome) for c in changes] == [
        (None, Outcome.OK),
        (Outcome.OK, Outcome.UNREACHABLE),
    ]
    [state] = store.probes.latest_states()
    assert state.outcome is Outcome.UNREACHABLE


def test_states_are_per_identity_and_environment(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """Each identity/environment pair has its own state; latest_states filters by identity."""
    store.probes.record_results(
        make_run(),
        [
            make_result(environment="contoso-prod"),
            make_result(environment="contoso-test", outcome=Outcome.NOT_IN_ENVIRONMENT),
            make_result(identity="dataverse-sync", credential_type="password"),
        ],
    )
    assert [(s.identity, s.environment, s.outcome) for s in store.probes.latest_states()] == [
        ("dataverse-sync", "contoso-prod", Outcome.OK),
        ("sales-sync", "contoso-prod", Outcome.OK),
        ("sales-sync", "contoso-test", Outcome.NOT_IN_ENVIRONMENT),
    ]
    assert [s.environment for s in store.probes.latest_states(identity="sales-sync")] == [
        "contoso-prod",
        "contoso-test",
    ]


def test_run_counts_and_repeated_run_id(
    db_path: Path, store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A run row counts its probes; recording more results under the same run id adds to it."""
    run = make_run()
    store.probes.record_results(run, [make_result(0), make_result(1, outcome=Outcome.UNREACHABLE)])
    later = RunRecord(run.run_id, run.kind, run.started_at, T0 + timedelta(minutes=9))
    store.probes.record_results(later, [make_result(2)])
    connection = sqlite3.connect(db_path)
    try:
        rows = connection.execute(
            "SELECT run_id, kind, probes, ok, failed, finished_at, monitor_version FROM run"
        ).fetchall()
    finally:
        connection.close()
    finished_us = int((T0 + timedelta(minutes=9)).timestamp()) * 1_000_000
    assert rows == [(run.run_id, "check", 3, 2, 1, finished_us, run.monitor_version)]
    assert {stored.run_id for stored in store.probes.recent_results()} == {run.run_id}


def test_daily_rollup_counts(store: Store, make_result: MakeResult, make_run: MakeRun) -> None:
    """The daily rollup counts results by outcome nature per UTC day, across calls."""
    day_two = 12 * 60 + 30  # minutes from T0 (12:00) to 00:30 the next day
    store.probes.record_results(
        make_run(),
        [
            make_result(0, duration_ms=100),
            make_result(15, duration_ms=300, outcome=Outcome.CREDENTIAL_INVALID, stage="token"),
            make_result(30, duration_ms=0, outcome=Outcome.CREDENTIAL_INVALID, attempted=False),
        ],
    )
    store.probes.record_results(
        make_run(),
        [
            make_result(45, duration_ms=900, outcome=Outcome.UNREACHABLE),
            make_result(60, duration_ms=50, outcome=Outcome.TLS_ERROR),
            make_result(day_two, duration_ms=70),
            make_result(day_two, duration_ms=80, environment="contoso-test"),
        ],
    )
    assert store.probes.daily_stats() == [
        DailyStats("sales-sync", "contoso-prod", date(2026, 3, 1), 1, 2, 1, 1, 1, 5, 1350, 900),
        DailyStats("sales-sync", "contoso-prod", date(2026, 3, 2), 1, 0, 0, 0, 0, 1, 70, 70),
        DailyStats("sales-sync", "contoso-test", date(2026, 3, 2), 1, 0, 0, 0, 0, 1, 80, 80),
    ]
    assert [
        s.day for s in store.probes.daily_stats(environment="contoso-prod", since=date(2026, 3, 2))
    ] == [date(2026, 3, 2)]
    assert store.probes.daily_stats(identity="nobody") == []


def test_recent_results_filters_and_order(
    store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """recent_results returns newest first, limited, optionally by identity/environment/time."""
    store.probes.record_results(
        make_run(),
        [make_result(minute) for minute in range(5)]
        + [make_result(10, identity="other"), make_result(11, environment="contoso-test")],
    )
    newest = [stored.result.started_at for stored in store.probes.recent_results(limit=3)]
    assert newest == [T0 + timedelta(minutes=m) for m in (11, 10, 4)]
    only_prod = store.probes.recent_results("sales-sync", environment="contoso-prod", limit=100)
    assert len(only_prod) == 5
    since = store.probes.recent_results(since=T0 + timedelta(minutes=4))
    assert [stored.result.identity for stored in since] == ["sales-sync", "other", "sales-sync"]


def test_state_change_filters(store: Store, make_result: MakeResult, make_run: MakeRun) -> None:
    """state_changes filters by identity, environment and a half-open time range."""
    store.probes.record_results(
        make_run(),
        [
            make_result(0),
            make_result(10, outcome=Outcome.UNREACHABLE),
            make_result(20),
            make_result(5, identity="other"),
        ],
    )
    window = store.probes.state_changes(
        "sales-sync", environment="contoso-prod", since=T0, until=T0 + timedelta(minutes=20)
    )
    assert [c.to_outcome for c in window] == [Outcome.OK, Outcome.UNREACHABLE]
    assert [c.identity for c in store.probes.state_changes()] == [
        "sales-sync",
        "other",
        "sales-sync",
        "sales-sync",
    ]


def test_record_results_is_atomic(
    db_path: Path, store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """A failure at the last step of recording (the rollup) leaves nothing of the batch:
    no run, no result, no state, no state change."""
    store.probes.record_results(make_run(), [make_result(0)])
    before = _counts(db_path)
    states_before = store.probes.latest_states()
    connection = sqlite3.connect(db_path)
    try:
        connection.execute(
            "CREATE TRIGGER fail_rollup BEFORE UPDATE ON probe_stats_daily "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
        connection.commit()
    finally:
        connection.close()
    with pytest.raises(IntegrityError, match="injected failure"):
        store.probes.record_results(
            make_run(),
            [make_result(15, outcome=Outcome.CREDENTIAL_INVALID), make_result(30, identity="x")],
        )
    assert _counts(db_path) == before
    assert store.probes.latest_states() == states_before
    assert len(store.probes.state_changes()) == 1


def test_invalid_input_writes_nothing(
    db_path: Path, store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """An unknown run kind or outcome, or a naive time, is refused before anything is written."""
    with pytest.raises(ValueError, match="run kind"):
        store.probes.record_results(make_run(kind="nightly"), [make_result()])
    with pytest.raises(ValueError, match="not_an_outcome"):
        store.probes.record_results(
            make_run(), [make_result(), make_result(outcome="not_an_outcome")]
        )
    with pytest.raises(ValueError, match="naive"):
        store.probes.record_results(
            make_run(),
            [make_result(started_at=datetime(2026, 3, 1, 12, 0))],  # noqa: DTZ001
        )
    assert set(_counts(db_path).values()) == {0}


def test_retention_keeps_state_changes(
    db_path: Path, store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """Deleting old runs removes their results (cascade) but keeps state changes, the current
    state and the rollup, with their links to the deleted results set to NULL."""
    old_run = make_run()
    store.probes.record_results(old_run, [make_result(0, outcome=Outcome.UNREACHABLE)])
    connection = sqlite3.connect(db_path)
    try:
        connection.execute("PRAGMA foreign_keys=ON")
        with connection:
            connection.execute("DELETE FROM run WHERE run_id = ?", (old_run.run_id,))
    finally:
        connection.close()
    assert store.probes.recent_results() == []
    [change] = store.probes.state_changes()
    [state] = store.probes.latest_states()
    assert (change.to_outcome, change.result_id) == (Outcome.UNREACHABLE, None)
    assert (state.outcome, state.last_result_id) == (Outcome.UNREACHABLE, None)
    assert [stats.total for stats in store.probes.daily_stats()] == [1]


def test_reader_sees_what_the_writer_recorded(
    db_path: Path, store: Store, make_result: MakeResult, make_run: MakeRun
) -> None:
    """The read-only view returns the same records as the writer."""
    store.probes.record_results(
        make_run(), [make_result(0), make_result(5, outcome=Outcome.UNREACHABLE)]
    )
    store.guards.hold(
        LockoutGuard(
            "sales-sync", "f" * 32, Outcome.ACCOUNT_LOCKED, 50053, T0, None, 3600, 0, None, None
        )
    )
    with Store.open_readonly(db_path) as reader:
        assert reader.probes.latest_states() == store.probes.latest_states()
        assert reader.probes.recent_results() == store.probes.recent_results()
        assert reader.probes.state_changes() == store.probes.state_changes()
        assert reader.probes.daily_stats() == store.probes.daily_stats()
        assert reader.guards.all() == store.guards.all()
        assert reader.guards.get("sales-sync") == store.guards.get("sales-sync")
