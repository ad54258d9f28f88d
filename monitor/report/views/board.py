"""The status board: one row per identity, problems first.

Per identity (over its environments that pass the filters): the worst current outcome and
since when, the newest success in that environment, availability over the window (from the
daily rollups), the nearest deadline and what it is, identity type and licences, usage share
and open incidents. Identities in the configuration that were never probed are listed too.
A second table lists the open incidents that pass the filters, worst first, each with its
remedy (what the notices said to do).
Above the rows, one line says whether the daemon is alive (:mod:`monitor.report.sources.daemon`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.report.context import ReportContext
from monitor.report.database import ReportDatabase
from monitor.report.model import (
    LEVEL_RANK,
    AvailabilityChart,
    AvailabilityStrip,
    Cell,
    Column,
    DayCell,
    Level,
    Table,
    ViewResult,
)
from monitor.report.sources import daemon as daemon_source
from monitor.report.sources import incidents as incident_source
from monitor.report.sources import posture, probes
from monitor.report.sources import usage as usage_source
from monitor.report.sources.base import Unavailable, outcome_level
from monitor.report.sources.deadlines import all_deadlines
from monitor.report.views.common import (
    AVAILABILITY_NOTE,
    Options,
    Ranked,
    availability,
    day_cells,
    deadline_level,
    deadline_words,
    expiry_chart,
    notes_of,
    ranked_table,
    usage_chart,
    view_result,
    window_days,
    worst,
)
from monitor.report.views.incidents import level_of as incident_level
from monitor.report.views.incidents import wanted as incident_wanted

DEFAULT_SINCE = timedelta(days=30)
# The HTML page's expiry timeline looks this far ahead.
EXPIRY_HORIZON = timedelta(days=90)

CREDENTIAL_SHORT = {"client_secret": "secret", "certificate": "cert", "password": "password"}
CLASSIFICATION_SHORT = {
    "application user": "app",
    "non-interactive user": "non-interactive",
    "interactive user": "interactive",
}

COLUMNS = (
    Column("identity", "IDENTITY", shrink=1, min_width=10),
    Column("state", "STATE", "state", shrink=1, min_width=8),
    Column("state_since", "SINCE", "time"),
    Column("last_success", "LAST OK", "time"),
    Column("availability", "AVAIL", "fraction"),
    Column("deadline", "DEADLINE", shrink=2, min_width=11),
    Column("type", "TYPE", shrink=3, min_width=11),
    Column("usage_share", "USE", "fraction"),
    Column("open_incidents", "INC", "int"),
    Column("tenant", "TENANT", terminal=False),
    Column("environments", "ENVIRONMENTS", terminal=False),
    Column("environments_ok", "ENVIRONMENTS OK", "int", terminal=False),
    Column("held", "HELD", terminal=False),
    Column("probes", "PROBES", "int", terminal=False),
    Column("down", "DOWN", "int", terminal=False),
    Column("unverified", "UNVERIFIED", "int", terminal=False),
    Column("deadline_what", "DEADLINE WHAT", terminal=False),
    Column("deadline_at", "DEADLINE AT", "time", terminal=False),
    Column("deadline_source", "DEADLINE SOURCE", terminal=False),
    Column("kind", "KIND", terminal=False),
    Column("classification", "CLASSIFICATION", terminal=False),
    Column("credential_type", "CREDENTIAL", terminal=False),
    Column("licences", "LICENCES", terminal=False),
    Column("level", "LEVEL", terminal=False),
)


@dataclass
class _Identity:
    name: str
    tenant: str | None
    states: list[probes.StateRow]
    kind: str | None
    credential_type: str | None


def build(database: ReportDatabase, context: ReportContext, options: Options) -> ViewResult:
    """Return the status board for the context's window and filters."""
    selection = context.selection
    now = context.now
    first, last = window_days(context)

    identities: dict[str, _Identity] = {}
    for state in probes.states(database):
        if not selection.wants(state.identity, state.tenant, state.environment):
            continue
        meta = context.configured.get(state.identity)
        entry = identities.get(state.identity)
        if entry is None:
            entry = identities[state.identity] = _Identity(
                state.identity,
                state.tenant,
                [],
                None if meta is None else meta.kind,
                state.credential_type,
            )
        entry.states.append(state)
        entry.credential_type = state.credential_type
    for name, meta in context.configured.items():
        if name in identities or not selection.wants_identity(name, meta.tenant):
            continue
        if selection.environments is not None and not (
            selection.environments & set(meta.environments)
        ):
            continue
        identities[name] = _Identity(name, meta.tenant, [], meta.kind, meta.credential_type)

    posture_data = posture.evaluate(database, context.config, now)
    profiles = {} if isinstance(posture_data, Unavailable) else posture_data.profiles
    for name, profile in profiles.items():  # discovered identities watched for posture
        if (
            profile.discovered
            and name not in identities
            and selection.wants_identity(name, profile.tenant)
            and selection.environments is None
        ):
            identities[name] = _Identity(name, profile.tenant, [], None, None)

    guards = probes.guards(database, now)
    counts = probes.daily_counts(database, first, last, environments=selection.environments)

    deadlines = all_deadlines(database, context.configured, posture_data)
    nearest: dict[str, posture.Deadline] = {}
    for deadline in deadlines:
        if deadline.environment is not None and not selection.wants_environment(
            deadline.environment
        ):
            continue
        current = nearest.get(deadline.identity)
        if current is None or deadline.ends_at < current.ends_at:
            nearest[deadline.identity] = deadline

    usage_rows = usage_source.usage(database, first, last)
    open_incidents = incident_source.incidents(database, open_only=True)
    incident_levels: dict[str, list[Level]] = defaultdict(list)
    if not isinstance(open_incidents, Unavailable):
        for incident in open_incidents:
            if incident.identity is None:  # tenant-wide: counts for the identities it affects
                for entry in identities.values():
                    if entry.tenant == incident.tenant and (
                        not incident.affects or entry.name in incident.affects
                    ):
                        incident_levels[entry.name].append(incident_level(incident))
            elif incident.environment is None or selection.wants_environment(incident.environment):
                incident_levels[incident.identity].append(incident_level(incident))
    latest_usage: dict[str, usage_source.UsageRow] = {}
    usage_by_identity: dict[str, list[usage_source.UsageRow]] = defaultdict(list)
    if not isinstance(usage_rows, Unavailable):
        for usage_row in usage_rows:
            latest_usage[usage_row.identity] = usage_row  # ordered by day: the newest wins
            usage_by_identity[usage_row.identity].append(usage_row)

    built: list[Ranked] = []
    strips: list[tuple[tuple[int, float, str], AvailabilityStrip]] = []
    for entry in identities.values():
        cells = day_cells(counts.get(entry.name, {}), first, last)
        row, marks, level = _row(
            entry,
            context,
            guards.get(entry.name),
            cells,
            nearest.get(entry.name),
            profiles.get(entry.name),
            latest_usage.get(entry.name),
            incident_levels.get(entry.name),
            not isinstance(open_incidents, Unavailable),
        )
        soonest = nearest.get(entry.name)
        urgency = soonest.ends_at.timestamp() if soonest is not None else float("inf")
        key = (LEVEL_RANK[level], urgency, entry.name)
        built.append((key, row, marks))
        strips.append(
            (
                key,
                AvailabilityStrip(entry.name, level, cells),
            )
        )
    strips.sort(key=lambda item: item[0])

    wanted_deadlines = [
        deadline
        for deadline in deadlines
        if deadline.identity in identities
        and deadline.ends_at < now + EXPIRY_HORIZON
        and deadline.ends_at >= context.since
    ]
    wanted_deadlines.sort(key=lambda deadline: deadline.ends_at)
    charts = (
        AvailabilityChart(
            f"Availability per day, {first.isoformat()} to {last.isoformat()} (UTC days)",
            first,
            last,
            tuple(strip for _, strip in strips),
        ),
        expiry_chart(
            "Expiry calendar, the next 90 days", wanted_deadlines, now, now + EXPIRY_HORIZON
        ),
        usage_chart(
            usage_by_identity,
            empty=usage_rows.note
            if isinstance(usage_rows, Unavailable)
            else "no usage data in this period",
        ),
    )
    notes = notes_of(posture_data, usage_rows, open_incidents)
    notes.append(AVAILABILITY_NOTE)
    table = ranked_table(
        "identities",
        "Identities, problems first",
        COLUMNS,
        built,
        empty="no identity matches the filters",
    )
    tables = [table]
    if not isinstance(open_incidents, Unavailable):
        tables.append(_incident_table(open_incidents, context))
    return view_result(
        context,
        "board",
        "Status board",
        tables,
        notes=tuple(notes),
        charts=charts,
        daemon=daemon_source.summary(database, now),
    )


def _row(
    entry: _Identity,
    context: ReportContext,
    guard: probes.GuardRow | None,
    cells: tuple[DayCell, ...],
    deadline: posture.Deadline | None,
    profile: posture.Profile | None,
    usage_row: usage_source.UsageRow | None,
    incident_levels: list[Level] | None,
    incidents_known: bool,
) -> tuple[dict[str, Cell], dict[str, Level], Level]:
    now = context.now
    marks: dict[str, Level] = {}
    if entry.states:
        worst_state = min(
            entry.states,
            key=lambda state: (LEVEL_RANK[outcome_level(state.outcome)], state.since),
        )
        state_level = outcome_level(worst_state.outcome)
        state_text = worst_state.outcome
        if guard is not None:
            state_text += " (held)"
            state_level = worst([state_level, "critical"])
        ok_count = sum(1 for state in entry.states if state.outcome == "ok")
        since: datetime | None = worst_state.since
        last_success = worst_state.last_success_at
    elif profile is not None and profile.discovered:
        state_text, state_level, ok_count, since, last_success = (
            posture.DISCOVERED,
            "none",
            0,
            None,
            None,
        )
    else:
        state_text, state_level, ok_count, since, last_success = (
            "never probed",
            "unknown",
            0,
            None,
            None,
        )
    marks["state"] = state_level
    level = state_level

    ratio, ok, down, unverified = availability(cells)
    if ratio is not None and ratio < 1:
        marks["availability"] = "critical" if ratio < 0.99 else "warning"

    deadline_cells: dict[str, Cell] = {
        "deadline": None,
        "deadline_what": None,
        "deadline_at": None,
        "deadline_source": None,
    }
    if deadline is not None:
        deadline_cells = {
            "deadline": deadline_words(deadline, now),
            "deadline_what": deadline.label,
            "deadline_at": deadline.ends_at,
            "deadline_source": deadline.source,
        }
        marks["deadline"] = deadline_level(deadline.ends_at, now)
        # An upcoming expiry is a problem to sort by, not downtime: it never changes the
        # availability, only the order and the colour of the deadline.
        level = worst([level, marks["deadline"]])

    credential = entry.credential_type or ""
    type_text = CREDENTIAL_SHORT.get(credential, credential)
    licences: tuple[str, ...] = ()
    if profile is not None:
        licences = profile.licences
        if profile.classification:
            type_text = CLASSIFICATION_SHORT.get(profile.classification, profile.classification)
        if licences:
            type_text += " " + licences[0] + ("+" if len(licences) > 1 else "")

    share = None if usage_row is None else usage_row.share
    if share is not None and share >= 0.8:
        marks["usage_share"] = "critical" if share >= 1 else "warning"
        level = worst([level, marks["usage_share"]])

    open_count: int | None = None
    if incidents_known:
        open_count = len(incident_levels or [])
        if incident_levels:
            severity = worst(incident_levels)
            marks["open_incidents"] = severity
            level = worst([level, severity])

    row: dict[str, Cell] = {
        "identity": entry.name,
        "state": state_text,
        "state_since": since,
        "last_success": last_success,
        "availability": ratio,
        **deadline_cells,
        "type": type_text,
        "usage_share": share,
        "open_incidents": open_count,
        "tenant": entry.tenant,
        "environments": " ".join(sorted(state.environment for state in entry.states)),
        "environments_ok": ok_count,
        "held": None if guard is None else guard.outcome,
        "probes": ok + down + unverified,
        "down": down,
        "unverified": unverified,
        "kind": entry.kind,
        "classification": None if profile is None else profile.classification or None,
        "credential_type": entry.credential_type,
        "licences": " ".join(licences),
        "level": level,
    }
    return row, marks, level


INCIDENT_COLUMNS = (
    Column("id", "ID"),
    Column("identity", "IDENTITY", shrink=1, min_width=8),
    Column("level", "LEVEL", "state"),
    Column("opened_at", "OPENED", "time"),
    Column("summary", "SUMMARY", shrink=2, min_width=10),
    Column("remedy", "REMEDY", shrink=3, min_width=10),
    Column("tenant", "TENANT", terminal=False),
    Column("environment", "ENVIRONMENT", terminal=False),
    Column("status", "STATUS", terminal=False),
)


def _incident_table(found: list[incident_source.IncidentRow], context: ReportContext) -> Table:
    """Return the open incidents that pass the filters, worst first, newest first within a
    level, each with its remedy."""
    chosen = [incident for incident in found if incident_wanted(incident, context)]
    chosen.sort(
        key=lambda incident: (
            LEVEL_RANK[incident_level(incident)],
            -incident.opened_at.timestamp(),
        )
    )
    rows: list[dict[str, Cell]] = [
        {
            "id": incident.id,
            "identity": incident.identity or f"(tenant {incident.tenant})",
            "level": incident.level,
            "opened_at": incident.opened_at,
            "summary": incident.summary,
            "remedy": incident.remedy,
            "tenant": incident.tenant,
            "environment": incident.environment,
            "status": incident.status,
        }
        for incident in chosen
    ]
    marks: list[dict[str, Level]] = [{"level": incident_level(i)} for i in chosen]
    return Table(
        "open_incidents",
        "Open incidents, with what to do",
        INCIDENT_COLUMNS,
        tuple(rows),
        tuple(marks),
        empty="no open incidents",
    )
