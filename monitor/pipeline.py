"""One cycle of the whole pipeline, as ``monitor check`` runs it.

probes -> (due) directory reads -> findings (probe outcomes, posture, usage) -> incidents ->
delivery. The daemon runs the same steps as separate scheduled jobs (:mod:`monitor.jobs`); this
module strings them together once, in order, for the commands that run one pass.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from monitor.config.model import Config, IdentityConfig
from monitor.engine import CheckPass, PassReport
from monitor.model.findings import Finding
from monitor.model.probes import RunKind
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.directory.engine import DirectoryReport
    from monitor.incidents.cycle import CycleReport

log = structlog.get_logger("monitor.pipeline")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CycleOutcome:
    """What one cycle did: the probe pass, the directory pass (None when skipped), every
    finding evaluated (posture and usage; probe findings are derived inside the alert cycle)
    and the alert cycle (None when incidents were not evaluated)."""

    probes: PassReport
    directory: DirectoryReport | None
    findings: tuple[Finding, ...]
    alerts: CycleReport | None


def complete_sources(findings: Sequence[Finding]) -> set[str]:
    """Return the finding sources this cycle's lists are complete for: every source posture and
    usage can produce (their rules run over all current facts), so a problem that disappeared
    resolves its incident."""
    from monitor.findings import usage
    from monitor.model.observations import Source

    sources = set(typing.get_args(Source))
    sources |= usage.USAGE_SOURCES
    sources |= {finding.source for finding in findings}
    return sources


def run_cycle(
    config: Config,
    store: Store,
    *,
    fingerprint_key: bytes,
    identities: Sequence[IdentityConfig],
    force: bool = False,
    notify: bool = True,
    directory: bool = True,
    kind: RunKind = "check",
    clock: Callable[[], datetime] = utcnow,
) -> CycleOutcome:
    """Probe *identities*, read the due directories, evaluate findings into incidents and, with
    *notify*, deliver what is due (and ping the heartbeat URL)."""
    from monitor.directory.engine import DirectoryPass
    from monitor.incidents.cycle import alert_cycle
    from monitor.usage.evaluate import usage_findings_for

    probes = CheckPass(config, store, fingerprint_key=fingerprint_key, clock=clock).run(
        identities, force=force, kind=kind
    )
    now = probes.finished_at
    directory_report = None
    findings: list[Finding] = []
    if directory:
        directory_report = DirectoryPass(
            config, store, fingerprint_key=fingerprint_key, clock=clock
        ).run(now)
        findings += directory_report.findings
    findings += usage_findings_for(config, store, now)
    alerts = alert_cycle(
        store,
        config,
        now,
        findings=findings,
        sources=complete_sources(findings),
        deliver=notify,
        heartbeat=notify,
    )
    return CycleOutcome(
        probes=probes, directory=directory_report, findings=tuple(findings), alerts=alerts
    )
