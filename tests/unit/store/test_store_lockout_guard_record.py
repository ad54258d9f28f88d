"""LockoutGuard.holds: when a stored guard still holds sign-ins back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.model.lockout import LockoutGuard
from monitor.model.outcomes import Outcome

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _guard(hold_until: datetime | None, fingerprint: str | None = "old") -> LockoutGuard:
    return LockoutGuard(
        identity="dataverse-sync",
        credential_fingerprint=fingerprint,
        outcome=Outcome.CREDENTIAL_INVALID,
        aadsts_code=50126,
        since=T0,
        hold_until=hold_until,
        cooldown_seconds=None,
        blocked_attempts=0,
        last_blocked_at=None,
        forced_at=None,
    )


@pytest.mark.parametrize(
    ("hold_until", "stored", "configured", "now", "expected"),
    [
        (None, "old", "old", T0 + timedelta(days=30), True),
        (None, "old", "new", T0, False),
        (T0 + timedelta(hours=1), "old", "old", T0 + timedelta(minutes=59), True),
        (T0 + timedelta(hours=1), "old", "old", T0 + timedelta(hours=1), False),
        (T0 + timedelta(hours=1), "old", "new", T0, False),
        (None, None, "new", T0, True),
        (None, "old", None, T0, True),
    ],
)
def test_guard_holds(
    hold_until: datetime | None,
    stored: str | None,
    configured: str | None,
    now: datetime,
    expected: bool,
) -> None:
    """A guard holds until its time (if any) unless the configured credential changed; an
    unknown fingerprint is never taken as a change."""
    assert _guard(hold_until, stored).holds(now, configured) is expected
