"""Incidents: those open now (``--open``), or every incident open at some time in the window;
open ones first, newest first."""

from __future__ import annotations

from datetime import timedelta

from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import Cell, Column, Level, Table, ViewResult
from monitor.report.sources import incidents as source
from monitor.report.sources.base import Unavailable
from monitor.report.views.common import SCOPE_COLUMNS, Options, as_level, view_result

DEFAULT_SINCE = timedelta(days=30)

COLUMNS = (
    Column("id", "ID"),
    Column("opened_at", "OPENED", "time"),
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("level", "LEVEL", "state"),
    Column("status", "STATUS"),
    Column("duration_seconds", "FOR", "duration"),
    Column("summary", "SUMMARY", shrink=3, min_width=10),
    *SCOPE_COLUMNS,
    Column("resolved_at", "RESOLVED", "time", terminal=False),
    Column("acknowledged_at", "ACKNOWLEDGED", "time", terminal=False),
)


def wanted(incident: source.IncidentRow, context: ReportContext) -> bool:
    """Return whether an incident passes the filters. A tenant-wide incident (no identity)
    passes when no identity or tag is asked for and its tenant passes."""
    selection = context.selection
    if incident.identity is None:
        if selection.identities is not None or selection.tagged is not None:
            return False
        return selection.tenants is None or incident.tenant in selection.tenants
    return selection.wants(incident.identity, incident.tenant, incident.environment)


def level_of(incident: source.IncidentRow) -> Level:
    return as_level(incident.level)


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the incidents that pass the filters."""
    found = source.incidents(
        database, since=context.since, until=context.until, open_only=options.open_only
    )
    notes: list[str] = []
    if isinstance(found, Unavailable):
        notes.append(found.note)
        found = []
    chosen = [incident for incident in found if wanted(incident, context)]
    chosen.sort(key=lambda incident: (not incident.is_open, -incident.opened_at.timestamp()))
    rows: list[dict[str, Cell]] = []
    marks: list[dict[str, Level]] = []
    for incident in chosen:
        end = incident.resolved_at or context.now
        rows.append(
            {
                "id": incident.id,
                "opened_at": incident.opened_at,
                "identity": incident.identity or f"(tenant {incident.tenant})",
                "level": incident.level,
                "status": incident.status,
                "duration_seconds": end - incident.opened_at,
                "summary": incident.summary,
                "tenant": incident.tenant,
                "environment": incident.environment,
                "kind": incident.kind,
                "subject": incident.subject,
                "deadline": incident.deadline,
                "resolved_at": incident.resolved_at,
                "acknowledged_at": incident.acknowledged_at,
            }
        )
        marks.append({"level": level_of(incident) if incident.is_open else "ok"})
    title = "Open incidents" if options.open_only else "Incidents"
    empty = "no open incidents" if options.open_only else "no incidents in this period"
    table = Table("incidents", title, COLUMNS, tuple(rows), tuple(marks), empty=empty)
    return view_result(context, "incidents", title, [table], notes=tuple(notes))
