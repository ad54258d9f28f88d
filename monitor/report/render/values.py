"""How cells look: short and local for people (terminal, HTML), ISO and seconds for machines
(JSON, CSV)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo

from monitor.report.model import Cell, Column, short_duration

MISSING = "-"


def human(value: Cell, column: Column, *, zone: tzinfo | None, now: datetime) -> str:
    """Return *value* for a person: times as wall-clock time in *zone* (None: local), short
    ("11-26 14:05") within the year of *now*; durations as "3d 4h"; fractions as percent."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        shown = value.astimezone(zone)
        if shown.year == now.astimezone(zone).year:
            return shown.strftime("%m-%d %H:%M")
        return shown.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return short_duration(value)
    if column.kind == "fraction" and isinstance(value, int | float):
        return percent(float(value))
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def percent(value: float) -> str:
    """Return a fraction as a percentage, rounded *down* to 0.1 so that anything short of
    all-good never reads "100%"."""
    shown = math.floor(value * 1000 + 1e-9) / 10
    if shown >= 100:
        return "100%"
    return f"{shown:.1f}%"


def machine(value: Cell, *, zone: tzinfo | None) -> str | int | float | bool | None:
    """Return *value* for JSON: ISO 8601 times with their offset (in *zone*; None: local),
    ISO dates, durations in whole seconds, numbers and strings as they are."""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, float):
        return round(value, 6)
    return value


def zone_name(zone: tzinfo | None, now: datetime) -> str:
    """Return how the report names its time zone, e.g. "UTC" or "local time (CET, +01:00)"."""
    if zone is UTC:
        return "UTC"
    local = now.astimezone(zone)
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    return f"local time ({local.tzname()}, {offset})"
