"""The one clock: aware UTC time, the check that a time is aware, a watch for jumps, and the
one rule that turns a deadline into "in N days".

Only the outermost layers read the clock (commands, the daemon); everything below takes ``now``
or a :data:`Clock` so that tests can set the time.

**Days left** are counted the same way everywhere a person reads them (notices, ``monitor
check``, ``monitor posture``, the report's views and its CSV): whole days, rounded down, so a
deadline 9 days 23 hours away is "in 9 days" and one passed 3 days 2 hours ago "3 days ago".
Under a day the words say hours (rounded down), under an hour minutes (at least one): "in 0
days" never appears. :func:`days_left` is the same count as a number, negative when past.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def not_after(value: datetime, now: datetime, *, tolerance: timedelta = timedelta(0)) -> datetime:
    """Return a stored past time, or *now* if it lies more than *tolerance* in the future: a
    time written while the clock was ahead (then set back) must not postpone what is due."""
    return now if value > now + tolerance else value


def require_aware(value: datetime | None, what: str) -> None:
    """Raise ValueError naming *what* if *value* is a naive datetime (None passes)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}); use UTC")


class ClockWatch:
    """Notices when the wall clock jumps (NTP stepping it, an operator setting it, a VM
    resuming): the wall clock should advance as the monotonic clock does, so a change of their
    difference beyond *tolerance_seconds* is a jump. Destructive steps (retention) wait until
    the clock has been steady for a while (:meth:`steady_for`).

    Not thread-safe: one thread (the daemon's supervision loop) calls :meth:`check`.
    """

    def __init__(
        self,
        *,
        tolerance_seconds: float = 60.0,
        wall: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._wall = wall or time.time
        self._monotonic = monotonic or time.monotonic
        self._tolerance = tolerance_seconds
        self._offset = self._wall() - self._monotonic()
        self._last_jump: float | None = None  # monotonic time of the newest jump seen

    def check(self) -> float:
        """Return by how many seconds the wall clock jumped since the last check (0.0 within
        the tolerance; negative: set back)."""
        offset = self._wall() - self._monotonic()
        jump = offset - self._offset
        if abs(jump) <= self._tolerance:
            return 0.0
        self._offset = offset
        self._last_jump = self._monotonic()
        return jump

    def steady_for(self, seconds: float) -> bool:
        """Return whether no jump was seen in the last *seconds* (monotonic) seconds."""
        return self._last_jump is None or self._monotonic() - self._last_jump >= seconds


def days_left(deadline: datetime, now: datetime) -> int:
    """Return the whole days from *now* to *deadline*, rounded down, negative when it has
    passed: 9 for 9 days 23 hours ahead, -3 for 3 days 2 hours past, 0 within a day on either
    side (the module docstring has the rule)."""
    left = deadline - now
    whole = abs(left) // _DAY
    return whole if left >= timedelta(0) else -whole


def span_words(deadline: datetime, now: datetime, *, short: bool = False) -> str:
    """Return how far *deadline* is from *now*, by the rule of :func:`days_left`: "9 days",
    "5 hours", "20 minutes" ("9d", "5h", "20m" when *short*)."""
    span = abs(deadline - now)
    if span >= _DAY:
        count, unit = span // _DAY, "day"
    elif span >= _HOUR:
        count, unit = span // _HOUR, "hour"
    else:
        count, unit = max(1, span // _MINUTE), "minute"
    if short:
        return f"{count}{unit[0]}"
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def in_days_words(deadline: datetime, now: datetime, *, short: bool = False) -> str:
    """Return "in 9 days" before *deadline*, "3 days ago" from it on (see :func:`span_words`;
    "in 9d" / "3d ago" when *short*)."""
    amount = span_words(deadline, now, short=short)
    return f"in {amount}" if deadline > now else f"{amount} ago"
