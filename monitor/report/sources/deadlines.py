"""Every known deadline, from three sources, without duplicates:

1. the configuration: a configured certificate file's own end date (no directory read needed);
2. the posture facts judged by the posture rules (:mod:`monitor.report.sources.posture`);
3. open incidents that carry a deadline (``credential_expiring``, ``password_expiring``,
   ``licence``): the alerting table is where every finding with a deadline ends up, so the
   calendar has dates as soon as findings flow, whichever feature produced them.

The same thing seen by two sources (same identity, same end to the minute) is listed once,
preferring the posture rules, then the configuration, then the incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from monitor.report.context import IdentityMeta
from monitor.report.database import ReportDatabase
from monitor.report.sources import incidents as incident_source
from monitor.report.sources import posture
from monitor.report.sources.base import Unavailable

DEADLINE_KINDS = {
    "credential_expiring": "secret",
    "password_expiring": "password",
    "licence": "licence",
}


def _kind(incident: incident_source.IncidentRow) -> str:
    kind = DEADLINE_KINDS[incident.kind]
    if kind == "secret" and "certificate" in incident.subject.lower():
        return "certificate"
    return kind


def from_incidents(
    found: list[incident_source.IncidentRow] | Unavailable,
) -> list[posture.Deadline]:
    """Return the deadlines of open incidents of the deadline kinds."""
    if isinstance(found, Unavailable):
        return []
    return [
        posture.Deadline(
            identity=incident.identity,
            environment=incident.environment,
            kind=_kind(incident),
            name=incident.subject,
            ends_at=incident.deadline,
            source=f"incident {incident.id}",
        )
        for incident in found
        if incident.is_open
        and incident.deadline is not None
        and incident.identity is not None
        and incident.kind in DEADLINE_KINDS
    ]


def all_deadlines(
    database: ReportDatabase,
    configured: Mapping[str, IdentityMeta],
    posture_data: posture.PostureData | Unavailable,
    *,
    until: datetime | None = None,
) -> list[posture.Deadline]:
    """Return every deadline (ending before *until*, if given), soonest first."""
    open_incidents = incident_source.incidents(database, open_only=True)
    candidates: list[posture.Deadline] = []
    if not isinstance(posture_data, Unavailable):
        candidates += posture_data.deadlines
    candidates += posture.configured_deadlines(configured)
    candidates += from_incidents(open_incidents)
    seen: set[tuple[str, int]] = set()
    result: list[posture.Deadline] = []
    for deadline in candidates:
        if until is not None and deadline.ends_at >= until:
            continue
        key = (deadline.identity, int(deadline.ends_at.timestamp() // 60))
        if key in seen:
            continue
        seen.add(key)
        result.append(deadline)
    result.sort(key=lambda deadline: (deadline.ends_at, deadline.identity, deadline.label))
    return result
