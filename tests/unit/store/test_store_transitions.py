"""next_state: how one result moves an identity's state (pure function)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.model.outcomes import Outcome
from monitor.model.probes import IdentityState, ProbeResult, is_change, next_state

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _result(minute: int, outcome: Outcome = Outcome.OK, **fields: Any) -> ProbeResult:
    return ProbeResult(
        identity="sales-sync",
        environment="contoso-prod",
        tenant="contoso",
        credential_type="client_secret",
        started_at=T0 + timedelta(minutes=minute),
        duration_ms=100,
        outcome=outcome,
        stage="dataverse",
        **fields,
    )


def _replay(*results: ProbeResult) -> IdentityState:
    state: IdentityState | None = None
    for number, result in enumerate(results, start=1):
        state = next_state(state, result, number)
    assert state is not None
    return state


def test_first_ok_result() -> None:
    """The first ok result starts the state with one success."""
    state = next_state(None, _result(0, credential_fingerprint="f1"), 7)
    assert state == IdentityState(
        identity="sales-sync",
        environment="contoso-prod",
        tenant="contoso",
        credential_type="client_secret",
        outcome=Outcome.OK,
        since=T0,
        last_probe_at=T0,
        last_attempt_at=T0,
        last_success_at=T0,
        consecutive_failures=0,
        consecutive_successes=1,
        credential_fingerprint="f1",
        last_result_id=7,
    )
    assert is_change(None, state)


def test_first_held_result_counts_nothing() -> None:
    """A first result that was held back sets the outcome but no counter or attempt time."""
    state = next_state(None, _result(0, Outcome.CREDENTIAL_INVALID, attempted=False), 1)
    assert (state.outcome, state.consecutive_failures, state.last_attempt_at) == (
        Outcome.CREDENTIAL_INVALID,
        0,
        None,
    )


def test_failures_count_across_failure_classes() -> None:
    """Consecutive failures keep counting when the failure class changes; ok resets them."""
    state = _replay(
        _result(0, Outcome.UNREACHABLE),
        _result(1, Outcome.THROTTLED),
        _result(2, Outcome.SERVICE_ERROR),
    )
    assert (state.consecutive_failures, state.since) == (3, T0 + timedelta(minutes=2))
    recovered = next_state(state, _result(3), 4)
    assert (recovered.consecutive_failures, recovered.consecutive_successes) == (0, 1)
    assert is_change(state, recovered)


def test_held_failure_ends_a_success_streak_without_counting() -> None:
    """A held failure after successes zeroes the successes but adds no failure."""
    state = _replay(_result(0), _result(1), _result(2, Outcome.ACCOUNT_LOCKED, attempted=False))
    assert (state.consecutive_successes, state.consecutive_failures) == (0, 0)
    assert state.last_attempt_at == T0 + timedelta(minutes=1)
    assert state.last_success_at == T0 + timedelta(minutes=1)


def test_fingerprint_is_kept_when_a_result_has_none() -> None:
    """A result without a fingerprint keeps the last known one; a new one replaces it."""
    state = _replay(_result(0, credential_fingerprint="f1"), _result(1))
    assert state.credential_fingerprint == "f1"
    assert (
        next_state(state, _result(2, credential_fingerprint="f2"), 3).credential_fingerprint == "f2"
    )


def test_older_result_does_not_move_last_probe_back() -> None:
    """A result older than the newest seen (a second writer) never moves times backwards."""
    state = _replay(_result(10), _result(5))
    assert (state.last_probe_at, state.last_attempt_at, state.last_success_at) == (
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10),
    )


def test_times_left_in_the_future_by_a_clock_set_back_give_way() -> None:
    """The clock was a day ahead for one probe and is set right: the next results' times
    replace the future ones instead of hiding behind them until tomorrow."""
    state = _replay(_result(24 * 60), _result(5))
    assert (state.last_probe_at, state.last_attempt_at, state.last_success_at) == (
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=5),
    )
