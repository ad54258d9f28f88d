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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from monitor.config.model import AlertRules, Config
from monitor.incidents.causes import (
    STAGE,
    Grouping,
    evidence_keys,
    group_findings,
    is_cause_key,
)
from monitor.incidents.machine import plan
from monitor.incidents.silences import silenced_by
from monitor.model.findings import Finding, FindingKind
from monitor.model.incidents import IncidentRecord, SilenceRecord
from monitor.notify.notice import build_notice
from monitor.notify.routing import outbox_rows

log = structlog.get_logger("monitor.incidents")

if TYPE_CHECKING:
    from monitor.store import Store
    from monitor.store.alerting import AlertingUnit


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


def evaluate_findings(
    store: Store,
    config: Config,
    findings: Sequence[Finding],
    now: datetime,
    *,
    kinds: Collection[FindingKind] | None = None,
    sources: Collection[str] | None = None,
    notify: bool = True,
) -> list[Transition]:
    """Turn *findings* into incident transitions and outbox rows, all in one transaction;
    return the transitions.

    Findings are grouped by root cause first (:mod:`monitor.incidents.causes`): one incident
    per cause, its findings its evidence. An open incident whose cause has no finding any more
    resolves, but only if its kind is in *kinds* and its source in *sources* (None: any): pass
    the kinds / sources the list is complete for, so that a producer that did not run does not
    resolve its incidents. Without *notify* (``check --no-notify``), or without a channel that
    takes it, a notice is not queued and the incident counts as never announced: no later
    notice resolves it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    grouping = group_findings(findings, now, config)
    findings = grouping.findings
    transitions: list[Transition] = []
    with store.alerting.unit() as unit:
        silences = unit.active_silences(now)

        def muted(incident: IncidentRecord) -> bool:
            return _silence(incident, silences, config, now) is not None

        open_incidents = _regroup(unit, unit.open_incidents(), grouping, now, transitions)
        changes = plan(
            open_incidents=open_incidents,
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
            saved_id = saved.id
            assert saved_id is not None
            channels: tuple[str, ...] = ()
            if change.notice is not None:
                superseded = unit.supersede_pending(saved_id, now) if change.supersede else []
                notice = build_notice(
                    saved, change.notice.name, config, now, superseded=bool(superseded)
                )
                rows = (
                    outbox_rows(
                        notice, saved, config, now, discriminator=change.notice.discriminator
                    )
                    if notify
                    else []
                )
                unit.enqueue(rows, now)
                channels = tuple(row.channel for row in rows)
                if not rows:  # nobody was told: the incident is as announced as it was before
                    before = change.before
                    saved = unit.save_incident(
                        replace(
                            saved,
                            notified_at=before.notified_at if before else None,
                            notified_level=before.notified_level if before else None,
                        )
                    )
            elif change.supersede:
                unit.supersede_pending(saved_id, now)
            for event in change.events:
                notified = bool(channels) and event.announced
                unit.add_transition(
                    saved_id,
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


def _regroup(
    unit: AlertingUnit,
    open_incidents: Sequence[IncidentRecord],
    grouping: Grouping,
    now: datetime,
    transitions: list[Transition],
) -> list[IncidentRecord]:
    """Carry open incidents over to the cause that now holds their evidence, so that one
    problem keeps one incident id: a cause folded into a wider one (a password expiry into
    the disabled account that now explains it), or an incident of an earlier version keyed by
    the finding that noticed it. The first incident a cause receives takes its key (same id, no
    notice); a further one is closed as merged into it (no notice either). A cause that went
    away is not carried: what remains of its evidence is a problem of its own. Return the open
    incidents as the machine should see them."""
    current = {finding.key: finding for finding in grouping.findings}
    by_key = {incident.key: incident for incident in open_incidents}
    result: list[IncidentRecord] = []
    for incident in open_incidents:
        target = None if incident.key in current else _new_home(incident, grouping)
        if target is None or target == incident.key:
            result.append(incident)
            continue
        incident_id = incident.id
        assert incident_id is not None
        taken = by_key.get(target)
        if taken is None:
            # An incident of an earlier version takes its cause's stage as it is (moving it is
            # no news); a cause folded into a wider one is news: the stage below any makes the
            # machine announce the wider problem once, as an escalation.
            stage = current[target].details.get(STAGE) if not is_cause_key(incident.key) else -1
            details = {**incident.details, STAGE: stage}
            moved = unit.save_incident(replace(incident, key=target, details=details))
            by_key[target] = moved
            result.append(moved)
            event, note = "regrouped", f"its cause is now part of {target}"
        else:
            moved = unit.save_incident(replace(incident, resolved_at=now, next_notice_at=None))
            unit.supersede_pending(incident_id, now)
            event, note = "merged", f"one incident per root cause: merged into {taken.label}"
        unit.add_transition(incident_id, at=now, event=event, level=incident.level, note=note)
        transitions.append(Transition(moved, event, now, None, False, (), note))
    return result


def _new_home(incident: IncidentRecord, grouping: Grouping) -> str | None:
    """Return the cause key that now holds *incident*'s own problem, if another one does."""
    if not is_cause_key(incident.key):
        return grouping.homes.get(incident.key)  # keyed by a finding (an earlier version)
    for key in evidence_keys(incident.details):
        if grouping.own.get(key) == incident.key and key in grouping.homes:
            return grouping.homes[key]
    return None


def _silence(
    incident: IncidentRecord, silences: Sequence[SilenceRecord], config: Config, now: datetime
) -> SilenceRecord | None:
    return silenced_by(incident, silences, config, now)
