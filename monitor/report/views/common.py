"""Small pieces several views share: the finished result, ranked tables, shared columns,
window days, deadline wording, level arithmetic, the usage chart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from monitor.model.clock import in_days_words, span_words
from monitor.report.context import ReportContext
from monitor.report.model import (
    LEVEL_RANK,
    Cell,
    Column,
    DayCell,
    ExpiryChart,
    ExpiryItem,
    Level,
    Table,
    UsageChart,
    UsagePoint,
    UsageSeries,
    ViewResult,
)
from monitor.report.sources.base import Unavailable
from monitor.report.sources.posture import Deadline
from monitor.report.sources.usage import UsageRow

# Deadline ladder for the report's colours: what is past is critical, then warning, info.
DEADLINE_WARNING = timedelta(days=14)
DEADLINE_INFO = timedelta(days=30)

AVAILABILITY_NOTE = (
    "availability = ok / (ok + down) probe results; results that could not verify (network, "
    "throttling, the monitor's own trust or clock) and expiry warnings are not downtime"
)


# The scope of an incident or a finding, in JSON, CSV and HTML only.
SCOPE_COLUMNS = (
    Column("tenant", "TENANT", terminal=False),
    Column("environment", "ENVIRONMENT", terminal=False),
    Column("kind", "KIND", terminal=False),
    Column("subject", "SUBJECT", terminal=False),
    Column("deadline", "DEADLINE", "time", terminal=False),
)

# One row of a table still to be ordered: (sort key, cells, marks).
Ranked = tuple[Any, dict[str, Cell], dict[str, Level]]


@dataclass(frozen=True)
class Options:
    """View options beyond the shared filters (``--within``, ``--open``)."""

    within: timedelta = timedelta(days=90)
    open_only: bool = False
    extra: dict[str, object] = field(default_factory=dict)


def view_result(
    context: ReportContext,
    view: str,
    title: str,
    tables: Sequence[Table],
    *,
    primary: str | None = None,
    **rest: Any,
) -> ViewResult:
    """Return the finished view over the context's window, generated at its ``now``; the
    first table is the primary one (the one ``--csv`` writes) unless *primary* names another.
    *rest*: the other fields of :class:`ViewResult` (``until`` overrides the window's end)."""
    window: dict[str, Any] = {"since": context.since, "until": context.until}
    return ViewResult(
        view=view,
        title=title,
        generated_at=context.now,
        tables=tuple(tables),
        primary=primary or tables[0].name,
        **(window | rest),
    )


def ranked_table(
    name: str, title: str, columns: tuple[Column, ...], rows: Iterable[Ranked], *, empty: str
) -> Table:
    """Return a table of *rows* in the order of their sort keys."""
    ordered = sorted(rows, key=lambda item: item[0])
    return Table(
        name,
        title,
        columns,
        tuple(cells for _, cells, _ in ordered),
        tuple(marks for _, _, marks in ordered),
        empty=empty,
    )


def usage_chart(by_identity: Mapping[str, Iterable[UsageRow]], *, empty: str) -> UsageChart:
    """Return the chart of requests per day against the allocation, one series per identity."""
    return UsageChart(
        "Requests per day against the allocation",
        tuple(
            UsageSeries(
                name, tuple(UsagePoint(row.day, row.requests, row.allocation) for row in rows)
            )
            for name, rows in sorted(by_identity.items())
        ),
        empty=empty,
    )


def expiry_chart(
    title: str, deadlines: Sequence[Deadline], now: datetime, end: datetime
) -> ExpiryChart:
    """Return the timeline of *deadlines* (in order) from now, or the earliest one already
    past, to *end*."""
    return ExpiryChart(
        title,
        now,
        min([now, *(deadline.ends_at for deadline in deadlines)]),
        end,
        tuple(ExpiryItem(d.identity, d.label, d.kind, d.ends_at, d.source) for d in deadlines),
    )


def window_days(context: ReportContext) -> tuple[date, date]:
    """Return the first and last UTC day the window ``[since, until)`` touches."""
    last_instant = context.until - timedelta(microseconds=1)
    return context.since.date(), last_instant.date()


def worst(levels: Iterable[Level]) -> Level:
    """Return the worst level (critical first), "none" for no levels."""
    result: Level = "none"
    for level in levels:
        if LEVEL_RANK[level] < LEVEL_RANK[result]:
            result = level
    return result


def deadline_level(ends_at: datetime, now: datetime) -> Level:
    left = ends_at - now
    if left <= timedelta(0):
        return "critical"
    if left <= DEADLINE_WARNING:
        return "warning"
    if left <= DEADLINE_INFO:
        return "info"
    return "ok"


def in_words(ends_at: datetime, now: datetime) -> str:
    """Return "in 12d", "in 5h", "expired 3d ago" for a deadline (whole days rounded down:
    :func:`monitor.model.clock.in_days_words`)."""
    words = in_days_words(ends_at, now, short=True)
    return words if ends_at > now else "expired " + words


KIND_SHORT = {"certificate": "cert", "secret": "secret", "password": "pwd", "licence": "licence"}


def deadline_words(deadline: Deadline, now: datetime) -> str:
    """Return the board's short deadline text: "cert 12d", "secret 5h", "pwd expired" (whole
    days rounded down, like every other view)."""
    kind = KIND_SHORT.get(deadline.kind, deadline.kind)
    if deadline.ends_at <= now:
        return f"{kind} expired"
    return f"{kind} {span_words(deadline.ends_at, now, short=True)}"


def day_cells(
    counts: Mapping[str, tuple[int, int, int]], first: date, last: date
) -> tuple[DayCell, ...]:
    """Return one cell per UTC day first..last from one identity's daily counts (by ISO day)."""
    cells: list[DayCell] = []
    day = first
    empty = (0, 0, 0)
    while day <= last:
        ok, down, unverified = counts.get(day.isoformat(), empty)
        cells.append(DayCell(day, ok, down, unverified))
        day += timedelta(days=1)
    return tuple(cells)


def availability(cells: Iterable[DayCell]) -> tuple[float | None, int, int, int]:
    """Return (availability, ok, down, unverified) over *cells*."""
    ok = down = unverified = 0
    for cell in cells:
        ok += cell.ok
        down += cell.down
        unverified += cell.unverified
    judged = ok + down
    return (None if judged == 0 else ok / judged), ok, down, unverified


def notes_of(*sources: object) -> list[str]:
    """Return the notes of the sources that are Unavailable, each once, in order."""
    notes: list[str] = []
    for source in sources:
        if isinstance(source, Unavailable) and source.note not in notes:
            notes.append(source.note)
    return notes


def as_level(text: str | None) -> Level:
    """Return a stored severity word as a Level ("warning" for words this report does not
    know: never silently "ok")."""
    return _LEVELS.get(text or "", "warning")


_LEVELS: dict[str, Level] = {
    "critical": "critical",
    "warning": "warning",
    "unknown": "unknown",
    "info": "info",
    "ok": "ok",
    "none": "none",
}
