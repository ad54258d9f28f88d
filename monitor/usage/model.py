"""The usage picture at one moment: what the findings rules and ``monitor usage show`` read.

Plain frozen dataclasses, built by :func:`monitor.usage.gather.gather_usage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from monitor.usage.allocation import Allocation, LicenceFacts
from monitor.usage.footprint import Footprint
from monitor.usage.headroom import Headroom
from monitor.usage.projection import DailyUsage, Projection
from monitor.usage.throttle import ThrottleEvent


@dataclass(frozen=True)
class CallerTotal:
    """A report caller's requests over a period, and the identity it matched (if any)."""

    tenant: str
    caller_id: str
    caller_type: str
    identity: str | None
    requests: int
    note: str = ""  # e.g. "matches sales-sync and erp-sync: ambiguous"


@dataclass(frozen=True)
class IdentityUsage:
    """One identity: its allocation, daily usage and projection, headroom, 429s, footprint.

    ``projection`` is None when the allocation is unknown or the identity draws from the tenant
    pool (the pool is judged as a whole, :class:`PoolUsage`).
    """

    identity: str
    tenant: str
    kind: str
    allocation: Allocation
    licence_facts: LicenceFacts | None
    caller_ids: tuple[str, ...]
    series: tuple[DailyUsage, ...]
    projection: Projection | None
    headroom: tuple[Headroom, ...]
    throttles: tuple[ThrottleEvent, ...]
    footprint: tuple[Footprint, ...]


@dataclass(frozen=True)
class PoolUsage:
    """A tenant's non-licensed pool: its size, the daily total of every caller, the trend."""

    tenant: str
    allocation: Allocation
    series: tuple[DailyUsage, ...]
    projection: Projection | None
    identities: tuple[str, ...]  # configured identities that draw from it
    top_callers: tuple[CallerTotal, ...]  # on the newest day of the series


@dataclass(frozen=True)
class UsageOverview:
    """Usage of every configured identity and tenant pool as of ``as_of`` (``today`` is its UTC
    date)."""

    as_of: datetime
    today: date
    identities: tuple[IdentityUsage, ...]
    pools: tuple[PoolUsage, ...]
    unmatched_callers: tuple[CallerTotal, ...]
    licence_sources: tuple[str, ...]
