"""The expiry calendar: every dated thing an identity depends on (client secrets,
certificates, passwords, licences) that ends within ``--within`` of now, or has already ended
since ``--since``, soonest first, each with the source of its date."""

from __future__ import annotations

from datetime import timedelta

from monitor.model.clock import days_left
from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import Cell, Column, Level, Table, ViewResult
from monitor.report.sources import posture
from monitor.report.sources.deadlines import all_deadlines
from monitor.report.views.common import (
    Options,
    deadline_level,
    expiry_chart,
    in_words,
    notes_of,
    view_result,
)

DEFAULT_SINCE = timedelta(days=365)

COLUMNS = (
    Column("ends_at", "ENDS", "time"),
    Column("when", "WHEN", min_width=8),
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("what", "WHAT", shrink=2, min_width=8),
    Column("source", "SOURCE", shrink=3, min_width=6),
    Column("successor", "SUCCESSOR", terminal=False),
    Column("days_left", "DAYS LEFT", "int", terminal=False),
    Column("kind", "KIND", terminal=False),
    Column("environment", "ENVIRONMENT", terminal=False),
    Column("tenant", "TENANT", terminal=False),
    Column("level", "LEVEL", terminal=False),
)


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the expiry calendar up to ``now + options.within``."""
    now = context.now
    horizon = now + options.within
    selection = context.selection
    posture_data = posture.evaluate(database, context.config, now)
    deadlines = all_deadlines(database, context.configured, posture_data, until=horizon)
    chosen = [
        deadline
        for deadline in deadlines
        if context.since <= deadline.ends_at < horizon
        and selection.wants(
            deadline.identity, context.tenant_of(deadline.identity), deadline.environment
        )
    ]
    chosen.sort(key=lambda deadline: (deadline.ends_at, deadline.identity, deadline.label))
    rows: list[dict[str, Cell]] = []
    marks: list[dict[str, Level]] = []
    for deadline in chosen:
        level = deadline_level(deadline.ends_at, now)
        rows.append(
            {
                "ends_at": deadline.ends_at,
                "when": in_words(deadline.ends_at, now),
                "identity": deadline.identity,
                "what": deadline.label,
                "source": deadline.source,
                "successor": _successor(deadline.has_successor),
                "days_left": days_left(deadline.ends_at, now),
                "kind": deadline.kind,
                "environment": deadline.environment,
                "tenant": context.tenant_of(deadline.identity),
                "level": level,
            }
        )
        marks.append({"when": level, "ends_at": level})
    notes = notes_of(posture_data)
    if not context.has_config:
        notes.append("certificate files' own end dates need the configuration (--config)")
    days = int(options.within.total_seconds() // 86400)
    title = f"Expiry calendar, the next {days} days"
    empty = f"nothing known to expire within {days} days"
    table = Table(
        "expiring", "What expires, soonest first", COLUMNS, tuple(rows), tuple(marks), empty=empty
    )
    chart = expiry_chart(title, chosen, now, horizon)
    return view_result(
        context, "expiring", title, [table], until=horizon, notes=tuple(notes), charts=(chart,)
    )


def _successor(value: bool | None) -> str | None:
    if value is None:
        return None
    return "registered" if value else "none"
