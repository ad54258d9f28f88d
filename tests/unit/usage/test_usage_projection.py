"""Projection maths: shares, the least-squares trend, exhaustion day, and their boundaries."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from monitor.usage.projection import DailyUsage, percent, project, reaches

TODAY = date(2026, 3, 10)


def days(*requests: int, end: date = TODAY - timedelta(days=1)) -> list[DailyUsage]:
    """Return consecutive daily usage ending on *end* (yesterday by default)."""
    first = end - timedelta(days=len(requests) - 1)
    return [DailyUsage(first + timedelta(days=i), n, "test") for i, n in enumerate(requests)]


def test_no_data_projects_nothing() -> None:
    """Without any day, there is no latest usage and no trend."""
    projection = project([], 1000, TODAY)

    assert (None, None, None, None) == (
        projection.latest,
        projection.latest_share,
        projection.projected_share,
        projection.exhaustion_day,
    )


def test_one_complete_day_is_a_flat_trend() -> None:
    """One day: slope 0, projected share equals that day's share, no exhaustion below 100%."""
    projection = project(days(600), 1000, TODAY, horizon_days=7)

    assert Fraction(0) == projection.slope_per_day
    assert Fraction(3, 5) == projection.projected_share == projection.latest_share
    assert projection.exhaustion_day is None


def test_linear_growth_reaches_the_allocation_on_the_exact_day() -> None:
    """100/day growth from 500: today would be 1200 -> already at 1000 (exhausted today)."""
    projection = project(days(500, 600, 700, 800, 900, 1000, 1100), 1000, TODAY)

    assert Fraction(100) == projection.slope_per_day
    assert TODAY == projection.exhaustion_day


def test_exhaustion_day_is_rounded_up_to_a_whole_day() -> None:
    """Yesterday 700, +100/day: today 800, 900 tomorrow, 1000 the day after (exactly)."""
    projection = project(days(500, 600, 700), 1000, TODAY)

    assert TODAY + timedelta(days=2) == projection.exhaustion_day
    projection = project(days(500, 600, 700), 1001, TODAY)
    assert TODAY + timedelta(days=3) == projection.exhaustion_day


def test_falling_trend_never_exhausts() -> None:
    """A negative slope gives no exhaustion day; the projected share is today's value."""
    projection = project(days(900, 800, 700), 1000, TODAY, horizon_days=7)

    assert projection.exhaustion_day is None
    assert Fraction(600, 1000) == projection.projected_share


def test_projection_never_goes_below_zero() -> None:
    """A steep fall is clamped at zero requests."""
    projection = project(days(300, 100), 1000, TODAY, horizon_days=7)

    assert Fraction(0) == projection.projected_share


def test_exhaustion_beyond_a_year_is_not_forecast() -> None:
    """+1 request a day from 10 reaches 1,000,000 in ages: no date is stated."""
    projection = project(days(10, 11, 12), 1_000_000, TODAY)

    assert projection.exhaustion_day is None


def test_today_counts_as_latest_but_not_in_the_trend() -> None:
    """Today's partial count is the latest usage; the trend uses complete days only."""
    series = [*days(100, 100), DailyUsage(TODAY, 950, "recorded")]

    projection = project(series, 1000, TODAY, horizon_days=7)

    assert Fraction(95, 100) == projection.latest_share
    assert 2 == projection.trend_points
    assert Fraction(1, 10) == projection.projected_share


def test_days_outside_the_window_and_future_days_are_ignored() -> None:
    """Only days from today - trend_days to today count."""
    old = DailyUsage(TODAY - timedelta(days=8), 999_999, "old")
    future = DailyUsage(TODAY + timedelta(days=1), 999_999, "future")

    projection = project([old, future, *days(200)], 1000, TODAY, trend_days=7)

    assert 1 == projection.trend_points
    assert projection.latest is not None
    assert 200 == projection.latest.requests


def test_gaps_are_left_out_not_counted_as_zero() -> None:
    """Days without data do not pull the trend down."""
    series = [
        DailyUsage(TODAY - timedelta(days=5), 400, "report"),
        DailyUsage(TODAY - timedelta(days=1), 400, "report"),
    ]

    projection = project(series, 1000, TODAY)

    assert Fraction(0) == projection.slope_per_day
    assert Fraction(2, 5) == projection.projected_share


@pytest.mark.parametrize(
    ("requests", "threshold", "expected"),
    [
        (800, 80, True),  # exactly at the threshold counts
        (799, 80, False),
        (1000, 100, True),
        (999, 100, False),
        (1001, 100, True),
    ],
)
def test_thresholds_are_exact(requests: int, threshold: float, expected: bool) -> None:
    """80% of 1000 is reached by 800 and not by 799: no float rounding at the boundary."""
    assert expected is reaches(Fraction(requests, 1000), threshold)


def test_fractional_threshold_is_exact() -> None:
    """A threshold such as 33.3 compares exactly, not through a float product."""
    assert reaches(Fraction(333, 1000), 33.3)
    assert not reaches(Fraction(332, 1000), 33.3)
    assert not reaches(None, 0.1)


def test_percent_formatting() -> None:
    """Whole percentages without decimals, others with one; unknown is said so."""
    assert ["90%", "0.5%", "79.9%", "unknown"] == [
        percent(Fraction(9, 10)),
        percent(Fraction(1, 200)),
        percent(Fraction(799, 1000)),
        percent(None),
    ]


def test_invalid_arguments_are_refused() -> None:
    """A zero allocation or an empty window is a programming error."""
    with pytest.raises(ValueError, match="allocation"):
        project([], 0, TODAY)
    with pytest.raises(ValueError, match="trend_days"):
        project([], 10, TODAY, trend_days=0)
