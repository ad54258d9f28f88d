"""API usage as stored: imported report rows summed per caller and day, counts integrations
pushed, the daily usage table, imported files, and the monitor's own probe tallies.

Days are UTC dates; times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

# The admin center's two request reports about identities (monitor.usage.csv_import reads them).
ReportFormat = Literal["licensed", "non_licensed"]


@dataclass(frozen=True)
class ProbeTally:
    """Stored results of one identity on one UTC day with one credential type."""

    identity: str
    day: date
    credential_type: str
    attempted: int
    signed_in: int  # attempted results that obtained a token (WhoAmI was sent)
    held: int


@dataclass(frozen=True)
class UsageImportRecord:
    """An imported report file (see :class:`~monitor.store.models.usage.UsageImportRow`)."""

    id: int
    sha256: str
    file_name: str
    report: str
    tenant: str
    imported_at: datetime
    rows: int
    new_rows: int
    updated_rows: int
    first_day: date | None
    last_day: date | None


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: the file's record, and whether it had been imported before."""

    record: UsageImportRecord
    already_imported: bool

    @property
    def unchanged_rows(self) -> int:
        return self.record.rows - self.record.new_rows - self.record.updated_rows


@dataclass(frozen=True)
class ReportUsage:
    """One caller's requests on one UTC day in one report, summed over environments and meters.

    ``entitled`` is the highest entitlement stated on those rows (the caller's in the licensed
    report, the tenant pool's in the non-licensed report).
    """

    tenant: str
    report: str
    caller_id: str
    caller_type: str
    day: date
    consumed: int
    entitled: int | None


@dataclass(frozen=True)
class RecordedUsage:
    """A count an integration pushed (``monitor usage record``)."""

    identity: str
    environment: str
    tenant: str
    day: date
    requests: int
    recorded_at: datetime


@dataclass(frozen=True)
class UsageDay:
    """A row of ``usage_daily``: one identity's usage on one UTC day, and its allocation."""

    identity: str
    day: date
    requests: int
    allocation: int | None
    source: str  # "admin center csv" or "integration"
    environment: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One usage row: an environment, a caller, a UTC day, a meter and a quantity.

    ``line`` is the first line of the (first) CSV record it came from. ``entitled`` is the
    caller's entitlement (licensed report) or the tenant pool's (non-licensed report).
    """

    line: int
    environment_id: str
    environment_name: str
    caller_id: str  # lower case; "" when the report has none
    caller_type: str
    day: date
    consumed: int
    entitled: int | None
    resource_type: str = ""
    resource_id: str = ""
    meter_category: str = ""
    meter_subcategory: str = ""
    dataverse_requests: int | None = None
    power_automate_requests: int | None = None
    power_apps_requests: int | None = None

    @property
    def key(self) -> tuple[str, str, date, str, str, str, str]:
        """The idempotency key: the same key in a later import replaces this row."""
        return (
            self.environment_id,
            self.caller_id,
            self.day,
            self.resource_type,
            self.resource_id,
            self.meter_category,
            self.meter_subcategory,
        )


@dataclass(frozen=True)
class ParsedReport:
    """A checked report: its format, its rows (one per key) and the file's SHA-256."""

    format: ReportFormat
    rows: tuple[ReportRow, ...]
    sha256: str
    records: int  # CSV records read (before rows with the same key were summed)

    @property
    def first_day(self) -> date | None:
        return min((row.day for row in self.rows), default=None)

    @property
    def last_day(self) -> date | None:
        return max((row.day for row in self.rows), default=None)
