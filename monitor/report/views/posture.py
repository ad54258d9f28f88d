"""Posture advice: per identity, what it observably is (application user, non-interactive or
interactive user, licences) and the findings about it, e.g. a named licensed user running an
integration (move it to an application or non-interactive user), an over-privileged role."""

from __future__ import annotations

from datetime import timedelta

from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import LEVEL_RANK, Cell, Column, Level, Table, ViewResult
from monitor.report.sources import posture as source
from monitor.report.sources.base import Unavailable
from monitor.report.views.common import Options, as_level, notes_of

DEFAULT_SINCE = timedelta(days=30)

COLUMNS = (
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("classification", "IS", shrink=1, min_width=6),
    Column("severity", "SEVERITY", "state"),
    Column("message", "FINDING", shrink=2, min_width=10),
    Column("remedy", "REMEDY", shrink=3, min_width=10),
    Column("environment", "ENVIRONMENT", terminal=False),
    Column("kind", "KIND", terminal=False),
    Column("licences", "LICENCES", terminal=False),
    Column("observed_at", "OBSERVED", "time", terminal=False),
)


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the posture findings that pass the filters, worst first."""
    findings = source.findings(database)
    profiles = source.profiles(database)
    notes = notes_of(findings, profiles)
    found = [] if isinstance(findings, Unavailable) else findings
    known_profiles = {} if isinstance(profiles, Unavailable) else profiles
    selection = context.selection
    built: list[tuple[tuple[int, str, str], dict[str, Cell], dict[str, Level]]] = []
    for finding in found:
        if not selection.wants(
            finding.identity, context.tenant_of(finding.identity), finding.environment
        ):
            continue
        profile = known_profiles.get(finding.identity)
        level = as_level(finding.severity)
        built.append(
            (
                (LEVEL_RANK[level], finding.identity, finding.kind),
                {
                    "identity": finding.identity,
                    "classification": None if profile is None else profile.classification,
                    "severity": finding.severity,
                    "message": finding.message,
                    "remedy": finding.remedy,
                    "environment": finding.environment,
                    "kind": finding.kind,
                    "licences": None if profile is None else " ".join(profile.licences),
                    "observed_at": finding.observed_at,
                },
                {"severity": level},
            )
        )
    built.sort(key=lambda item: item[0])
    return ViewResult(
        view="posture",
        title="Identity posture and advice",
        generated_at=context.now,
        since=context.since,
        until=context.until,
        tables=(
            Table(
                "posture",
                "Findings, worst first",
                COLUMNS,
                tuple(item[1] for item in built),
                tuple(item[2] for item in built),
                empty="no posture findings",
            ),
        ),
        primary="posture",
        notes=tuple(notes),
    )
