"""Helpers shared by the sources: stored time values, outcome levels, "not available" notes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from monitor.model.outcomes import Nature, Outcome, Severity, info
from monitor.report.database import ReportDatabase
from monitor.report.model import Level

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(value: int | None) -> datetime | None:
    """Given a stored time (integer microseconds since the epoch, UTC), return it aware."""
    return None if value is None else EPOCH + timedelta(microseconds=int(value))


def stored(value: datetime) -> int:
    """Given an aware datetime, return the stored integer (microseconds since the epoch)."""
    return (value - EPOCH) // timedelta(microseconds=1)


def day_text(value: date) -> str:
    """Days are stored as ISO text (``YYYY-MM-DD``), which compares like the dates."""
    return value.isoformat()


_SEVERITY_LEVEL: dict[Severity, Level] = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.UNKNOWN: "unknown",
    Severity.OK: "ok",
}


def outcome_level(outcome: str) -> Level:
    """Return how bad a stored outcome is; an outcome this monitor does not know is a
    warning (like ``unclassified``), never ok."""
    try:
        return _SEVERITY_LEVEL[info(Outcome(outcome)).severity]
    except ValueError:
        return "warning"


def outcome_nature(outcome: str) -> Nature:
    """Return the nature of a stored outcome (unknown outcomes count as local problems)."""
    try:
        return info(Outcome(outcome)).nature
    except ValueError:
        return Nature.LOCAL


@dataclass(frozen=True)
class Unavailable:
    """A data source the database does not have (yet): the note to show instead of rows."""

    note: str


def select(table: str, names: Sequence[str]) -> str:
    """Return ``SELECT <names> FROM <table>`` for column names declared through
    :func:`monitor.model.schema.columns` (schema constants, never input)."""
    return f"SELECT {', '.join(names)} FROM {table}"  # noqa: S608 - schema constants only


def check_tables(
    database: ReportDatabase, expected: Mapping[str, Collection[str]], missing_note: str
) -> Unavailable | None:
    """Return None if every expected table exists with at least the expected columns;
    otherwise the note to show (*missing_note* when a table does not exist at all)."""
    for table, columns in expected.items():
        if not database.has(table):
            return Unavailable(missing_note)
        lacking = sorted(set(columns) - database.columns(table))
        if lacking:
            return Unavailable(
                f"the {table} table lacks {', '.join(lacking)}; this report version cannot "
                "read it (upgrade monitor)"
            )
    return None
