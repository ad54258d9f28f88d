"""``monitor check --stored``: the state the daemon last recorded, as a Nagios/Icinga check.

Nothing signs in and nothing is written: the newest state of each identity/environment pair
(``identity_state``) and the open incidents are read through the report's read-only connection
(:mod:`monitor.report.database`), so a central Nagios, Icinga or Zabbix can poll the monitor
as often as it likes without adding sign-ins, as any member of the service's group.

The state is the worst of the pairs' outcomes and of the open incidents' levels (a critical
posture or usage incident raises it even when every probe is OK), exactly as for ``monitor
check``. A pair whose newest probe is older than its staleness bound is UNKNOWN ("not probed
since ..."): by default twice the identity's probe interval plus its jitter, or ``--max-age``.
A configured identity with no stored probe at all is UNKNOWN too, and so is the whole check
when every selected pair is too old (the daemon's last pass is older than the bound).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor.config.model import Config, job_interval
from monitor.model.clock import in_days_words
from monitor.model.outcomes import Outcome, Severity, describe, info, worst
from monitor.output.probes import state_counts
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable
from monitor.report.sources.incidents import IncidentRow, incidents
from monitor.report.sources.probes import StateRow, states

_LEVEL_STATE = {"critical": Severity.CRITICAL, "warning": Severity.WARNING}
_ORDER = (Severity.CRITICAL, Severity.WARNING, Severity.UNKNOWN, Severity.OK)


@dataclass(frozen=True)
class StoredPair:
    """One identity in one environment as last recorded (``state`` includes staleness)."""

    identity: str
    environment: str
    credential_type: str
    outcome: str
    state: Severity
    last_probe_at: datetime | None
    since: datetime | None
    consecutive_failures: int
    stale: bool
    detail: str
    remedy: str


@dataclass(frozen=True)
class StoredCheck:
    """What ``check --stored`` reports: pairs, open incidents, the newest probe, the state."""

    now: datetime
    pairs: tuple[StoredPair, ...]
    incidents: tuple[IncidentRow, ...]
    newest_probe_at: datetime | None
    state: Severity


def max_age_for(config: Config, identity: str, override: float | None) -> timedelta:
    """Return how old *identity*'s newest probe may be before it counts as not probed:
    *override* seconds, else twice its probe interval plus its jitter."""
    if override is not None:
        return timedelta(seconds=override)
    interval, jitter = job_interval(config, "probe", config.identities.get(identity))
    return timedelta(seconds=2 * interval + jitter)


def stored_check(
    database: ReportDatabase,
    config: Config,
    now: datetime,
    *,
    identities: Sequence[str],
    max_age_seconds: float | None = None,
) -> StoredCheck:
    """Return the stored state of *identities* (configured names) at *now*."""
    wanted = set(identities)
    rows = [row for row in states(database) if row.identity in wanted]
    details = _latest_details(database, rows)
    pairs = [
        _pair(row, config, now, max_age_seconds, details.get((row.identity, row.environment)))
        for row in rows
    ]
    seen = {row.identity for row in rows}
    for name in identities:
        if name in seen:
            continue
        for environment in config.identities[name].environments:
            pairs.append(_never_probed(config, name, environment))
    found = incidents(database, open_only=True)
    open_incidents = (
        []
        if isinstance(found, Unavailable)
        else [incident for incident in found if _concerns(incident, wanted, config)]
    )
    levels = [_LEVEL_STATE.get(incident.level, Severity.OK) for incident in open_incidents]
    newest = max((row.last_probe_at for row in rows), default=None)
    # Every selected pair too old (the daemon stopped, or probes no longer run): what is stored,
    # incidents included, can no longer be vouched for.
    state = (
        Severity.UNKNOWN
        if pairs and all(pair.stale for pair in pairs)
        else worst([*(pair.state for pair in pairs), *levels])
    )
    return StoredCheck(
        now=now,
        pairs=tuple(sorted(pairs, key=_order)),
        incidents=tuple(open_incidents),
        newest_probe_at=newest,
        state=state,
    )


def _order(pair: StoredPair) -> tuple[int, str, str]:
    return (_ORDER.index(pair.state), pair.identity, pair.environment)


def _concerns(incident: IncidentRow, wanted: set[str], config: Config) -> bool:
    """Whether an open incident concerns the selected identities: its own identity, or a
    tenant-wide one that names one of them as affected (or names none, for their tenant)."""
    if incident.identity is not None:
        return incident.identity in wanted
    if incident.affects:
        return any(name in wanted for name in incident.affects)
    return any(config.identities[name].tenant == incident.tenant for name in wanted)


def _latest_details(
    database: ReportDatabase, rows: Sequence[StateRow]
) -> dict[tuple[str, str], str]:
    """Return the codes of the newest stored result of each failing pair, in one query by the
    primary key the state rows keep, so the check stays fast on a year of history."""
    if (
        all(row.outcome == Outcome.OK.value for row in rows)
        or "probe_result" not in database.tables
    ):
        return {}
    found: dict[tuple[str, str], str] = {}
    for identity, environment, aadsts, dataverse in database.connection.execute(
        "SELECT s.identity, s.environment, r.aadsts_code, r.dataverse_error_code "
        "FROM identity_state s JOIN probe_result r ON r.id = s.last_result_id "
        "WHERE s.outcome != ?",
        (Outcome.OK.value,),
    ):
        text = " ".join(code for code in (f"AADSTS{aadsts}" if aadsts else "", dataverse) if code)
        if text:
            found[(identity, environment)] = text
    return found


def _outcome(value: str) -> Outcome | None:
    try:
        return Outcome(value)
    except ValueError:  # written by a newer monitor
        return None


def _pair(
    row: StateRow, config: Config, now: datetime, max_age: float | None, codes: str | None
) -> StoredPair:
    outcome = _outcome(row.outcome)
    bound = max_age_for(config, row.identity, max_age)
    stale = now - row.last_probe_at > bound
    if outcome is None:
        state, summary, remedy = Severity.UNKNOWN, f"outcome {row.outcome!r}", "upgrade monitor"
    else:
        state = info(outcome).severity
        summary, remedy = describe(outcome, credential_type=row.credential_type)
    if outcome is not Outcome.OK and codes:
        summary = f"{codes} {summary}"
    if stale:
        state = Severity.UNKNOWN
        summary = (
            f"not probed since {row.last_probe_at:%Y-%m-%d %H:%M} UTC "
            f"({_ago(row.last_probe_at, now)}; bound {_span(bound)}); "
            f"then: {summary}"
        )
        remedy = "check that the daemon runs: systemctl status monitor; monitor report"
    return StoredPair(
        identity=row.identity,
        environment=row.environment,
        credential_type=row.credential_type,
        outcome=row.outcome,
        state=state,
        last_probe_at=row.last_probe_at,
        since=row.since,
        consecutive_failures=row.consecutive_failures,
        stale=stale,
        detail=summary,
        remedy=remedy,
    )


def _never_probed(config: Config, identity: str, environment: str) -> StoredPair:
    kind = config.identities[identity].kind
    return StoredPair(
        identity=identity,
        environment=environment,
        credential_type=kind,
        outcome="not_probed",
        state=Severity.UNKNOWN,
        last_probe_at=None,
        since=None,
        consecutive_failures=0,
        stale=True,
        detail="no probe recorded yet",
        remedy="start the daemon (systemctl start monitor) or run `monitor check`",
    )


def _ago(moment: datetime, now: datetime, *, short: bool = False) -> str:
    """Return "3 minutes ago" (:func:`in_days_words`), or "under a minute ago"."""
    if timedelta(0) <= now - moment < timedelta(minutes=1):
        return "<1m ago" if short else "under a minute ago"
    return in_days_words(moment, now, short=short)


def _span(bound: timedelta) -> str:
    if bound < timedelta(minutes=1):
        return f"{int(bound.total_seconds())} s"
    minutes = int(bound.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def status_line(check: StoredCheck) -> str:
    """Return ``MONITOR <STATE> - <counts> (stored ...) | <perfdata>``."""
    text, probe_perf = state_counts([pair.state for pair in check.pairs])
    text = text or "no identities selected"
    by_level = Counter(incident.level for incident in check.incidents)
    incident_words = [
        f"{by_level[level]} {level} incident{'s' if by_level[level] != 1 else ''}"
        for level in ("critical", "warning")
        if by_level[level]
    ]
    if incident_words:
        text += "; " + ", ".join(incident_words)
    if check.newest_probe_at is None:
        text += " (stored: no probe recorded)"
    else:
        text += f" (stored: newest probe {_ago(check.newest_probe_at, check.now)})"
    age = (
        int((check.now - check.newest_probe_at).total_seconds())
        if check.newest_probe_at is not None
        else None
    )
    perf = [probe_perf]
    perf += [f"incidents_{level}={by_level[level]}" for level in ("critical", "warning")]
    if age is not None:
        perf.append(f"age={max(0, age)}s")
    return f"MONITOR {check.state.name} - {text} | {' '.join(perf)}"


def render_text(check: StoredCheck) -> str:
    """Return the status line, a table of pairs (problems first), open incidents, fixes."""
    columns = ("IDENTITY", "ENVIRONMENT", "CREDENTIAL", "STATE", "OUTCOME", "LAST PROBE")
    rows = [
        (
            pair.identity,
            pair.environment,
            pair.credential_type,
            pair.state.name,
            pair.outcome,
            "never"
            if pair.last_probe_at is None
            else _ago(pair.last_probe_at, check.now, short=True),
        )
        for pair in check.pairs
    ]
    widths = [max([len(col)] + [len(row[i]) for row in rows]) for i, col in enumerate(columns)]
    lines = [status_line(check), ""]
    lines.append("  ".join(col.ljust(widths[i]) for i, col in enumerate(columns)).rstrip())
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    problems = [pair for pair in check.pairs if pair.state is not Severity.OK]
    if problems:
        lines.append("")
        for pair in problems:
            lines.append(f"{pair.identity} ({pair.environment}): {pair.detail}.")
            lines.append(f"  fix: {pair.remedy}")
    if check.incidents:
        lines += ["", "Open incidents:"]
        for incident in check.incidents:
            who = incident.identity or f"tenant {incident.tenant}"
            lines.append(f"  {incident.id} {incident.level} {who}: {incident.subject}")
    return "\n".join(lines)


def to_document(check: StoredCheck) -> dict[str, Any]:
    """Return the JSON form (times in ISO 8601 UTC)."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "state": check.state.name,
        "exit_code": int(check.state),
        "status": status_line(check),
        "stored": True,
        "checked_at": check.now.isoformat(),
        "newest_probe_at": iso(check.newest_probe_at),
        "results": [
            {
                "identity": pair.identity,
                "environment": pair.environment,
                "credential_type": pair.credential_type,
                "outcome": pair.outcome,
                "state": pair.state.name,
                "stale": pair.stale,
                "last_probe_at": iso(pair.last_probe_at),
                "since": iso(pair.since),
                "consecutive_failures": pair.consecutive_failures,
                "detail": pair.detail,
                "remedy": pair.remedy,
            }
            for pair in check.pairs
        ],
        "incidents": [
            {
                "id": incident.id,
                "level": incident.level,
                "kind": incident.kind,
                "tenant": incident.tenant,
                "identity": incident.identity,
                "subject": incident.subject,
                "opened_at": iso(incident.opened_at),
                "acknowledged": incident.acknowledged_at is not None,
            }
            for incident in check.incidents
        ],
    }
