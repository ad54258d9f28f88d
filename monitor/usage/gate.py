"""The engine's side of ``Retry-After``: before probing, which environments must wait.

:class:`RetryAfterGate` wraps :func:`monitor.usage.throttle.retry_after_holds` for one pass::

    gate = RetryAfterGate.load(store, [identity.name for identity in identities], now,
                               default_seconds=config.usage.default_retry_after_seconds)
    environments, held = gate.split(identity, now, fingerprint)
    # probe only `environments`; record `held` (attempted=False, outcome throttled) as results

A held result sends nothing (neither a token request nor WhoAmI) and, being ``attempted=False``,
changes no failure counter: the pair's state stays "throttled" until the hold ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config.model import IdentityConfig
from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult, RateLimit
from monitor.usage.throttle import (
    DEFAULT_RETRY_AFTER_SECONDS,
    MAX_HOLD_SECONDS,
    RetryAfterHold,
    hold_for,
    retry_after_holds,
)

# Results older than the longest hold plus a probe's duration cannot hold anything any more.
_LOOKBACK = timedelta(seconds=MAX_HOLD_SECONDS + 600)


class AttemptedResults(Protocol):
    def latest_attempted_results(
        self,
        since: datetime,
        identities: Sequence[str] | None = None,
        *,
        outcome: Outcome | None = None,
    ) -> list[ProbeResult]: ...


class RetryAfterGate:
    """The ``Retry-After`` holds in force at the start of a pass."""

    def __init__(self, holds: Sequence[RetryAfterHold]) -> None:
        self.holds = tuple(holds)

    @classmethod
    def load(
        cls,
        store: AttemptedResults,
        identities: Sequence[str],
        now: datetime,
        *,
        default_seconds: float = DEFAULT_RETRY_AFTER_SECONDS,
    ) -> RetryAfterGate:
        """Read the newest attempted results of *identities* and return the holds at *now*."""
        if not identities:
            return cls(())
        # Only a pair whose newest attempted answer was "throttled" can be held.
        results = store.latest_attempted_results(
            now - _LOOKBACK, list(identities), outcome=Outcome.THROTTLED
        )
        return cls(retry_after_holds(results, now, default_seconds=default_seconds))

    def split(
        self, identity: IdentityConfig, now: datetime, fingerprint: str | None
    ) -> tuple[list[str], list[ProbeResult]]:
        """Return the environments of *identity* to probe now, and a held result for each of
        the others."""
        probe: list[str] = []
        held: list[ProbeResult] = []
        for environment in identity.environments:
            hold = hold_for(self.holds, identity.name, environment)
            if hold is None:
                probe.append(environment)
            else:
                held.append(held_result(identity, environment, hold, now, fingerprint))
        return probe, held


def held_result(
    identity: IdentityConfig,
    environment: str,
    hold: RetryAfterHold,
    now: datetime,
    fingerprint: str | None,
) -> ProbeResult:
    """Return the result recorded for a pair the gate kept from being probed."""
    event = hold.event
    where = "its environments" if hold.environment is None else environment
    message = (
        f"not probed: {event.describe()} at {event.answered_at:%H:%M:%S} UTC; the monitor "
        f"honours it and calls {where} as this identity again after "
        f"{hold.until:%Y-%m-%d %H:%M:%S} UTC"
    )
    remaining = max(0, math.ceil((hold.until - now).total_seconds()))
    return ProbeResult(
        identity=identity.name,
        environment=environment,
        tenant=identity.tenant,
        credential_type=identity.credential_type,
        started_at=now,
        duration_ms=0,
        outcome=Outcome.THROTTLED,
        stage="guard",
        attempted=False,
        message=message,
        http_status=event.http_status,
        dataverse_error_code=event.error_code if event.service == "Dataverse" else None,
        rate_limit=RateLimit(retry_after_seconds=remaining),
        credential_fingerprint=fingerprint,
    )
