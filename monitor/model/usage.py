"""API usage as stored: imported report rows summed per caller and day, counts integrations
pushed, the daily usage table, imported files, and the monitor's own probe tallies.

Days are UTC dates; times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


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
