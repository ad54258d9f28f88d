"""Incidents: a finding over time, opened, escalated, acknowledged and resolved.

Reads the ``incident`` table (migration ``0002_alerting``; the model is
:class:`monitor.store.models.alerting.IncidentRow`) into :class:`IncidentRow` records whose
fields are the columns read. ``identity`` and ``environment`` are NULL for a tenant-wide
incident (such as "cannot verify" when all of a tenant fails), ``resolved_at`` while open; the
indexes on ``resolved_at`` and ``(identity, opened_at)`` serve these queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable, read_table, record_columns, stored, to_record

REQUIRES = "requires the alerting migration 0002_alerting"
MISSING = f"no incidents recorded yet ({REQUIRES})"
PREFIX = "CM-"


@dataclass(frozen=True)
class IncidentRow:
    id: str
    tenant: str
    identity: str | None  # None: tenant-wide
    environment: str | None
    kind: str
    level: str
    subject: str
    summary: str
    deadline: datetime | None
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    details: Mapping[str, object] = field(default_factory=dict)
    remedy: str = ""  # what to do, as the notices say it

    @property
    def affects(self) -> tuple[str, ...]:
        """The identities a tenant-wide incident names as affected (a storm, a client's
        consent); empty when it names none (then it concerns the whole tenant)."""
        names = self.details.get("identities")
        if not isinstance(names, list):
            return ()
        return tuple(name for name in names if isinstance(name, str))

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "open"


def _label(value: int) -> str:
    return f"{PREFIX}{value}"


def _text(value: str | None) -> str:
    return value or ""


def _details(value: str | None) -> Mapping[str, object]:
    """The incident's details (JSON text); empty when missing or unreadable."""
    try:
        loaded = json.loads(value) if value else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


COLUMNS = record_columns("incident", IncidentRow)
TIMES = ("deadline", "opened_at", "resolved_at", "acknowledged_at")
CONVERT: dict[str, Callable[[Any], object]] = {
    "id": _label,
    "subject": _text,
    "summary": _text,
    "remedy": _text,
    "details": _details,
}


def incidents(
    database: ReportDatabase,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    open_only: bool = False,
) -> list[IncidentRow] | Unavailable:
    """Return incidents newest first: every open one, plus (unless *open_only*) those that
    were open at some time in ``[since, until)``."""
    where = " WHERE resolved_at IS NULL"
    parameters: list[object] = []
    if not open_only:
        clauses = []
        if until is not None:
            clauses.append("opened_at < ?")
            parameters.append(stored(until))
        if since is not None:
            clauses.append("resolved_at >= ?")
            parameters.append(stored(since))
        where += " OR (" + (" AND ".join(clauses) or "1") + ")"
    rows = read_table(
        database,
        "incident",
        COLUMNS,
        MISSING,
        where + " ORDER BY opened_at DESC, id DESC",
        parameters,
    )
    if isinstance(rows, Unavailable):
        return rows
    return [to_record(IncidentRow, COLUMNS, row, times=TIMES, convert=CONVERT) for row in rows]
