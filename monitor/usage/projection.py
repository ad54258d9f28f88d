"""Usage as a share of an allocation, and when the recent daily trend reaches the allocation.

The allocation is per 24 hours: it does not accumulate, so "exhausted" means the day on which one
day's requests reach the allocation. The trend is a least-squares line through the **complete**
days of the last ``trend_days`` days (today is partial and would pull it down); days without data
are left out, not counted as zero (no report imported is not the same as no requests). The newest
day with data, today included, is the "latest" usage that is judged as it stands.

All arithmetic is exact (:class:`fractions.Fraction`), so a boundary such as "exactly 80%" is
decided the same way every time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

# A trend that reaches the allocation later than this is not a forecast worth stating.
MAX_FORECAST_DAYS = 366


@dataclass(frozen=True)
class DailyUsage:
    """The requests of one identity (or a pool) on one UTC day, and where the count came from."""

    day: date
    requests: int
    source: str  # e.g. "licensed-user report", "non-licensed report", "recorded by the integration"


@dataclass(frozen=True)
class Projection:
    """Usage against an allocation as of ``today`` (a UTC date).

    ``latest`` is the newest day with data in the window (None: no recent data);
    ``projected_share`` the highest share the trend line reaches between today and
    ``horizon_day`` (None without complete days); ``exhaustion_day`` the first day from today on
    which the trend reaches the allocation (today if it already has), None if it does not within
    :data:`MAX_FORECAST_DAYS`.
    """

    allocation: int
    today: date
    latest: DailyUsage | None
    latest_share: Fraction | None
    trend_points: int
    slope_per_day: Fraction | None
    projected_share: Fraction | None
    horizon_day: date
    exhaustion_day: date | None


def project(
    series: Iterable[DailyUsage],
    allocation: int,
    today: date,
    *,
    trend_days: int = 7,
    horizon_days: int = 7,
) -> Projection:
    """Given daily usage, a positive allocation and today's UTC date, return the projection.

    Days after today and days older than *trend_days* are ignored. With one complete day the
    trend is flat at that day's value. Raise ValueError for a non-positive allocation or window.
    """
    if allocation <= 0:
        raise ValueError(f"allocation must be positive, got {allocation}")
    if trend_days < 1 or horizon_days < 0:
        raise ValueError("trend_days must be at least 1 and horizon_days at least 0")
    first = today - timedelta(days=trend_days)
    by_day: dict[date, DailyUsage] = {}
    for item in series:
        if first <= item.day <= today:
            by_day[item.day] = item
    horizon_day = today + timedelta(days=horizon_days)
    latest = by_day[max(by_day)] if by_day else None
    latest_share = Fraction(latest.requests, allocation) if latest is not None else None

    # x: days relative to today (negative for the complete days), y: requests.
    points = [((day - today).days, item.requests) for day, item in by_day.items() if day < today]
    if not points:
        return Projection(allocation, today, latest, latest_share, 0, None, None, horizon_day, None)
    n = len(points)
    mean_x = Fraction(sum(x for x, _ in points), n)
    mean_y = Fraction(sum(y for _, y in points), n)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = (
        Fraction(0) if spread == 0 else sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    )

    def at(x: int) -> Fraction:
        return mean_y + slope * (x - mean_x)

    projected = max(at(0), at(horizon_days), Fraction(0))
    exhaustion: date | None = None
    if at(0) >= allocation:
        exhaustion = today
    elif slope > 0:
        reach = mean_x + (allocation - mean_y) / slope  # > 0 because at(0) < allocation
        days = math.ceil(reach)
        if days <= MAX_FORECAST_DAYS:
            exhaustion = today + timedelta(days=days)
    return Projection(
        allocation,
        today,
        latest,
        latest_share,
        n,
        slope,
        projected / allocation,
        horizon_day,
        exhaustion,
    )


def percent(share: Fraction | None) -> str:
    """Return a share as people read it: ``"82%"``, ``"0.4%"``, ``"79.9%"``, ``"unknown"``."""
    if share is None:
        return "unknown"
    hundred = share * 100
    if hundred.denominator == 1:
        return f"{hundred.numerator}%"
    return f"{float(hundred):.1f}%"


def reaches(share: Fraction | None, threshold_percent: float) -> bool:
    """Return whether *share* is at or above *threshold_percent* (exactly, no float rounding)."""
    if share is None:
        return False
    return share * 100 >= Fraction(str(threshold_percent))
