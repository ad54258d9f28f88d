"""Lockout safety for password identities: when to stop signing in, and for how long.

Entra smart lockout shares its failure counter with the real integration that uses the same
account; pass-through and federated tenants may lock after 2-3 failures. So after an answer that
says the password is wrong (or expired, or the account is locked) the monitor spends no further
attempt with the same password value: it holds until the fingerprint of the configured password
changes, or until an operator forces one probe. A lock answer is different (and so are "disabled", "not
found" and "blocked by policy"): the password may be right and the account locked by someone
else, so the hold ends after a cool-down that doubles on
every repeat (1 h, 2 h, 4 h, ... capped at 24 h), which keeps a wrong password to at most one failed
sign-in a day and lets a correct one recover on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult

# Answers after which the same password value is never sent again (until it changes): the
# password is wrong, or right but expired, so repeating it can only add failed sign-ins.
HOLD_UNTIL_CHANGED: frozenset[Outcome] = frozenset(
    {Outcome.CREDENTIAL_INVALID, Outcome.PASSWORD_EXPIRED}
)
# Answers that say nothing about the password: attempts pause for a doubling cool-down, so that
# an unlocked, re-enabled or un-blocked account is noticed without a stream of failed sign-ins.
HOLD_FOR_COOLDOWN: frozenset[Outcome] = frozenset(
    {
        Outcome.ACCOUNT_LOCKED,
        Outcome.ACCOUNT_DISABLED,
        Outcome.IDENTITY_NOT_FOUND,
        Outcome.POLICY_BLOCKED,
    }
)
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

    A hold that ends on its own (lock) doubles the previous cool-down; any other hold lasts until
    the password changes. Results without a guarding outcome release any hold.
    """
    for result in attempted:
        if result.stage != "token":
            continue
        if result.outcome in HOLD_UNTIL_CHANGED:
            return LockoutDecision(True, result.outcome, result.aadsts_code)
        if result.outcome in HOLD_FOR_COOLDOWN:
            cooldown = (
                min(previous_cooldown_seconds * 2, MAX_COOLDOWN_SECONDS)
                if previous_cooldown_seconds
                else base_cooldown_seconds
            )
            return LockoutDecision(
                True,
                result.outcome,
                result.aadsts_code,
                hold_until=now + timedelta(seconds=cooldown),
                cooldown_seconds=cooldown,
            )
    return LockoutDecision(False)
