"""The one rule for "in N days": whole days rounded down, hours under a day, minutes under an
hour, the same count as a number, negative when past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.model.clock import days_left, in_days_words, span_words

DEADLINE = datetime(2026, 12, 16, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "words", "short", "number"),
    [
        (timedelta(days=10), "in 10 days", "in 10d", 10),
        (timedelta(days=9, hours=23, minutes=59), "in 9 days", "in 9d", 9),
        (timedelta(days=1), "in 1 day", "in 1d", 1),
        (timedelta(hours=23, minutes=59), "in 23 hours", "in 23h", 0),
        (timedelta(hours=1), "in 1 hour", "in 1h", 0),
        (timedelta(minutes=59, seconds=59), "in 59 minutes", "in 59m", 0),
        (timedelta(seconds=30), "in 1 minute", "in 1m", 0),
        (timedelta(0), "1 minute ago", "1m ago", 0),
        (-timedelta(seconds=1), "1 minute ago", "1m ago", 0),
        (-timedelta(hours=5, minutes=3), "5 hours ago", "5h ago", 0),
        (-timedelta(days=1), "1 day ago", "1d ago", -1),
        (-timedelta(days=3, hours=2), "3 days ago", "3d ago", -3),
    ],
    ids=[
        "ten-days",
        "a-minute-short-of-ten-days",
        "exactly-one-day",
        "23h59m",
        "exactly-one-hour",
        "under-an-hour",
        "under-a-minute",
        "at-the-deadline",
        "just-past",
        "hours-past",
        "a-day-past",
        "days-past",
    ],
)
def test_days_are_whole_days_rounded_down_and_never_in_0_days(
    before: timedelta, words: str, short: str, number: int
) -> None:
    """Words, short words and the number follow one rule at every edge: whole days rounded
    down, then hours, then minutes; the number is 0 within a day either side and negative only
    once a whole day has passed."""
    now = DEADLINE - before
    assert (words, short, number) == (
        in_days_words(DEADLINE, now),
        in_days_words(DEADLINE, now, short=True),
        days_left(DEADLINE, now),
    )


def test_the_number_and_the_words_agree_over_a_month() -> None:
    """Every 7 minutes over 30 days either side, "in N days" / "N days ago" carries exactly the
    magnitude of days_left, and "0 days" never appears."""
    step = timedelta(minutes=7)
    now = DEADLINE - timedelta(days=30)
    while now < DEADLINE + timedelta(days=30):
        words = span_words(DEADLINE, now)
        number = days_left(DEADLINE, now)
        assert not words.startswith("0 ")
        if "day" in words:
            assert abs(number) == int(words.split()[0])
        else:
            assert 0 == number
        now += step
