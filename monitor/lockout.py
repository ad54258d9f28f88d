"""Lockout safety for password identities: when to stop signing in, and for how long.

Entra smart lockout shares its failure counter with the real integration that uses the same
account; pass-through and federated tenants may lock after 2-3 failures. So after an answer that
says the password is wrong or expired the monitor spends no further attempt with the same
password value: it holds until the fingerprint of the configured password changes, or until an
operator forces one probe. Answers that do not judge the password (locked, disabled, not found,
blocked by policy, an unreadable Entra error) hold for a cool-down that doubles on every repeat
(1 h, 2 h, 4 h, ... capped at 24 h): the password may be right and the account locked by someone
else, so it recovers on its own, and a wrong one still costs at most a handful of sign-ins a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult
from monitor.probes.password import LockoutHold, lockout_trigger

MAX_COOLDOWN_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class LockoutDecision:
    hold: bool
    outcome: Outcome | None = None
    aadsts_code: int | None = None
    hold_until: datetime | None = None  # None with hold=True: until the password changes
    cooldown_seconds: float | None = None


def decide_guard(
    attempted: Sequence[ProbeResult],
    *,
    previous_cooldown_seconds: float | None,
    base_cooldown_seconds: float,
    now: datetime,
) -> LockoutDecision:
    """Given the results of real sign-in attempts of one password identity, decide the hold.

    Which answers hold, and whether until the password changes or for a cool-down, is
    :data:`monitor.probes.password.LOCKOUT_TRIGGERS`. A cool-down doubles the previous one (capped
    at a day). Results without a triggering answer release any hold.
    """
    trigger = lockout_trigger(attempted)
    if trigger is None:
        return LockoutDecision(False)
    if trigger.hold is LockoutHold.UNTIL_CHANGED:
        return LockoutDecision(True, trigger.outcome, trigger.aadsts_code)
    cooldown = (
        min(previous_cooldown_seconds * 2, MAX_COOLDOWN_SECONDS)
        if previous_cooldown_seconds
        else base_cooldown_seconds
    )
    return LockoutDecision(
        True,
        trigger.outcome,
        trigger.aadsts_code,
        hold_until=now + timedelta(seconds=cooldown),
        cooldown_seconds=cooldown,
    )
