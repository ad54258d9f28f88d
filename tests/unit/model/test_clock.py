"""The clock helpers: stored times in the future, and noticing a wall-clock jump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.model.clock import ClockWatch, not_after

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clocks:
    """A wall clock and a monotonic clock that tests move."""

    def __init__(self) -> None:
        self.wall_seconds = 1_800_000_000.0
        self.monotonic_seconds = 1000.0

    def wall(self) -> float:
        return self.wall_seconds

    def monotonic(self) -> float:
        return self.monotonic_seconds

    def advance(self, seconds: float) -> None:
        self.wall_seconds += seconds
        self.monotonic_seconds += seconds


def test_a_stored_time_in_the_future_counts_as_now() -> None:
    """A past time is kept; one beyond the tolerance in the future becomes now."""
    assert NOW - timedelta(hours=1) == not_after(NOW - timedelta(hours=1), NOW)
    assert NOW == not_after(NOW + timedelta(days=1), NOW)
    assert NOW + timedelta(minutes=1) == not_after(
        NOW + timedelta(minutes=1), NOW, tolerance=timedelta(minutes=5)
    )


def test_time_passing_is_no_jump() -> None:
    """Both clocks advancing together: no jump, steady."""
    clocks = Clocks()
    watch = ClockWatch(wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.advance(3600)

    assert 0.0 == watch.check()
    assert watch.steady_for(86400)


def test_a_jump_forward_and_back_is_noticed_and_steadiness_restarts() -> None:
    """The wall clock set 100 days forward is a jump of that size; the clock counts as steady
    again only after the asked time without a further jump; setting it back is a jump too."""
    clocks = Clocks()
    watch = ClockWatch(wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.wall_seconds += 100 * 86400

    assert 100 * 86400 == watch.check()
    assert not watch.steady_for(3600)
    clocks.advance(3599)
    assert (0.0, False) == (watch.check(), watch.steady_for(3600))
    clocks.advance(1)
    assert watch.steady_for(3600)

    clocks.wall_seconds -= 100 * 86400
    assert -100 * 86400 == watch.check()
    assert not watch.steady_for(3600)


def test_small_drift_is_within_the_tolerance() -> None:
    """NTP slewing a few seconds is not a jump."""
    clocks = Clocks()
    watch = ClockWatch(tolerance_seconds=60, wall=clocks.wall, monotonic=clocks.monotonic)
    clocks.wall_seconds += 5

    assert 0.0 == watch.check()
