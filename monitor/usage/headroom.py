"""Service-protection headroom at probe time, from the stored ``x-ms-ratelimit-*`` values.

Dataverse says on every answer what is left of the caller's 5-minute budget; the probe parses it
(:func:`monitor.probes.classify.parse_rate_limit`) and the store keeps it with the result. What
low headroom means, and why the monitor's own call sees it: ``docs/usage.md``, "Headroom".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import TYPE_CHECKING

from monitor.model.records import same_named

if TYPE_CHECKING:
    from monitor.model.probes import ProbeResult

DEFAULT_BURST_LIMIT = 6_000  # requests per 300 s per user per web server
DEFAULT_EXECUTION_TIME_LIMIT_MS = 1_200_000  # combined execution time per 300 s


@dataclass(frozen=True)
class Headroom:
    """What was left of the service-protection budget when the monitor called Dataverse.

    A share is the remaining value over the limit (capped at 1: a server may allow more than the
    default; 0 when the remainder is below zero, an overdrawn budget); None when the header was
    absent or unreadable.
    """

    identity: str
    environment: str
    tenant: str
    observed_at: datetime
    burst_remaining: int | None
    time_remaining_ms: int | None
    burst_share: Fraction | None
    time_share: Fraction | None


def _share(value: int | None, limit: int) -> Fraction | None:
    return None if value is None else min(max(Fraction(value, limit), Fraction(0)), Fraction(1))


def headroom_of(
    result: ProbeResult,
    *,
    burst_limit: int = DEFAULT_BURST_LIMIT,
    time_limit_ms: int = DEFAULT_EXECUTION_TIME_LIMIT_MS,
) -> Headroom | None:
    """Given a stored probe result, return the headroom it observed, or None if it observed
    none (no call reached Dataverse, or neither header was readable)."""
    if burst_limit <= 0 or time_limit_ms <= 0:
        raise ValueError("service-protection limits must be positive")
    if not result.attempted or result.stage != "dataverse":
        return None
    burst, time_ms = result.rate_limit.burst_remaining, result.rate_limit.time_remaining
    burst_share, time_share = _share(burst, burst_limit), _share(time_ms, time_limit_ms)
    if burst_share is None and time_share is None:
        return None
    return same_named(
        Headroom,
        result,
        observed_at=result.started_at,
        burst_remaining=burst,
        time_remaining_ms=time_ms,
        burst_share=burst_share,
        time_share=time_share,
    )
