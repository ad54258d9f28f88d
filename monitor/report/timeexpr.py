"""Time expressions of ``--since`` / ``--until`` / ``--within``: ``7d``, ``12h``, ISO dates.

Pure functions: the caller passes ``now`` and the time zone naive dates and times are in (local
time, or UTC with ``--utc``). Everything returned is an aware UTC datetime.

* A relative expression counts back from *now*: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``, and
  sums such as ``1d12h``. ``now`` is *now*.
* An ISO date (``2026-03-01``) is that day's midnight as ``--since`` and the *next* midnight as
  ``--until``, so ``--since 2026-03-01 --until 2026-03-07`` covers both days in full.
* An ISO date and time (``2026-03-01T12:00``, ``2026-03-01 12:00:30``, ``...Z``, ``...+01:00``)
  is that instant; without an offset it is in the display time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from monitor.exits import EXIT_USAGE
from monitor.report.errors import ReportError

Bound = Literal["since", "until"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_RELATIVE = re.compile(r"(?:\d+\s*[smhdw]\s*)+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A year of 10,000 days back is already absurd; it also keeps timedelta from overflowing.
_MAX_SECONDS = 100 * 365 * 86400

HINT = "use e.g. 30m, 12h, 7d, 2w, or an ISO date/time like 2026-03-01 or 2026-03-01T12:00"


def parse_duration(text: str, *, option: str = "--within") -> timedelta:
    """Given ``7d``, ``12h``, ``1d12h`` ... return the duration.

    Raise ReportError (one line naming *option*) for anything else, including zero-length
    and absurdly long durations.
    """
    cleaned = text.strip().lower()
    if not cleaned or _RELATIVE.fullmatch(cleaned) is None:
        raise ReportError(f"bad duration {text!r} for {option}: {HINT}", EXIT_USAGE)
    seconds = sum(int(count) * _UNITS[unit] for count, unit in _PART.findall(cleaned))
    if seconds > _MAX_SECONDS:
        raise ReportError(f"duration {text!r} for {option} is too long (at most 100 years)")
    return timedelta(seconds=seconds)


def parse_time(text: str, *, now: datetime, zone: tzinfo | None, bound: Bound) -> datetime:
    """Given a time expression, return the aware UTC instant it means.

    *now* is aware; *zone* is the zone of dates and times written without an offset (None:
    the system's local zone); *bound*
    says whether a bare date opens (``since``: its midnight) or closes (``until``: the next
    midnight) a range. Raise ReportError (one line naming the option) if *text* is none of
    the accepted forms, or is more than 100 years from *now* (a report computes days and
    periods around it, which would overflow near the ends of the calendar).
    """
    try:
        moment = _parse_time(text, now=now, zone=zone, bound=bound)
    except (OverflowError, ValueError):
        moment = None
    if moment is None or abs(moment - now) > timedelta(seconds=_MAX_SECONDS):
        raise ReportError(f"time {text[:40]!r} for --{bound} is too far (at most 100 years away)")
    return moment


def _parse_time(text: str, *, now: datetime, zone: tzinfo | None, bound: Bound) -> datetime:
    option = f"--{bound}"
    cleaned = text.strip()
    lowered = cleaned.lower()
    if lowered == "now":
        return now.astimezone(UTC)
    if lowered and _RELATIVE.fullmatch(lowered):
        return (now - parse_duration(lowered, option=option)).astimezone(UTC)
    if _DATE.fullmatch(cleaned):
        try:
            day = date.fromisoformat(cleaned)
        except ValueError:
            raise ReportError(f"bad date {text!r} for {option}: {HINT}") from None
        if bound == "until":
            if day == date.max:
                raise ReportError(f"bad date {text!r} for {option}: too far in the future")
            day += timedelta(days=1)
        return _in_zone(datetime.combine(day, time()), zone)
    try:
        parsed = datetime.fromisoformat(cleaned.replace(" ", "T", 1))
    except ValueError:
        raise ReportError(f"bad time expression {text!r} for {option}: {HINT}") from None
    if parsed.tzinfo is None:
        return _in_zone(parsed, zone)
    return parsed.astimezone(UTC)


def parse_window(
    since: str | None,
    until: str | None,
    *,
    now: datetime,
    zone: tzinfo | None,
    default_since: timedelta,
) -> tuple[datetime, datetime]:
    """Return the ``[since, until)`` range the options mean (UTC); *until* defaults to *now*,
    *since* to *default_since* before *until*. Raise ReportError if since is not before until.
    """
    end = now.astimezone(UTC)
    if until is not None:
        end = parse_time(until, now=now, zone=zone, bound="until")
    start = end - default_since
    if since is not None:
        start = parse_time(since, now=now, zone=zone, bound="since")
    if start >= end:
        raise ReportError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    return start, end


def _in_zone(naive: datetime, zone: tzinfo | None) -> datetime:
    """Interpret a naive wall-clock time in *zone* (None: the system's local zone, with its
    DST rules) and return it in UTC."""
    if zone is None:
        return naive.astimezone().astimezone(UTC)
    return naive.replace(tzinfo=zone).astimezone(UTC)
