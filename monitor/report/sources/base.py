"""Helpers shared by the sources: stored time values, outcome levels, "not available" notes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

from monitor.model.outcomes import Nature, Outcome, Severity, info
from monitor.model.schema import columns
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


R = TypeVar("R")


def record_columns(table: str, record: type[Any]) -> tuple[str, ...]:
    """Return the fields of the row record *record* (a dataclass whose fields are named like
    the columns) as the columns of *table* a reader relies on (see
    :func:`monitor.model.schema.columns`)."""
    return columns(table, *(item.name for item in dataclasses.fields(record)))


def to_record(
    record: Callable[..., R],
    names: Sequence[str],
    row: Sequence[Any],
    *,
    times: Collection[str] = (),
    convert: Mapping[str, Callable[[Any], object]] = MappingProxyType({}),
) -> R:
    """Return *record* built from a *row* of the columns *names*: the *times* columns (stored
    microseconds) made aware UTC by :func:`utc`, the *convert* columns by their function, the
    others as they are."""
    values = dict(zip(names, row, strict=True))
    for name in times:
        values[name] = utc(values[name])
    for name, function in convert.items():
        values[name] = function(values[name])
    return record(**values)


def read_table(
    database: ReportDatabase,
    table: str,
    names: Sequence[str],
    missing_note: str,
    tail: str = "",
    parameters: Sequence[object] = (),
) -> list[Any] | Unavailable:
    """Return the rows of the columns *names* of *table* (*tail*: the WHERE and ORDER BY
    clauses, constants with ``?`` for *parameters*), or the note to show when the database
    lacks the table or a column (see :func:`check_tables`)."""
    missing = check_tables(database, {table: names}, missing_note)
    if missing is not None:
        return missing
    return database.connection.execute(select(table, names) + tail, parameters).fetchall()


def check_tables(
    database: ReportDatabase, expected: Mapping[str, Collection[str]], missing_note: str
) -> Unavailable | None:
    """Return None if every expected table exists with at least the expected columns;
    otherwise the note to show (*missing_note* when a table does not exist at all)."""
    for table, names in expected.items():
        if not database.has(table):
            return Unavailable(missing_note)
        lacking = sorted(set(names) - database.columns(table))
        if lacking:
            return Unavailable(
                f"the {table} table lacks {', '.join(lacking)}; this report version cannot "
                "read it (upgrade monitor)"
            )
    return None
