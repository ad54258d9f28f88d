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
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from monitor.config.model import IdentityConfig
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit
from monitor.probes.results import identity_result
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


class RecentThrottles:
    """The daemon's memory of the pairs whose newest attempted answer was "throttled", so that
    the gate costs no database read per probe (an :class:`AttemptedResults` for
    :meth:`RetryAfterGate.load`).

    :meth:`load` seeds it from the database at start; the engine then tells it every pass's
    results (:meth:`observe`), before they are even committed. A throttled answer that another
    process (``monitor check``) recorded meanwhile is not seen: the daemon may then ask that
    environment once more, and honours the new answer. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._throttled: dict[tuple[str, str], ProbeResult] = {}
        self._newest: dict[tuple[str, str], datetime] = {}

    def load(self, store: AttemptedResults, now: datetime) -> None:
        """Remember the stored throttled answers that can still hold at *now*."""
        self.observe(store.latest_attempted_results(now - _LOOKBACK, outcome=Outcome.THROTTLED))

    def observe(self, results: Sequence[ProbeResult]) -> None:
        """Note the attempted results of a pass: a newer answer replaces an older one."""
        with self._lock:
            for result in results:
                if not result.attempted:
                    continue
                key = (result.identity, result.environment)
                newest = self._newest.get(key)
                if newest is not None and result.started_at < newest:
                    continue
                self._newest[key] = result.started_at
                if result.outcome is Outcome.THROTTLED:
                    self._throttled[key] = result
                else:
                    self._throttled.pop(key, None)

    def latest_attempted_results(
        self,
        since: datetime,
        identities: Sequence[str] | None = None,
        *,
        outcome: Outcome | None = None,
    ) -> list[ProbeResult]:
        """Return the remembered throttled answers started at or after *since* (only
        ``outcome=Outcome.THROTTLED`` can be asked: nothing else is kept)."""
        if outcome is not Outcome.THROTTLED:
            raise ValueError("RecentThrottles keeps throttled answers only")
        wanted = None if identities is None else set(identities)
        with self._lock:
            return [
                result
                for key, result in sorted(self._throttled.items())
                if result.started_at >= since and (wanted is None or key[0] in wanted)
            ]


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
    return identity_result(
        identity,
        environment,
        now,
        Outcome.THROTTLED,
        "guard",
        attempted=False,
        message=message,
        http_status=event.http_status,
        dataverse_error_code=event.error_code if event.service == "Dataverse" else None,
        rate_limit=RateLimit(retry_after_seconds=remaining),
        credential_fingerprint=fingerprint,
    )
