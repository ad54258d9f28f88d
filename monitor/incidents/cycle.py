"""One alerting pass: probe findings + the caller's findings -> evaluate -> dispatch -> heartbeat.

``monitor check`` runs exactly this after its probes (``deliver=False`` with ``--no-notify``);
the daemon runs :func:`monitor.incidents.evaluate` after each probe batch and
:func:`monitor.notify.dispatch.dispatch` on its own schedule instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.findings.probes import SOURCE as PROBE_SOURCE
from monitor.incidents.evaluate import Transition, collect_probe_findings, evaluate
from monitor.model.findings import Finding, FindingKind

if TYPE_CHECKING:
    from monitor.config.model import Config
    from monitor.notify.channels import ChannelSender
    from monitor.notify.dispatch import DispatchReport
    from monitor.store import Store


@dataclass(frozen=True)
class CycleReport:
    """What one :func:`alert_cycle` did. ``dispatch`` is None when delivery was skipped;
    ``heartbeat`` None when not pinged (not asked, or no URL configured)."""

    transitions: tuple[Transition, ...]
    dispatch: DispatchReport | None
    heartbeat: bool | None


def alert_cycle(
    store: Store,
    config: Config,
    now: datetime,
    *,
    findings: Sequence[Finding] = (),
    sources: Collection[str] = (),
    kinds: Collection[FindingKind] | None = None,
    deliver: bool = True,
    heartbeat: bool = False,
    sender: ChannelSender | None = None,
) -> CycleReport:
    """Evaluate the probe findings plus *findings* and, with *deliver*, send what is due.

    *sources*: the ``Finding.source`` values *findings* is complete for (e.g. the posture
    producer's), so that their incidents resolve when their findings disappear; probe incidents
    always can. With *heartbeat*, ping the heartbeat URL afterwards (call it only after a
    successful cycle).
    """
    all_findings = [*collect_probe_findings(store, config, now), *findings]
    transitions = evaluate(
        store, config, all_findings, now, kinds=kinds, sources={PROBE_SOURCE, *sources}
    )
    report = None
    if deliver:
        from monitor.notify.dispatch import dispatch

        report = dispatch(store, config, now, sender=sender)
    pinged = None
    if heartbeat:
        from monitor.notify.heartbeat import ping_heartbeat

        pinged = ping_heartbeat(config)
    return CycleReport(transitions=tuple(transitions), dispatch=report, heartbeat=pinged)
