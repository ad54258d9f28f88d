"""429 answers and ``Retry-After``: which identity / environment pairs must not be called yet.

Every throttled answer is already stored with its probe result; this module reads those results
and never calls anything. The rule the probe pass applies before each probe is
:func:`retry_after_holds` (``docs/usage.md``, "Throttling and Retry-After"); a held pair is
recorded as a result with ``attempted=False`` (:mod:`monitor.usage.gate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.model.clock import not_after
from monitor.model.outcomes import Outcome

if TYPE_CHECKING:
    from monitor.model.probes import ProbeResult

MAX_HOLD_SECONDS = 3600
DEFAULT_RETRY_AFTER_SECONDS = 60.0
# Answers stored up to this far in the future are taken as they are (clocks of two processes).
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ThrottleEvent:
    """One throttled answer the monitor received."""

    identity: str
    environment: str
    tenant: str
    answered_at: datetime
    service: str  # "Dataverse" or "Entra ID"
    http_status: int | None
    retry_after_seconds: int | None
    error_code: str | None  # Dataverse error code (0x80072322 ...) or AADSTS code

    def describe(self) -> str:
        """Return e.g. ``Dataverse HTTP 429 0x80072322, Retry-After 300 s``."""
        parts = [self.service]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.error_code:
            parts.append(self.error_code)
        text = " ".join(parts)
        if self.retry_after_seconds is not None:
            text += f", Retry-After {self.retry_after_seconds} s"
        return text


def throttle_event(result: ProbeResult) -> ThrottleEvent | None:
    """Return the throttled answer *result* records, or None if it is not one.

    Only attempted results count: a held result repeats an answer, it did not receive one.
    """
    if not result.attempted or result.outcome != Outcome.THROTTLED:
        return None
    dataverse = result.stage == "dataverse"
    code: str | None
    if dataverse:
        code = result.dataverse_error_code
    else:
        code = f"AADSTS{result.aadsts_code}" if result.aadsts_code else None
    return ThrottleEvent(
        identity=result.identity,
        environment=result.environment,
        tenant=result.tenant,
        answered_at=result.started_at + timedelta(milliseconds=max(0, result.duration_ms)),
        service="Dataverse" if dataverse else "Entra ID",
        http_status=result.http_status,
        retry_after_seconds=result.rate_limit.retry_after_seconds,
        error_code=code,
    )


@dataclass(frozen=True)
class RetryAfterHold:
    """No request to ``environment`` (None: to any environment) as ``identity`` before
    ``until``, because of ``event``."""

    identity: str
    environment: str | None
    until: datetime
    event: ThrottleEvent

    def covers(self, identity: str, environment: str) -> bool:
        return identity == self.identity and self.environment in (None, environment)


def newest_attempted(results: Iterable[ProbeResult]) -> list[ProbeResult]:
    """Return the newest attempted result of each identity / environment pair."""
    newest: dict[tuple[str, str], ProbeResult] = {}
    for result in results:
        if not result.attempted:
            continue
        key = (result.identity, result.environment)
        current = newest.get(key)
        if current is None or result.started_at >= current.started_at:
            newest[key] = result
    return list(newest.values())


def retry_after_holds(
    results: Iterable[ProbeResult],
    now: datetime,
    *,
    default_seconds: float = DEFAULT_RETRY_AFTER_SECONDS,
    max_seconds: float = MAX_HOLD_SECONDS,
) -> list[RetryAfterHold]:
    """Given stored results (the newest attempted one of each pair decides) and the time, return
    the holds still in force, ordered by identity and environment."""
    holds: list[RetryAfterHold] = []
    for result in newest_attempted(results):
        event = throttle_event(result)
        if event is None:
            continue
        wait = (
            float(event.retry_after_seconds)
            if event.retry_after_seconds is not None
            else default_seconds
        )
        # An answer stored while the clock was ahead must not hold for longer than it said.
        answered = not_after(event.answered_at, now, tolerance=CLOCK_TOLERANCE)
        until = answered + timedelta(seconds=min(max(wait, 0.0), max_seconds))
        if until <= now:
            continue
        environment = event.environment if event.service == "Dataverse" else None
        holds.append(RetryAfterHold(event.identity, environment, until, event))
    holds.sort(key=lambda hold: (hold.identity, hold.environment or ""))
    return holds


def hold_for(
    holds: Sequence[RetryAfterHold], identity: str, environment: str
) -> RetryAfterHold | None:
    """Return the hold that keeps *identity* out of *environment* longest, or None."""
    covering = [hold for hold in holds if hold.covers(identity, environment)]
    return max(covering, key=lambda hold: hold.until) if covering else None
