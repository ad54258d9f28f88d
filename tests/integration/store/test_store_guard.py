"""The lockout guard API on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.model.lockout import LockoutGuard
from monitor.model.outcomes import Outcome
from monitor.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def guard(
    identity: str,
    fingerprint: str | None,
    outcome: Outcome,
    aadsts_code: int | None,
    since: datetime,
    hold_until: datetime | None,
    cooldown_seconds: int | None,
    *,
    forced_at: datetime | None = None,
) -> LockoutGuard:
    """A fresh guard (no blocked attempt yet), as a lockout decision makes it."""
    return LockoutGuard(
        identity,
        fingerprint,
        outcome,
        aadsts_code,
        since,
        hold_until,
        cooldown_seconds,
        0,
        None,
        forced_at,
    )


def test_no_guard_by_default(store: Store) -> None:
    """An identity without a guard has none, and guard updates on it do nothing."""
    assert store.guards.get("dataverse-sync") is None
    assert store.guards.note_blocked_attempt("dataverse-sync", T0) is None
    assert store.guards.note_forced_probe("dataverse-sync", T0) is None
    assert store.guards.release("dataverse-sync") is False
    assert store.guards.all() == []


def test_set_and_get_guard(store: Store) -> None:
    """set_guard stores every field and returns what get_guard returns."""
    returned = store.guards.hold(
        guard(
            "dataverse-sync",
            "ab" * 16,
            Outcome.ACCOUNT_LOCKED,
            50053,
            T0,
            T0 + timedelta(hours=1),
            3600,
        )
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
    assert store.guards.get("dataverse-sync") == expected


def test_blocked_attempts_and_forced_probe_are_noted(store: Store) -> None:
    """Each held-back sign-in is counted with its time; a forced probe is recorded."""
    store.guards.hold(
        guard("dataverse-sync", "ab" * 16, Outcome.CREDENTIAL_INVALID, 50126, T0, None, None)
    )
    store.guards.note_blocked_attempt("dataverse-sync", T0 + timedelta(minutes=15))
    blocked = store.guards.note_blocked_attempt("dataverse-sync", T0 + timedelta(minutes=30))
    assert blocked is not None
    assert (blocked.blocked_attempts, blocked.last_blocked_at) == (2, T0 + timedelta(minutes=30))
    forced = store.guards.note_forced_probe("dataverse-sync", T0 + timedelta(hours=2))
    assert forced is not None
    assert forced.forced_at == T0 + timedelta(hours=2)
    assert store.guards.get("dataverse-sync") == forced


def test_set_guard_replaces_the_previous_one(store: Store) -> None:
    """Setting a guard again replaces it and starts its blocked-attempt count afresh."""
    store.guards.hold(
        guard("dataverse-sync", "ab" * 16, Outcome.ACCOUNT_LOCKED, 50053, T0, T0, 3600)
    )
    store.guards.note_blocked_attempt("dataverse-sync", T0)
    later = T0 + timedelta(hours=1)
    replaced = store.guards.hold(
        guard(
            "dataverse-sync",
            "ab" * 16,
            Outcome.ACCOUNT_LOCKED,
            50053,
            later,
            later + timedelta(hours=2),
            7200,
            forced_at=later,
        )
    )
    assert (
        replaced.since,
        replaced.cooldown_seconds,
        replaced.blocked_attempts,
        replaced.forced_at,
    ) == (
        later,
        7200,
        0,
        later,
    )
    assert store.guards.all() == [replaced]


def test_list_and_clear_guards(store: Store) -> None:
    """list_guards is ordered by identity; clear_guard lifts one guard and reports it."""
    for name in ("zeta", "alpha"):
        store.guards.hold(guard(name, None, Outcome.PASSWORD_EXPIRED, 50055, T0, None, None))
    assert [guard.identity for guard in store.guards.all()] == ["alpha", "zeta"]
    assert store.guards.release("zeta") is True
    assert store.guards.release("zeta") is False
    assert [guard.identity for guard in store.guards.all()] == ["alpha"]
