"""Findings: problems derived from observations by pure rules (no I/O, no clock of their own).

Every producer (probe outcomes, posture, usage) adds rule modules here; each rule is a function of
observations and ``now`` returning :class:`Finding` objects. Incidents turn findings into state
over time; nothing else decides severity.
"""

from monitor.model.findings import Finding, FindingKind, Level

__all__ = ["Finding", "FindingKind", "Level"]
