"""Queries over what every check stores: current states, lockout guards, daily rollups,
state changes and raw probe results.

Long ranges read ``probe_stats_daily`` (one row per identity, environment and UTC day), never
the raw results: a year of a 300-identity install is ~110,000 rollup rows against ~10.5M
results. Raw results are read only for one identity at a time, through the
``(identity, environment, started_at)`` index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from monitor.model.schema import columns
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import day_text, record_columns, select, stored, to_record, utc


@dataclass(frozen=True)
class StateRow:
    """The current state of one identity in one environment (``identity_state``)."""

    identity: str
    environment: str
    tenant: str
    credential_type: str
    outcome: str
    since: datetime
    last_probe_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int


@dataclass(frozen=True)
class GuardRow:
    """A hold on sign-ins (``lockout_guard``): no sign-in until the credential changes or
    ``hold_until`` passes."""

    identity: str
    outcome: str
    since: datetime
    hold_until: datetime | None
    blocked_attempts: int


@dataclass(frozen=True)
class ChangeRow:
    """A state change, with what the probe that caused it said (when the raw result is
    still kept)."""

    identity: str
    environment: str
    at: datetime
    from_outcome: str | None
    to_outcome: str
    attempted: bool | None
    message: str | None
    aadsts_code: int | None
    http_status: int | None


# The columns this source reads, by table (checked against the schema on import).
STATE_COLUMNS = record_columns("identity_state", StateRow)
READS = {
    "identity_state": STATE_COLUMNS,
    "lockout_guard": columns(
        "lockout_guard", "identity", "outcome", "since", "hold_until", "blocked_attempts"
    ),
    "probe_stats_daily": columns(
        "probe_stats_daily",
        "identity",
        "environment",
        "day",
        "ok",
        "definitive",
        "transient",
        "local",
    ),
    "state_change": columns(
        "state_change",
        "id",
        "identity",
        "environment",
        "at",
        "from_outcome",
        "to_outcome",
        "result_id",
    ),
    "probe_result": columns(
        "probe_result",
        "id",
        "identity",
        "environment",
        "started_at",
        "outcome",
        "attempted",
        "message",
        "aadsts_code",
        "http_status",
    ),
}


def states(database: ReportDatabase) -> list[StateRow]:
    """Return every identity/environment state, ordered by identity and environment."""
    rows = database.connection.execute(
        select("identity_state", STATE_COLUMNS) + " ORDER BY identity, environment"
    )
    times = ("since", "last_probe_at", "last_attempt_at", "last_success_at")
    return [to_record(StateRow, STATE_COLUMNS, row, times=times) for row in rows]


def guards(database: ReportDatabase, now: datetime) -> dict[str, GuardRow]:
    """Return the lockout guards still holding at *now* (a cool-down that has passed does
    not hold), by identity."""
    rows = database.connection.execute(
        "SELECT identity, outcome, since, hold_until, blocked_attempts FROM lockout_guard"
        " WHERE hold_until IS NULL OR hold_until > ?",
        (stored(now),),
    )
    result: dict[str, GuardRow] = {}
    for identity, outcome, since, hold_until, blocked in rows:
        since_at = utc(since)
        assert since_at is not None
        result[identity] = GuardRow(identity, outcome, since_at, utc(hold_until), int(blocked))
    return result


# Per identity, per UTC day (ISO text): (ok, down, unverified) results.
DailyCounts = dict[str, dict[str, tuple[int, int, int]]]


def daily_counts(
    database: ReportDatabase,
    first: date,
    last: date,
    *,
    identity: str | None = None,
    environments: Iterable[str] | None = None,
) -> DailyCounts:
    """Return the rollups of the UTC days ``first..last`` (inclusive) summed per identity and
    day over its environments (all, or only *environments*): ok results, down (definitive,
    held included) and unverified (transient and local). One grouped query over the ``day``
    index (or the ``(identity, environment, day)`` key for one identity)."""
    sql = (
        "SELECT identity, day, sum(ok), sum(definitive), sum(transient + local)"
        " FROM probe_stats_daily WHERE day >= ? AND day <= ?"
    )
    parameters: list[object] = [day_text(first), day_text(last)]
    if identity is not None:
        sql += " AND identity = ?"
        parameters.append(identity)
    if environments is not None:
        wanted = sorted(environments)
        sql += f" AND environment IN ({', '.join('?' for _ in wanted)})"
        parameters.extend(wanted)
    sql += " GROUP BY identity, day"
    counts: DailyCounts = {}
    for name, day, ok, down, unverified in database.connection.execute(sql, parameters):
        counts.setdefault(name, {})[day] = (ok, down, unverified)
    return counts


def outcome_before(
    database: ReportDatabase, identity: str, environment: str, at: datetime
) -> tuple[str, datetime] | None:
    """Return the outcome in force just before *at* and when it began (None if the identity
    had not been probed in that environment yet)."""
    row = database.connection.execute(
        "SELECT to_outcome, at FROM state_change"
        " WHERE identity = ? AND environment = ? AND at < ? ORDER BY at DESC, id DESC LIMIT 1",
        (identity, environment, stored(at)),
    ).fetchone()
    if row is None:
        return None
    began = utc(row[1])
    assert began is not None
    return str(row[0]), began


def changes(
    database: ReportDatabase, identity: str, environment: str, since: datetime, until: datetime
) -> list[ChangeRow]:
    """Return the state changes in ``[since, until)`` in time order, with the causing
    probe's message, AADSTS code and HTTP status where the raw result is still kept."""
    rows = database.connection.execute(
        "SELECT c.at, c.from_outcome, c.to_outcome, r.attempted, r.message, r.aadsts_code,"
        " r.http_status FROM state_change AS c LEFT JOIN probe_result AS r ON r.id = c.result_id"
        " WHERE c.identity = ? AND c.environment = ? AND c.at >= ? AND c.at < ?"
        " ORDER BY c.at, c.id",
        (identity, environment, stored(since), stored(until)),
    )
    result: list[ChangeRow] = []
    for at, from_outcome, to_outcome, attempted, message, aadsts, http_status in rows:
        when = utc(at)
        assert when is not None
        result.append(
            ChangeRow(
                identity=identity,
                environment=environment,
                at=when,
                from_outcome=from_outcome,
                to_outcome=to_outcome,
                attempted=None if attempted is None else bool(attempted),
                message=message,
                aadsts_code=aadsts,
                http_status=http_status,
            )
        )
    return result


def results_in(
    database: ReportDatabase, identity: str, environment: str, since: datetime, until: datetime
) -> list[tuple[int, str]]:
    """Return (start time as stored integer, outcome) of the raw results in ``[since, until)``,
    oldest first, through the ``(identity, environment, started_at)`` index."""
    rows = database.connection.execute(
        "SELECT started_at, outcome FROM probe_result"
        " WHERE identity = ? AND environment = ? AND started_at >= ? AND started_at < ?"
        " ORDER BY started_at",
        (identity, environment, stored(since), stored(until)),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


def raw_results_cover(
    database: ReportDatabase, identity: str, environment: str, since: datetime
) -> bool:
    """Return whether every raw result from *since* on is still kept: the oldest kept result
    is at or before *since*, or it is the very first observation (retention deleted nothing).
    The state changes and daily rollups outlive deleted results."""
    connection = database.connection
    oldest = connection.execute(
        "SELECT min(started_at) FROM probe_result WHERE identity = ? AND environment = ?",
        (identity, environment),
    ).fetchone()[0]
    if oldest is None:
        return False
    if oldest <= stored(since):
        return True
    first = connection.execute(
        "SELECT min(at) FROM state_change WHERE identity = ? AND environment = ?",
        (identity, environment),
    ).fetchone()[0]
    return first is not None and first >= oldest


def environments_of(database: ReportDatabase, identity: str) -> list[str]:
    """Return the environments an identity has a state in (it has been probed there)."""
    rows = database.connection.execute(
        "SELECT environment FROM identity_state WHERE identity = ? ORDER BY environment",
        (identity,),
    )
    return [row[0] for row in rows]


def any_results(database: ReportDatabase) -> bool:
    """Return whether anything was ever recorded (a run or a state)."""
    connection = database.connection
    return (
        connection.execute("SELECT 1 FROM identity_state LIMIT 1").fetchone() is not None
        or connection.execute("SELECT 1 FROM run LIMIT 1").fetchone() is not None
    )


def names(rows: Iterable[StateRow]) -> tuple[set[str], set[str], set[str]]:
    """Return the identities, tenants and environments found in *rows*."""
    identities: set[str] = set()
    tenants: set[str] = set()
    environments: set[str] = set()
    for row in rows:
        identities.add(row.identity)
        tenants.add(row.tenant)
        environments.add(row.environment)
    return identities, tenants, environments
