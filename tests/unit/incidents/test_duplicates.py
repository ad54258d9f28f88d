"""A problem found by a probe and by a directory read opens one incident, not two."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.findings.probes import SOURCE as PROBE_SOURCE
from monitor.incidents.evaluate import without_duplicates
from monitor.model.findings import Finding, FindingKind, Level

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _finding(kind: FindingKind, identity: str | None, source: str) -> Finding:
    return Finding(
        key=Finding.make_key(kind, tenant="contoso", identity=identity, subject_id=source),
        kind=kind,
        level=Level.CRITICAL,
        tenant="contoso",
        identity=identity,
        environment="contoso-prod",
        subject="the account",
        summary="disabled",
        remedy="enable it",
        observed_at=NOW,
        source=source,
    )


def test_directory_finding_repeating_a_probe_finding_is_dropped() -> None:
    """Same identity and kind from a probe and from Graph: only the probe's finding stays."""
    probe = _finding(FindingKind.ACCOUNT_DISABLED, "finance-export", PROBE_SOURCE)
    graph = _finding(FindingKind.ACCOUNT_DISABLED, "finance-export", "graph")

    assert [probe] == without_duplicates([graph, probe])


def test_other_kinds_identities_and_tenant_findings_stay() -> None:
    """Only exact (identity, kind) repeats go; everything else is kept in order."""
    probe = _finding(FindingKind.ACCOUNT_DISABLED, "finance-export", PROBE_SOURCE)
    other_kind = _finding(FindingKind.LICENCE, "finance-export", "graph")
    other_identity = _finding(FindingKind.ACCOUNT_DISABLED, "reporting", "dataverse")
    tenant_wide = _finding(FindingKind.CAPACITY, None, "dataverse")
    findings = [probe, other_kind, other_identity, tenant_wide]

    assert findings == without_duplicates(findings)
