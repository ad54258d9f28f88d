"""Incidents: a finding over time, opened, escalated, acknowledged and resolved.

Reads the ``incident`` table of the alerting feature (migration ``0002_alerting``; see
:mod:`monitor.store.models_alerting`): ``id`` (shown as ``CM-<id>``), ``kind``, ``level``
(``info``/``warning``/``critical``), ``tenant``, ``identity`` and ``environment`` (NULL for a
tenant-wide incident such as "cannot verify" when all of a tenant fails), ``subject``,
``summary``, ``deadline``, ``opened_at``, ``resolved_at`` (NULL while open),
``acknowledged_at``. Its indexes on ``resolved_at`` and ``(identity, opened_at)`` serve these
queries. Only this module changes if the table does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.model.schema import columns
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable, check_tables, select, stored, utc

REQUIRES = "requires the alerting migration 0002_alerting"
MISSING = f"no incidents recorded yet ({REQUIRES})"
PREFIX = "CM-"

COLUMNS = columns(
    "incident",
    "id",
    "tenant",
    "identity",
    "environment",
    "kind",
    "level",
    "subject",
    "summary",
    "deadline",
    "opened_at",
    "resolved_at",
    "acknowledged_at",
)
TABLES = {"incident": COLUMNS}

# Incident levels as the report's levels.
LEVELS = {"critical": "critical", "warning": "warning", "info": "notice"}


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

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "open"


def incidents(
    database: ReportDatabase,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    open_only: bool = False,
) -> list[IncidentRow] | Unavailable:
    """Return incidents newest first: every open one, plus (unless *open_only*) those that
    were open at some time in ``[since, until)``."""
    missing = check_tables(database, TABLES, MISSING)
    if missing is not None:
        return missing
    sql = select("incident", COLUMNS) + " WHERE resolved_at IS NULL"
    parameters: list[object] = []
    if not open_only:
        clauses = []
        if until is not None:
            clauses.append("opened_at < ?")
            parameters.append(stored(until))
        if since is not None:
            clauses.append("resolved_at >= ?")
            parameters.append(stored(since))
        sql += " OR (" + (" AND ".join(clauses) or "1") + ")"
    sql += " ORDER BY opened_at DESC, id DESC"
    result: list[IncidentRow] = []
    for row in database.connection.execute(sql, parameters):
        opened = utc(row[9])
        assert opened is not None
        result.append(
            IncidentRow(
                id=f"{PREFIX}{row[0]}",
                tenant=row[1],
                identity=row[2],
                environment=row[3],
                kind=row[4],
                level=row[5],
                subject=row[6] or "",
                summary=row[7] or "",
                deadline=utc(row[8]),
                opened_at=opened,
                resolved_at=utc(row[10]),
                acknowledged_at=utc(row[11]),
            )
        )
    return result
