"""Time expressions of --since / --until / --within, at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.report.errors import ReportError
from monitor.report.timeexpr import parse_duration, parse_time, parse_window

NOW = datetime(2026, 3, 15, 12, 30, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(days=14)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 7D ", timedelta(days=7)),
        ("0d", timedelta(0)),
        ("now", timedelta(0)),
    ],
)
def test_relative_expressions_count_back_from_now(text: str, back: timedelta) -> None:
    """Relative expressions (and sums of them) are that long before now."""
    assert NOW - back == parse_time(text, now=NOW, zone=UTC, bound="since")


def test_date_opens_at_midnight_and_closes_at_the_next() -> None:
    """A bare date is its midnight as --since and the next midnight as --until, so the day
    named by --until is included in full."""
    assert datetime(2026, 3, 1, tzinfo=UTC) == parse_time(
        "2026-03-01", now=NOW, zone=UTC, bound="since"
    )
    assert datetime(2026, 3, 2, tzinfo=UTC) == parse_time(
        "2026-03-01", now=NOW, zone=UTC, bound="until"
    )


def test_dates_and_times_without_offset_are_in_the_display_zone() -> None:
    """Without an offset, a date or time is wall-clock time in the zone (local unless --utc)."""
    assert datetime(2026, 2, 28, 22, 0, tzinfo=UTC) == parse_time(
        "2026-03-01", now=NOW, zone=PLUS_TWO, bound="since"
    )
    assert datetime(2026, 3, 1, 10, 15, tzinfo=UTC) == parse_time(
        "2026-03-01T12:15", now=NOW, zone=PLUS_TWO, bound="since"
    )
    assert datetime(2026, 3, 1, 12, 15, 30, tzinfo=UTC) == parse_time(
        "2026-03-01 12:15:30", now=NOW, zone=UTC, bound="until"
    )


def test_times_with_an_offset_keep_it() -> None:
    """An explicit offset or Z wins over the display zone."""
    assert datetime(2026, 3, 1, 11, 0, tzinfo=UTC) == parse_time(
        "2026-03-01T12:00+01:00", now=NOW, zone=PLUS_TWO, bound="since"
    )
    assert datetime(2026, 3, 1, 12, 0, tzinfo=UTC) == parse_time(
        "2026-03-01T12:00Z", now=NOW, zone=PLUS_TWO, bound="since"
    )


def test_local_zone_is_the_default() -> None:
    """zone=None reads naive times in the system's local zone."""
    expected = datetime(2026, 3, 1, 12, 0).astimezone().astimezone(UTC)
    assert expected == parse_time("2026-03-01T12:00", now=NOW, zone=None, bound="since")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7x",
        "d7",
        "-7d",
        "7 days",
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "2026/03/01",
        "1e3d",
    ],
)
def test_bad_expressions_are_one_line_errors(text: str) -> None:
    """Anything else is a ReportError naming the option and the accepted forms."""
    with pytest.raises(ReportError) as raised:
        parse_time(text, now=NOW, zone=UTC, bound="since")
    message = str(raised.value)
    assert "--since" in message
    assert "\n" not in message
    assert "7d" in message


def test_duration() -> None:
    """--within takes relative durations only; absurd lengths are refused."""
    assert timedelta(days=90) == parse_duration("90d")
    with pytest.raises(ReportError, match="--within"):
        parse_duration("2026-03-01")
    with pytest.raises(ReportError, match="too long"):
        parse_duration("99999w")


def test_window_defaults_and_order() -> None:
    """--until defaults to now, --since to the view's default before --until; since must
    come before until."""
    assert (NOW - timedelta(days=30), NOW) == parse_window(
        None, None, now=NOW, zone=UTC, default_since=timedelta(days=30)
    )
    until = datetime(2026, 3, 2, tzinfo=UTC)
    assert (until - timedelta(days=30), until) == parse_window(
        None, "2026-03-01", now=NOW, zone=UTC, default_since=timedelta(days=30)
    )
    with pytest.raises(ReportError, match="must be before"):
        parse_window("1d", "2d", now=NOW, zone=UTC, default_since=timedelta(days=30))
    with pytest.raises(ReportError, match="must be before"):
        parse_window("0d", None, now=NOW, zone=UTC, default_since=timedelta(days=30))


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("0001-01-01", "since"),
        ("0001-01-01T00:00", "since"),
        ("0001-01-02", "until"),
        ("2200-01-01T00:00Z", "until"),
    ],
)
def test_times_near_the_ends_of_the_calendar_are_refused(text: str, bound: str) -> None:
    """A date or time more than 100 years away is one usage error (exit 2), not a ValueError or
    OverflowError from the local zone or the report's day arithmetic."""
    with pytest.raises(ReportError, match="too far") as caught:
        parse_time(text, now=NOW, zone=None, bound=bound)  # type: ignore[arg-type]
    assert 2 == caught.value.exit_code
