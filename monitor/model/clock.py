"""The one clock: aware UTC time, the check that a time is aware, and a watch for jumps.

Only the outermost layers read the clock (commands, the daemon); everything below takes ``now``
or a :data:`Clock` so that tests can set the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


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
