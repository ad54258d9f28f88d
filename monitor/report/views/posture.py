"""Posture advice: what each identity observably is (application user, non-interactive or
interactive user, licences) and the posture rules' findings about it, e.g. a named licensed
user running an integration (move it to an application or non-interactive user), an
over-privileged role, a password that will expire, no spare licence, 7 of 7 non-interactive
users. Tenant-wide findings are listed under "(tenant NAME)"."""

from __future__ import annotations

from datetime import timedelta

from monitor.model.findings import Finding
from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import LEVEL_RANK, Column, ViewResult
from monitor.report.sources import posture as source
from monitor.report.sources.base import Unavailable
from monitor.report.views.common import (
    SCOPE_COLUMNS,
    Options,
    Ranked,
    as_level,
    ranked_table,
    view_result,
)

DEFAULT_SINCE = timedelta(days=30)

COLUMNS = (
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("classification", "IS", shrink=1, min_width=6),
    Column("severity", "LEVEL", "state"),
    Column("message", "FINDING", shrink=2, min_width=10),
    Column("remedy", "REMEDY", shrink=3, min_width=10),
    *SCOPE_COLUMNS,
    Column("source", "SOURCE", terminal=False),
    Column("licences", "LICENCES", terminal=False),
    Column("observed_at", "OBSERVED", "time", terminal=False),
)


def wanted(finding: Finding, context: ReportContext) -> bool:
    """A finding passes the filters like an incident: tenant-wide ones only without an
    identity or tag filter."""
    selection = context.selection
    if finding.identity is None:
        if selection.identities is not None or selection.tagged is not None:
            return False
        if finding.environment is not None and not selection.wants_environment(finding.environment):
            return False
        return selection.tenants is None or finding.tenant in selection.tenants
    return selection.wants(finding.identity, finding.tenant, finding.environment)


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the posture findings that pass the filters, worst first."""
    data = source.evaluate(database, context.config, context.now)
    notes: list[str] = []
    findings: tuple[Finding, ...] = ()
    profiles: dict[str, source.Profile] = {}
    if isinstance(data, Unavailable):
        notes.append(data.note)
    else:
        findings = data.findings
        profiles = dict(data.profiles)
    built: list[Ranked] = []
    for finding in findings:
        if not wanted(finding, context):
            continue
        profile = None if finding.identity is None else profiles.get(finding.identity)
        level = as_level(finding.level.value)
        built.append(
            (
                (LEVEL_RANK[level], finding.identity or "", finding.kind.value),
                {
                    "identity": finding.identity or f"(tenant {finding.tenant})",
                    "classification": None if profile is None else profile.classification,
                    "severity": finding.level.value,
                    "message": finding.summary,
                    "remedy": finding.remedy,
                    "tenant": finding.tenant,
                    "environment": finding.environment,
                    "kind": finding.kind.value,
                    "subject": finding.subject,
                    "deadline": finding.deadline,
                    "source": finding.source,
                    "licences": None if profile is None else " ".join(profile.licences),
                    "observed_at": finding.observed_at,
                },
                {"severity": level},
            )
        )
    table = ranked_table(
        "posture", "Findings, worst first", COLUMNS, built, empty="no posture findings"
    )
    return view_result(
        context, "posture", "Identity posture and advice", [table], notes=tuple(notes)
    )
