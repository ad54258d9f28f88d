"""How cells look: short and local for people (terminal, HTML), ISO and seconds for machines
(JSON, CSV)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo

from monitor.report.model import Cell, Column, DaemonSummary, short_duration

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


def daemon_line(summary: DaemonSummary, *, zone: tzinfo | None, now: datetime) -> str:
    """Return the board's one line about the daemon, e.g. "daemon: running on HOST (pid 812),
    last heartbeat 12s ago, up 3d 4h, 1,000 identities, last probe 1m ago, 2 pairs not ok" or
    "daemon: NOT RUNNING, last heartbeat 2026-11-26 10:00 (3h ago) on HOST (pid 812); no clean
    stop recorded (crashed, killed or hung?)". Absolute times are wall-clock time in *zone*."""
    status = summary.status
    if summary.verdict == "never_ran":
        return "daemon: never ran against this database"
    if status is None:
        return f"daemon: unknown; {summary.note}"
    where = f"on {status.hostname} (pid {status.pid})"
    ago = _ago(summary.since_beat)
    reason = f" ({status.stop_reason})" if status.stop_reason else ""
    if summary.verdict == "running":
        parts = [f"daemon: running {where}", f"last heartbeat {ago}"]
        parts.append(f"up {short_duration(max(now - status.started_at, timedelta(0)))}")
        parts.append(_count(status.identities, "identity", "identities"))
        if status.last_probe_at is None:
            parts.append("no probe yet")
        else:
            parts.append(f"last probe {_ago(now - status.last_probe_at)}")
        if status.probes_since_start:
            parts.append(_count(status.failing_pairs, "pair", "pairs") + " not ok")
        return ", ".join(parts)
    if summary.verdict == "stopping":
        return f"daemon: stopping{reason} {where}, last heartbeat {ago}"
    beat = f"last heartbeat {_wall(status.last_beat_at, zone)} ({ago}) {where}"
    if summary.verdict == "unknown":
        return f"daemon: unknown; {summary.note}; {beat}"
    if status.state == "stopped":
        return f"daemon: NOT RUNNING, {beat}; stopped cleanly{reason}"
    if status.state == "stopping":
        return f"daemon: NOT RUNNING, {beat}; no clean stop recorded (killed while stopping?)"
    return f"daemon: NOT RUNNING, {beat}; no clean stop recorded (crashed, killed or hung?)"


def _ago(value: timedelta | None) -> str:
    if value is None:
        return "at an unknown time"
    return short_duration(max(value, timedelta(0))) + " ago"  # a clock ahead reads "0s ago"


def _wall(value: datetime, zone: tzinfo | None) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _count(value: int, one: str, many: str) -> str:
    return f"{value:,} {one if value == 1 else many}"
