"""Evaluation: findings + now -> incident transitions and outbox rows, in one transaction.

:func:`evaluate_findings` is what the cycle's evaluate step runs (when it runs:
:func:`monitor.pipeline.steps.evaluate`). It opens one ``BEGIN IMMEDIATE`` transaction, reads
the open incidents and active silences, lets :func:`monitor.incidents.machine.plan` decide, and
writes every incident change, its transitions and the outbox rows of its notices before
committing. A crash before the commit loses all of it (the next evaluation decides the same
again); after it, nothing: the outbox rows are there for :func:`monitor.notify.dispatch.dispatch`
to deliver.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from monitor.config.model import AlertRules, Config
from monitor.incidents.machine import plan
from monitor.incidents.silences import silenced_by
from monitor.model.findings import Finding, FindingKind
from monitor.model.incidents import IncidentRecord, SilenceRecord
from monitor.notify.notice import build_notice
from monitor.notify.routing import outbox_rows

log = structlog.get_logger("monitor.incidents")

if TYPE_CHECKING:
    from monitor.store import Store


@dataclass(frozen=True)
class Transition:
    """One stored transition of one incident (as the incident is after it), as
    :func:`evaluate_findings` reports it.

    ``channels`` are the channels a notice was queued for (empty when none was: silenced,
    acknowledged, nothing due, or no channel takes it).
    """

    incident: IncidentRecord
    event: str
    at: datetime
    rung: int | None
    notified: bool
    channels: tuple[str, ...]
    note: str

    @property
    def incident_id(self) -> int:
        assert self.incident.id is not None
        return self.incident.id

    @property
    def label(self) -> str:
        return self.incident.label

    @property
    def kind(self) -> str:
        return self.incident.kind

    @property
    def level(self) -> str:
        return self.incident.level

    @property
    def identity(self) -> str | None:
        return self.incident.identity

    @property
    def tenant(self) -> str:
        return self.incident.tenant


class _RulesFor:
    def __init__(self, config: Config) -> None:
        self._config = config

    def __call__(self, identity: str | None) -> AlertRules:
        return self._config.alerts.rules_for(self._config.identities.get(identity or ""))


def without_duplicates(findings: Sequence[Finding]) -> list[Finding]:
    """Return *findings* without directory findings that repeat a probe finding.

    When a probe already found an identity broken in a way (account disabled, not in the
    environment), the posture read that says the same thing would open a second incident for
    one problem; the probe's finding (live, definitive) stands and the other is dropped.
    """
    from monitor.findings.probes import SOURCE as PROBE_SOURCE

    covered = {
        (finding.identity, finding.kind)
        for finding in findings
        if finding.source == PROBE_SOURCE and finding.identity is not None
    }
    return [
        finding
        for finding in findings
        if finding.source == PROBE_SOURCE or (finding.identity, finding.kind) not in covered
    ]


def evaluate_findings(
    store: Store,
    config: Config,
    findings: Sequence[Finding],
    now: datetime,
    *,
    kinds: Collection[FindingKind] | None = None,
    sources: Collection[str] | None = None,
) -> list[Transition]:
    """Turn *findings* into incident transitions and outbox rows, all in one transaction;
    return the transitions.

    An open incident whose finding is missing from *findings* resolves, but only if its kind is
    in *kinds* and its source in *sources* (None: any): pass the kinds / sources the list is
    complete for, so that a producer that did not run does not resolve its incidents.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    findings = without_duplicates(findings)
    transitions: list[Transition] = []
    with store.alerting.unit() as unit:
        silences = unit.active_silences(now)

        def muted(incident: IncidentRecord) -> bool:
            return _silence(incident, silences, config, now) is not None

        changes = plan(
            open_incidents=unit.open_incidents(),
            owing_resolved=unit.owing_resolved_incidents(),
            findings=findings,
            now=now,
            rules_for=_RulesFor(config),
            muted=muted,
            kinds=kinds,
            sources=sources,
        )
        for change in changes:
            saved = unit.save_incident(change.after)
            assert saved.id is not None
            channels: tuple[str, ...] = ()
            if change.notice is not None:
                superseded = unit.supersede_pending(saved.id, now) if change.supersede else []
                notice = build_notice(
                    saved, change.notice.name, config, now, superseded=bool(superseded)
                )
                rows = outbox_rows(
                    notice, saved, config, now, discriminator=change.notice.discriminator
                )
                unit.enqueue(rows, now)
                channels = tuple(row.channel for row in rows)
            elif change.supersede:
                unit.supersede_pending(saved.id, now)
            for event in change.events:
                notified = bool(channels) and event.announced
                unit.add_transition(
                    saved.id,
                    at=now,
                    event=event.name,
                    level=event.level,
                    rung=event.rung,
                    notified=notified,
                    note=event.note,
                )
                transitions.append(
                    Transition(
                        incident=saved,
                        event=event.name,
                        at=now,
                        rung=event.rung,
                        notified=notified,
                        channels=channels if notified else (),
                        note=event.note,
                    )
                )
    for transition in transitions:
        log.info(
            "incident",
            incident=transition.label,
            transition=transition.event,
            kind=transition.kind,
            level=transition.level,
            identity=transition.identity,
            tenant=transition.tenant,
            channels=list(transition.channels),
            note=transition.note or None,
        )
    return transitions


def _silence(
    incident: IncidentRecord, silences: Sequence[SilenceRecord], config: Config, now: datetime
) -> SilenceRecord | None:
    return silenced_by(incident, silences, config, now)
