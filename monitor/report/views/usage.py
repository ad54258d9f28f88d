"""API usage against the 24-hour allocation: per identity the newest day's share, the peak
day in the window, and a chart of requests per day against the allocation."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import Column, Level, ViewResult
from monitor.report.sources import usage as source
from monitor.report.sources.base import Unavailable
from monitor.report.views.common import (
    Options,
    Ranked,
    ranked_table,
    usage_chart,
    view_result,
    window_days,
)

DEFAULT_SINCE = timedelta(days=30)

COLUMNS = (
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("day", "DAY", "date"),
    Column("requests", "REQUESTS", "int"),
    Column("allocation", "ALLOCATION", "int"),
    Column("share", "SHARE", "fraction"),
    Column("peak_share", "PEAK", "fraction"),
    Column("peak_day", "PEAK DAY", "date"),
    Column("sources", "SOURCES", shrink=1, min_width=6),
)


def _share_level(share: float | None) -> Level | None:
    if share is None:
        return None
    if share >= 1:
        return "critical"
    if share >= 0.8:
        return "warning"
    return "ok"


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return usage per identity over the window, highest newest share first."""
    first, last = window_days(context)
    found = source.usage(database, first, last)
    notes: list[str] = []
    if isinstance(found, Unavailable):
        notes.append(found.note)
        found = []
    by_identity: dict[str, list[source.UsageRow]] = defaultdict(list)
    for row in found:
        if context.selection.wants_identity(row.identity, context.tenant_of(row.identity)):
            by_identity[row.identity].append(row)
    built: list[Ranked] = []
    for identity, rows in by_identity.items():
        newest = rows[-1]
        peak = max(rows, key=lambda row: row.share if row.share is not None else -1.0)
        marks: dict[str, Level] = {}
        for key, value in (("share", newest.share), ("peak_share", peak.share)):
            level = _share_level(value)
            if level is not None:
                marks[key] = level
        built.append(
            (
                (-(newest.share or 0.0), identity),
                {
                    "identity": identity,
                    "day": newest.day,
                    "requests": newest.requests,
                    "allocation": newest.allocation,
                    "share": newest.share,
                    "peak_share": peak.share,
                    "peak_day": peak.day,
                    "sources": " ".join(sorted({s for row in rows for s in row.sources})),
                },
                marks,
            )
        )
    table = ranked_table(
        "usage",
        "Newest day per identity, highest share first",
        COLUMNS,
        built,
        empty="no usage in this period",
    )
    chart = usage_chart(by_identity, empty=notes[0] if notes else "no usage data in this period")
    title = "API usage against the 24-hour allocation"
    return view_result(context, "usage", title, [table], notes=tuple(notes), charts=(chart,))
