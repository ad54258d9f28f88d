"""What a view produces and every renderer consumes: tables of typed cells, notes, charts.

Cells hold Python values (``datetime`` aware UTC, ``date``, ``timedelta``, numbers, strings,
None); each renderer formats them its own way (terminal: short local times and "3d 4h";
JSON: ISO 8601 and seconds; CSV: the same as JSON; HTML: like the terminal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from monitor.model.daemon import DaemonStatusRecord

Cell = str | int | float | bool | datetime | date | timedelta | None
ColumnKind = Literal["text", "state", "time", "date", "duration", "fraction", "int"]
# How bad a row is; "ok" rows sort last. The terminal colours the "state" column by it.
# critical, warning and info are the words findings and incidents use; unknown, ok and none are
# the report's own states.
Level = Literal["critical", "warning", "unknown", "info", "ok", "none"]

LEVEL_RANK: dict[str, int] = {
    "critical": 0,
    "warning": 1,
    "unknown": 2,
    "info": 3,
    "ok": 4,
    "none": 5,
}


@dataclass(frozen=True)
class Column:
    """One column: ``key`` in JSON and CSV, ``header`` on a terminal and in HTML.

    ``shrink`` columns may be cut (with an ellipsis) to fit the terminal, the highest
    ``shrink`` first (0: never cut); ``terminal=False``
    columns appear only in JSON, CSV and HTML. A ``duration`` column's key ends in
    ``_seconds`` because JSON and CSV carry seconds.
    """

    key: str
    header: str
    kind: ColumnKind = "text"
    shrink: int = 0
    terminal: bool = True
    min_width: int = 4


@dataclass(frozen=True)
class Table:
    """Rows of one kind, in the order to show them.

    ``marks`` (one mapping per row, or empty) gives the level of the cells that deserve colour
    (a state, a deadline, a severity): the terminal colours them, HTML styles them, JSON and
    CSV ignore them.
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[dict[str, Cell], ...]
    marks: tuple[dict[str, Level], ...] = ()
    empty: str = "nothing to show"

    def mark(self, index: int, key: str) -> Level | None:
        if index >= len(self.marks):
            return None
        return self.marks[index].get(key)


class DayCell(NamedTuple):
    """One UTC day of one identity: availability = ok / (ok + down); None when unverified.

    A named tuple: a year of 300 identities is 110,000 of them, built fast.
    """

    day: date
    ok: int
    down: int
    unverified: int

    @property
    def availability(self) -> float | None:
        judged = self.ok + self.down
        return None if judged == 0 else self.ok / judged


@dataclass(frozen=True)
class AvailabilityStrip:
    label: str
    level: Level
    days: tuple[DayCell, ...]


@dataclass(frozen=True)
class AvailabilityChart:
    """An availability strip per identity over ``[first, last]`` (UTC days)."""

    title: str
    first: date
    last: date
    strips: tuple[AvailabilityStrip, ...]
    empty: str = "no probe results in this period"


@dataclass(frozen=True)
class ExpiryItem:
    identity: str
    what: str  # "client secret 'prod-2025'", "certificate file", "password", "licence E3"
    kind: str  # secret, certificate, password, licence
    ends_at: datetime
    source: str


@dataclass(frozen=True)
class ExpiryChart:
    """The expiry calendar as a timeline from ``start`` (now, or the earliest item when one
    has already ended) to ``end``, with ``now`` marked."""

    title: str
    now: datetime
    start: datetime
    end: datetime
    items: tuple[ExpiryItem, ...]
    empty: str = "no expiry dates known"


@dataclass(frozen=True)
class UsagePoint:
    day: date
    used: int | None
    allocation: int | None


@dataclass(frozen=True)
class UsageSeries:
    label: str
    points: tuple[UsagePoint, ...]


@dataclass(frozen=True)
class UsageChart:
    """Requests used per day against the allocation, one small chart per identity."""

    title: str
    series: tuple[UsageSeries, ...]
    empty: str = "no usage data recorded yet"


Chart = AvailabilityChart | ExpiryChart | UsageChart

# The board's verdict on the daemon: alive (running, stopping), not running (crashed, killed,
# hung or stopped), never ran against this database, or unknown (no status table).
DaemonVerdict = Literal["running", "stopping", "not_running", "never_ran", "unknown"]


@dataclass(frozen=True)
class DaemonSummary:
    """What the database says about the daemon (``monitor run``): the status board's first line.

    ``status`` is the row the daemon last wrote (None when there is none, or no status table);
    ``stale`` means its newest heartbeat is older than ``stale_after``, so a daemon that says it
    runs is dead (or hung). ``note`` says why nothing is known when ``verdict`` is ``unknown``.
    Renderers word it (:func:`monitor.report.render.values.daemon_line`), times in the report's
    zone.
    """

    verdict: DaemonVerdict
    level: Level
    status: DaemonStatusRecord | None = None
    stale: bool = False
    since_beat: timedelta | None = None
    stale_after: timedelta | None = None
    note: str | None = None

    @property
    def state(self) -> str | None:
        """What the daemon last recorded: running, stopping, stopped (None: no row)."""
        return None if self.status is None else self.status.state

    @property
    def clean_stop(self) -> bool | None:
        """Whether the daemon recorded a clean stop (None while it runs or if unknown)."""
        if self.verdict != "not_running":
            return None
        return self.state == "stopped"


@dataclass(frozen=True)
class ViewResult:
    """A finished view: its tables (``primary`` is the one ``--csv`` writes), notes to show
    above them (e.g. a data source that does not exist yet), its charts for ``--html`` and, on
    the board, what the database says about the daemon (a line above the notes; an object in
    JSON; not in CSV, which is the primary table only)."""

    view: str
    title: str
    generated_at: datetime
    since: datetime
    until: datetime
    tables: tuple[Table, ...]
    primary: str
    notes: tuple[str, ...] = ()
    charts: tuple[Chart, ...] = ()
    facts: dict[str, Cell] = field(default_factory=dict)  # e.g. the identity of a history
    daemon: DaemonSummary | None = None  # the board's daemon line

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


def seconds(value: timedelta) -> int:
    """Return whole seconds of a duration (JSON and CSV carry durations as seconds)."""
    return int(value.total_seconds())


def short_duration(value: timedelta) -> str:
    """Return a duration in at most two units: "3d 4h", "5h 10m", "42m", "7s"."""
    total = int(value.total_seconds())
    if total < 0:
        return "-" + short_duration(-value)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"
