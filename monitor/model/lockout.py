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

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult


class LockoutHold(enum.StrEnum):
    UNTIL_CHANGED = "until_changed"  # never send this password value again
    COOLDOWN = "cooldown"  # pause, doubling on every repeat (the engine's cool-down ladder)


LOCKOUT_TRIGGERS: Mapping[Outcome, LockoutHold] = MappingProxyType(
    {
        # The password is wrong, or right but no longer accepted: repeating it can only add
        # failed sign-ins. Held until the configured password (its fingerprint) changes.
        Outcome.CREDENTIAL_INVALID: LockoutHold.UNTIL_CHANGED,
        Outcome.PASSWORD_EXPIRED: LockoutHold.UNTIL_CHANGED,
        # Answers that do not judge the password. A locked account re-locks on every attempt,
        # even with the right password; disabled, unknown and policy-blocked accounts may be
        # fixed by an admin without a password change: pause, then try again.
        Outcome.ACCOUNT_LOCKED: LockoutHold.COOLDOWN,
        Outcome.ACCOUNT_DISABLED: LockoutHold.COOLDOWN,
        Outcome.IDENTITY_NOT_FOUND: LockoutHold.COOLDOWN,
        Outcome.POLICY_BLOCKED: LockoutHold.COOLDOWN,
        Outcome.RESOURCE_DISABLED: LockoutHold.COOLDOWN,
        Outcome.TENANT_RESTRICTED: LockoutHold.COOLDOWN,
        # An Entra error the monitor cannot read may have been a failed sign-in.
        Outcome.UNCLASSIFIED: LockoutHold.COOLDOWN,
    }
)
"""Outcomes after which the engine must not send the same password again (and for how long).

Not triggers: ``ok``; the transient classes (throttled, unreachable, service error: the
password was not judged); ``misconfigured`` (tenant, client or scope errors are rejected before
the password is checked, and need a configuration change anyway); ``tls_error``.
"""


@dataclass(frozen=True)
class LockoutTrigger:
    """The result that forbids retrying a password, and how long the hold lasts."""

    outcome: Outcome
    hold: LockoutHold
    aadsts_code: int | None
    result: ProbeResult


def lockout_trigger(results: Iterable[ProbeResult]) -> LockoutTrigger | None:
    """Given one run's results for a password identity, return the first lockout trigger.

    Only real sign-in answers count: ``attempted`` results of stage ``token``. An
    ``unclassified`` result counts only when Entra answered it (an AADSTS code or OAuth error),
    not when the monitor itself failed.
    """
    for result in results:
        if not result.attempted or result.stage != "token":
            continue
        hold = LOCKOUT_TRIGGERS.get(result.outcome)
        if hold is None:
            continue
        if (
            result.outcome is Outcome.UNCLASSIFIED
            and result.aadsts_code is None
            and result.oauth_error is None
        ):
            continue
        return LockoutTrigger(result.outcome, hold, result.aadsts_code, result)
    return None


@dataclass(frozen=True)
class LockoutGuard:
    """A hold on sign-ins for one identity after a definitive answer (wrong password, locked).

    The hold lasts while the configured credential still has ``credential_fingerprint`` and,
    when ``hold_until`` is set, until that time (a lockout cool-down); ``hold_until`` None means
    until the credential changes or an operator forces a probe.
    """

    identity: str
    credential_fingerprint: str | None
    outcome: Outcome
    aadsts_code: int | None
    since: datetime
    hold_until: datetime | None
    cooldown_seconds: int | None
    blocked_attempts: int
    last_blocked_at: datetime | None
    forced_at: datetime | None

    def holds(self, now: datetime, credential_fingerprint: str | None) -> bool:
        """Given the time and the fingerprint of the credential now configured, return whether
        a sign-in must still be held back.

        A changed credential always lifts the hold; an unknown fingerprint (None) on either side
        never counts as a change.
        """
        if (
            credential_fingerprint is not None
            and self.credential_fingerprint is not None
            and credential_fingerprint != self.credential_fingerprint
        ):
            return False
        return self.hold_until is None or now < self.hold_until


MAX_COOLDOWN_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class LockoutDecision:
    hold: bool
    outcome: Outcome | None = None
    aadsts_code: int | None = None
    hold_until: datetime | None = None  # None with hold=True: until the password changes
    cooldown_seconds: float | None = None

    def guard(self, identity: str, fingerprint: str | None, now: datetime) -> LockoutGuard:
        """Return the guard this decision asks for, as of *now*, for the credential with
        *fingerprint* (a fresh guard: no blocked attempt yet)."""
        return LockoutGuard(
            identity=identity,
            credential_fingerprint=fingerprint,
            outcome=self.outcome or Outcome.UNCLASSIFIED,
            aadsts_code=self.aadsts_code,
            since=now,
            hold_until=self.hold_until,
            cooldown_seconds=int(self.cooldown_seconds) if self.cooldown_seconds else None,
            blocked_attempts=0,
            last_blocked_at=None,
            forced_at=None,
        )


def decide_guard(
    attempted: Sequence[ProbeResult],
    *,
    previous_cooldown_seconds: float | None,
    base_cooldown_seconds: float,
    now: datetime,
) -> LockoutDecision:
    """Given the results of real sign-in attempts of one password identity, decide the hold.

    Which answers hold, and whether until the password changes or for a cool-down, is
    :data:`LOCKOUT_TRIGGERS`. A cool-down doubles the previous one (capped
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
