"""API usage against the 24-hour request allocation, per identity and day.

The table this module reads (the contract with the usage feature; only this module changes if
its shape does):

``usage_daily``
    ``identity``, ``environment`` (NULL: tenant-wide), ``day`` (ISO date text, UTC),
    ``requests`` (requests counted that day), ``allocation`` (the 24-hour allocation in force,
    NULL if unknown), ``source`` (``admin center csv``, ``integration``, ``monitor``).

Queries want an index on ``(day)`` (and the natural unique key ``(identity, environment, day,
source)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from monitor.model.schema import columns
from monitor.report.database import ReportDatabase
from monitor.report.sources.base import Unavailable, check_tables, day_text

REQUIRES = "requires the usage migration 0005_usage and `monitor usage import`"
MISSING = f"no usage data recorded yet ({REQUIRES})"

TABLES = {
    "usage_daily": columns(
        "usage_daily", "identity", "environment", "day", "requests", "allocation", "source"
    )
}


@dataclass(frozen=True)
class UsageRow:
    """Requests of one identity on one UTC day (summed over environments and sources)."""

    identity: str
    day: date
    requests: int
    allocation: int | None
    sources: tuple[str, ...]

    @property
    def share(self) -> float | None:
        if not self.allocation:
            return None
        return self.requests / self.allocation


def usage(database: ReportDatabase, first: date, last: date) -> list[UsageRow] | Unavailable:
    """Return the usage per identity and UTC day in ``first..last`` (inclusive), ordered by
    identity and day. The allocation of a day is the largest one recorded for it."""
    missing = check_tables(database, TABLES, MISSING)
    if missing is not None:
        return missing
    rows = database.connection.execute(
        "SELECT identity, day, sum(requests), max(allocation), group_concat(DISTINCT source)"
        " FROM usage_daily WHERE day >= ? AND day <= ?"
        " GROUP BY identity, day ORDER BY identity, day",
        (day_text(first), day_text(last)),
    )
    return [
        UsageRow(
            identity=identity,
            day=date.fromisoformat(day),
            requests=int(requests or 0),
            allocation=None if allocation is None else int(allocation),
            sources=tuple(sorted((sources or "").split(","))) if sources else (),
        )
        for identity, day, requests, allocation, sources in rows
    ]
