"""The incident state machine: open incidents + findings + now -> changes (pure, no I/O).

For each finding key there is at most one open incident. :func:`plan` decides what one
evaluation does to each (open, escalate, de-escalate, resolve, announce a lead-time rung, remind,
hold a notice for a silence); the caller writes the changes, their transitions and the outbox
rows of their notices in one transaction (:mod:`monitor.incidents.evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.config.model import AlertRules
from monitor.findings.probes import COVERED_BY, RECOVERING
from monitor.incidents.causes import STAGE
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.incidents import IncidentRecord

Muted = Callable[[IncidentRecord], bool]
RulesFor = Callable[[str | None], AlertRules]

_RANK = {"info": 0, "warning": 1, "critical": 2}


# What an incident's evidence says at each stage (monitor.incidents.causes: STAGE).
STAGES = {0: "ahead of its deadline", 1: "past its deadline", 2: "failing now"}


def _stage(details: Mapping[str, object]) -> int:
    stage = details.get(STAGE)
    return stage if isinstance(stage, int) and not isinstance(stage, bool) else 0


def level_rank(level: str) -> int:
    return _RANK.get(level, 1)


@dataclass(frozen=True)
class Event:
    """One transition of an incident. ``notify`` marks the event a notice is wanted for."""

    name: str  # opened, escalated, deescalated, rung, expired, reminder, resolved, released, moved
    level: str
    rung: int | None = None
    notify: bool = False
    discriminator: str = ""
    note: str = ""
    announced: bool = False  # the notice of this change is for this event


@dataclass(frozen=True)
class Change:
    """What one evaluation does to one incident. ``before`` is None for a new incident;
    ``notice`` is the event to announce (None: nothing to send); ``supersede`` asks to mark the
    incident's undelivered notices superseded (it resolved before they went out)."""

    before: IncidentRecord | None
    after: IncidentRecord
    events: tuple[Event, ...]
    notice: Event | None = None
    supersede: bool = False


def current_rung(deadline: datetime, now: datetime, ladder: Sequence[int]) -> int | None:
    """Return the nearest rung (days) *now* has reached before *deadline*: 0 once the deadline
    has passed, None while it is further away than the first rung."""
    left = deadline - now
    if left <= timedelta(0):
        return 0
    reached = [days for days in ladder if left <= timedelta(days=days)]
    return min(reached) if reached else None


def reminder_interval(level: str, rules: AlertRules) -> timedelta | None:
    """Return how often an open incident of *level* is repeated (None: never, for info)."""
    if level == Level.CRITICAL.value:
        return timedelta(hours=rules.critical_reminder_hours)
    if level == Level.WARNING.value:
        return timedelta(hours=rules.warning_reminder_hours)
    return None


def _minute(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M")


def plan(
    *,
    open_incidents: Sequence[IncidentRecord],
    owing_resolved: Sequence[IncidentRecord],
    findings: Sequence[Finding],
    now: datetime,
    rules_for: RulesFor,
    muted: Muted,
    kinds: Collection[FindingKind] | None = None,
    sources: Collection[str] | None = None,
) -> list[Change]:
    """Return the changes one evaluation makes, at most one notice per incident.

    * a finding without an open incident **opens** one, unless it only keeps incidents open
      (``details["recovering"]``) or a wider open incident covers it (``details["covered_by"]``);
    * a finding with an open incident updates it: a higher level **escalates** (notified), a
      lower one **de-escalates** (recorded only); at the same level, evidence further along
      (expiring -> expired -> failing now, ``details["stage"]``) escalates once too;
      descriptive fields follow the finding silently;
    * an open incident whose key no finding has any more **resolves**, but only if *findings* is
      complete for its kind and source (*kinds* / *sources*; None: every one);
    * notices: an incident with a deadline is announced at each **lead-time rung** it reaches
      (default 60 / 30 / 14 / 7 / 3 / 1 days; several rungs passed at once give one notice, and a
      rung is never repeated because the rung reached is stored), and daily once **expired**; one
      without a deadline gets **reminders** (critical every 4 h, warning daily; acknowledged
      incidents none); a finding that first appears before the first rung opens its incident
      without a notice; the first notice an incident gets is always sent as "opened" (one opened
      under ``--no-notify`` is announced at its next rung or reminder, never with a resolved
      notice first);
    * **silences**: a notice that falls due while its incident is silenced (*muted*) is not sent.
      If the incident was never announced, the notice is owed and goes out when the silence ends;
      if it was, the notice is dropped and the reminder clock moves on, so a silence ending causes
      no storm. A resolution of an announced incident is owed the same way.
    """
    by_key = {incident.key: incident for incident in open_incidents}
    chosen: dict[str, Finding] = {}
    for finding in findings:
        current = chosen.get(finding.key)
        if current is None or (finding.level.rank, finding.observed_at) > (
            current.level.rank,
            current.observed_at,
        ):
            chosen[finding.key] = finding
    # Wider findings first, so that what they cover knows whether they are open.
    ordered = sorted(chosen.values(), key=lambda f: (COVERED_BY in f.details, f.key))
    live = {key for key in by_key if key in chosen}
    changes: list[Change] = []
    for finding in ordered:
        incident = by_key.get(finding.key)
        if incident is None:
            if finding.details.get(RECOVERING) is True:
                continue
            cover = finding.details.get(COVERED_BY)
            if isinstance(cover, str) and cover in live:
                continue
            changes.append(_open(finding, now, rules_for(finding.identity), muted))
            live.add(finding.key)
        else:
            change = _update(incident, finding, now, rules_for(incident.identity), muted)
            if change is not None:
                changes.append(change)
    kind_values = None if kinds is None else {FindingKind(kind).value for kind in kinds}
    for incident in open_incidents:
        if incident.key in chosen:
            continue
        if kind_values is not None and incident.kind not in kind_values:
            continue
        if sources is not None and incident.source not in sources:
            continue
        changes.append(_resolve(incident, now, muted))
    for incident in owing_resolved:
        if incident.owed == "resolved" and not muted(incident):
            event = Event(
                "released",
                incident.level,
                notify=True,
                discriminator="",
                note="the resolved notice waited for a silence to end",
                announced=True,
            )
            changes.append(
                Change(
                    before=incident,
                    after=replace(incident, owed=None),
                    events=(event,),
                    notice=replace(event, name="resolved"),
                )
            )
    return changes


# What an incident takes over from its finding, when it opens and at every evaluation after.
_FOLLOWED = (
    "environment",
    "subject",
    "summary",
    "remedy",
    "source",
    "deadline",
    "observed_at",
    "details",
)


def _followed(finding: Finding) -> dict[str, Any]:
    """Return the fields of *finding* an incident follows (:data:`_FOLLOWED`)."""
    return {name: getattr(finding, name) for name in _FOLLOWED}


def _open(finding: Finding, now: datetime, rules: AlertRules, muted: Muted) -> Change:
    level = finding.level.value
    incident = IncidentRecord(
        id=None,
        key=finding.key,
        kind=finding.kind.value,
        level=level,
        tenant=finding.tenant,
        identity=finding.identity,
        opened_at=now,
        **_followed(finding),
    )
    if finding.deadline is not None:
        rung = current_rung(finding.deadline, now, rules.expiry_ladder_days)
        if rung is None:
            note = "further from its deadline than the first lead-time rung; no notice yet"
            return Change(None, incident, (Event("opened", level, note=note),))
        next_at = now + timedelta(hours=rules.expired_repeat_hours) if rung == 0 else None
        incident = replace(incident, ladder_rung=rung, next_notice_at=next_at)
    else:
        rung = None
        interval = reminder_interval(level, rules)
        incident = replace(incident, next_notice_at=now + interval if interval else None)
    event = Event("opened", level, rung=rung, notify=True)
    return _announce(None, incident, [event], event, now, muted)


def _update(
    incident: IncidentRecord, finding: Finding, now: datetime, rules: AlertRules, muted: Muted
) -> Change | None:
    level = finding.level.value
    if finding.details.get(RECOVERING) is True:
        # Only keeping the incident open: keep the words that describe the problem, so a
        # resolved notice still says what was wrong.
        finding = replace(
            finding,
            subject=incident.subject,
            summary=incident.summary,
            remedy=incident.remedy,
            details=incident.details,
        )
    after = replace(incident, level=level, **_followed(finding))
    events: list[Event] = []
    notice: Event | None = None
    if level_rank(level) > level_rank(incident.level):
        notice = Event(
            "escalated", level, notify=True, discriminator=level, note=f"from {incident.level}"
        )
        events.append(notice)
    elif level_rank(level) < level_rank(incident.level):
        events.append(Event("deescalated", level, note=f"from {incident.level}"))
    elif _stage(finding.details) > _stage(incident.details):
        # Same level, but the problem went further (expiring -> expired -> failing): announce
        # it once on the same incident.
        stage = _stage(finding.details)
        notice = Event(
            "escalated", level, notify=True, discriminator=f"stage-{stage}", note=STAGES[stage]
        )
        events.append(notice)

    acknowledged = incident.acknowledged_at is not None
    if finding.deadline is not None:
        rung = current_rung(finding.deadline, now, rules.expiry_ladder_days)
        previous = incident.ladder_rung
        if rung is None:
            if previous is not None:
                events.append(Event("moved", level, note="the deadline moved beyond the ladder"))
            after = replace(after, ladder_rung=None, next_notice_at=None)
        elif previous is None or rung < previous:
            name = "expired" if rung == 0 else "rung"
            event = Event(name, level, rung=rung, notify=True, discriminator=str(rung))
            events.append(event)
            notice = event
            next_at = now + timedelta(hours=rules.expired_repeat_hours) if rung == 0 else None
            after = replace(after, ladder_rung=rung, next_notice_at=next_at)
        elif rung > previous:
            events.append(Event("moved", level, rung=rung, note="the deadline moved later"))
            after = replace(after, ladder_rung=rung, next_notice_at=None)
        elif rung == 0 and incident.next_notice_at is not None and now >= incident.next_notice_at:
            after = replace(after, next_notice_at=now + timedelta(hours=rules.expired_repeat_hours))
            if not acknowledged:
                event = Event(
                    "expired",
                    level,
                    rung=0,
                    notify=True,
                    discriminator=_minute(now),
                    note="still expired",
                )
                events.append(event)
                notice = notice or event
    else:
        interval = reminder_interval(level, rules)
        if incident.deadline is not None:
            after = replace(after, ladder_rung=None)
        due = incident.next_notice_at is None or now >= incident.next_notice_at
        # A reminder of an incident that was never announced (opened under --no-notify or
        # before a channel took it) is its first announcement: _announce sends it as "opened".
        if (
            notice is None
            and interval is not None
            and due
            and not acknowledged
            and incident.next_notice_at is not None
        ):
            event = Event("reminder", level, notify=True, discriminator=_minute(now))
            events.append(event)
            notice = event
        if interval is None:
            after = replace(after, next_notice_at=None)
        elif notice is not None or due:
            after = replace(after, next_notice_at=now + interval)

    if incident.owed == "opened" and not muted(after):
        event = Event(
            "released",
            level,
            rung=after.ladder_rung,
            notify=True,
            note="the opening notice waited for a silence to end",
        )
        events.append(event)
        notice = replace(event, name="opened", discriminator="")
        after = replace(after, owed=None, next_notice_at=_next_after_notice(after, now, rules))
    if not events and after == incident:
        return None
    if notice is None:
        return Change(incident, after, tuple(events))
    return _announce(incident, after, events, notice, now, muted)


def _next_after_notice(
    incident: IncidentRecord, now: datetime, rules: AlertRules
) -> datetime | None:
    """Return when the next repeat of an incident just announced is due."""
    if incident.deadline is not None:
        if incident.ladder_rung == 0:
            return now + timedelta(hours=rules.expired_repeat_hours)
        return None
    interval = reminder_interval(incident.level, rules)
    return now + interval if interval else None


def _announce(
    before: IncidentRecord | None,
    after: IncidentRecord,
    events: list[Event],
    notice: Event,
    now: datetime,
    muted: Muted,
) -> Change:
    """Send *notice* unless the incident is silenced (then owe it or drop it, see above)."""
    if muted(after):
        index = events.index(notice) if notice in events else -1
        if after.notified_at is None:
            note = "silenced: the notice waits for the silence to end"
            after = replace(after, owed="opened")
        else:
            note = "silenced: not sent"
        if index >= 0:
            events[index] = replace(notice, note=(notice.note + "; " if notice.note else "") + note)
        return Change(before, after, tuple(events))
    index = events.index(notice) if notice in events else len(events) - 1
    events[index] = replace(events[index], announced=True)
    if after.notified_at is None and notice.name in ("rung", "expired", "reminder"):
        notice = replace(notice, name="opened", discriminator="")  # its first announcement
    after = replace(after, notified_at=now, notified_level=after.level)
    return Change(before, after, tuple(events), notice=notice)


def _resolve(incident: IncidentRecord, now: datetime, muted: Muted) -> Change:
    after = replace(incident, resolved_at=now, next_notice_at=None)
    event = Event("resolved", incident.level)
    if incident.notified_at is None:
        after = replace(after, owed=None)
        note = (
            "never announced, so no resolved notice"
            if incident.owed is None
            else ("resolved while silenced before it was announced")
        )
        return Change(incident, after, (replace(event, note=note),))
    if muted(incident):
        after = replace(after, owed="resolved")
        note = "silenced: the resolved notice waits for the silence to end"
        return Change(incident, after, (replace(event, note=note),), supersede=True)
    event = replace(event, notify=True)
    return Change(incident, after, (replace(event, announced=True),), notice=event, supersede=True)
