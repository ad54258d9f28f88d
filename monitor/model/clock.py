"""The one clock: aware UTC time, and the check that a time is aware.

Only the outermost layers read the clock (commands, the daemon); everything below takes ``now``
or a :data:`Clock` so that tests can set the time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def require_aware(value: datetime | None, what: str) -> None:
    """Raise ValueError naming *what* if *value* is a naive datetime (None passes)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}); use UTC")
