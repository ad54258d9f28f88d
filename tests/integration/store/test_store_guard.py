"""The lockout guard API on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.outcomes import Outcome
from monitor.store import LockoutGuard, Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_no_guard_by_default(store: Store) -> None:
    """An identity without a guard has none, and guard updates on it do nothing."""
    assert store.get_guard("dataverse-sync") is None
    assert store.note_blocked_attempt("dataverse-sync", T0) is None
    assert store.note_forced_probe("dataverse-sync", T0) is None
    assert store.clear_guard("dataverse-sync") is False
    assert store.list_guards() == []


def test_set_and_get_guard(store: Store) -> None:
    """set_guard stores every field and returns what get_guard returns."""
    returned = store.set_guard(
        "dataverse-sync",
        fingerprint="ab" * 16,
        outcome=Outcome.ACCOUNT_LOCKED,
        aadsts_code=50053,
        since=T0,
        hold_until=T0 + timedelta(hours=1),
        cooldown_seconds=3600,
    )
    expected = LockoutGuard(
        identity="dataverse-sync",
        credential_fingerprint="ab" * 16,
        outcome=Outcome.ACCOUNT_LOCKED,
        aadsts_code=50053,
        since=T0,
        hold_until=T0 + timedelta(hours=1),
        cooldown_seconds=3600,
        blocked_attempts=0,
        last_blocked_at=None,
        forced_at=None,
    )
    assert returned == expected
    assert store.get_guard("dataverse-sync") == expected


def test_blocked_attempts_and_forced_probe_are_noted(store: Store) -> None:
    """Each held-back sign-in is counted with its time; a forced probe is recorded."""
    store.set_guard("dataverse-sync", "ab" * 16, Outcome.CREDENTIAL_INVALID, 50126, T0, None, None)
    store.note_blocked_attempt("dataverse-sync", T0 + timedelta(minutes=15))
    guard = store.note_blocked_attempt("dataverse-sync", T0 + timedelta(minutes=30))
    assert guard is not None
    assert (guard.blocked_attempts, guard.last_blocked_at) == (2, T0 + timedelta(minutes=30))
    forced = store.note_forced_probe("dataverse-sync", T0 + timedelta(hours=2))
    assert forced is not None
    assert forced.forced_at == T0 + timedelta(hours=2)
    assert store.get_guard("dataverse-sync") == forced


def test_set_guard_replaces_the_previous_one(store: Store) -> None:
    """Setting a guard again replaces it and starts its blocked-attempt count afresh."""
    store.set_guard("dataverse-sync", "ab" * 16, Outcome.ACCOUNT_LOCKED, 50053, T0, T0, 3600)
    store.note_blocked_attempt("dataverse-sync", T0)
    later = T0 + timedelta(hours=1)
    guard = store.set_guard(
        "dataverse-sync",
        "ab" * 16,
        Outcome.ACCOUNT_LOCKED,
        50053,
        later,
        later + timedelta(hours=2),
        7200,
        forced_at=later,
    )
    assert (guard.since, guard.cooldown_seconds, guard.blocked_attempts, guard.forced_at) == (
        later,
        7200,
        0,
        later,
    )
    assert store.list_guards() == [guard]


def test_list_and_clear_guards(store: Store) -> None:
    """list_guards is ordered by identity; clear_guard lifts one guard and reports it."""
    for name in ("zeta", "alpha"):
        store.set_guard(name, None, Outcome.PASSWORD_EXPIRED, 50055, T0, None, None)
    assert [guard.identity for guard in store.list_guards()] == ["alpha", "zeta"]
    assert store.clear_guard("zeta") is True
    assert store.clear_guard("zeta") is False
    assert [guard.identity for guard in store.list_guards()] == ["alpha"]
