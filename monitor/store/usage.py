"""API usage: imported admin-center reports, counts integrations pushed, and the daily usage
table (the tables of migration ``0005_usage``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from monitor.model.usage import (
    ImportOutcome,
    ParsedReport,
    RecordedUsage,
    ReportRow,
    ReportUsage,
    UsageDay,
    UsageImportRecord,
)
from monitor.store.database import Database
from monitor.store.mapping import RecordMap
from monitor.store.models.usage import (
    UsageDailyRow,
    UsageImportRow,
    UsageRecordedRow,
    UsageReportRow,
)

IMPORT = RecordMap(UsageImportRecord)
RECORDED = RecordMap(RecordedUsage)
DAY = RecordMap(UsageDay)


class UsageRepository:
    """Reads and writes of usage reports, pushed counts and the daily usage table; every method
    is one short transaction (an import is one, so a report is stored entirely or not at all)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def report_usage(self, since: date, tenant: str | None = None) -> list[ReportUsage]:
        """Return imported report usage per tenant, report, caller and day from *since* on."""
        row = UsageReportRow
        query = (
            select(
                row.tenant,
                row.report,
                row.caller_id,
                func.max(row.caller_type),
                row.day,
                func.sum(row.consumed),
                func.max(row.entitled),
            )
            .where(row.day >= since)
            .group_by(row.tenant, row.report, row.caller_id, row.day)
            .order_by(row.tenant, row.report, row.caller_id, row.day)
        )
        if tenant is not None:
            query = query.where(row.tenant == tenant)
        with self._database.read() as session:
            return [
                ReportUsage(
                    tenant=tenant_,
                    report=report,
                    caller_id=caller_id,
                    caller_type=caller_type or "",
                    day=day,
                    consumed=int(consumed or 0),
                    entitled=None if entitled is None else int(entitled),
                )
                for tenant_, report, caller_id, caller_type, day, consumed, entitled in (
                    session.execute(query)
                )
            ]

    def recorded_usage(self, since: date) -> list[RecordedUsage]:
        """Return the counts integrations pushed for days from *since* on."""
        query = (
            select(UsageRecordedRow)
            .where(UsageRecordedRow.day >= since)
            .order_by(UsageRecordedRow.identity, UsageRecordedRow.day, UsageRecordedRow.environment)
        )
        with self._database.read() as session:
            return [RECORDED.to_record(row) for row in session.scalars(query)]

    def usage_days(self, since: date) -> list[UsageDay]:
        """Return the ``usage_daily`` rows from *since* on, by identity and day."""
        query = (
            select(UsageDailyRow)
            .where(UsageDailyRow.day >= since)
            .order_by(UsageDailyRow.identity, UsageDailyRow.day, UsageDailyRow.source)
        )
        with self._database.read() as session:
            return [DAY.to_record(row) for row in session.scalars(query)]

    def import_usage_report(
        self, report: ParsedReport, *, tenant: str, file_name: str, imported_at: datetime
    ) -> ImportOutcome:
        """Store a checked report for *tenant* in one transaction and return what changed.

        A file imported before (same SHA-256) changes nothing. A row whose key is already
        stored replaces its quantities; an identical row is left alone, so importing the same
        data twice adds nothing.
        """
        with self._database.write() as session:
            existing = session.scalars(
                select(UsageImportRow).where(UsageImportRow.sha256 == report.sha256)
            ).one_or_none()
            if existing is not None:
                return ImportOutcome(IMPORT.to_record(existing), already_imported=True)
            record = UsageImportRow(
                sha256=report.sha256,
                file_name=file_name[:255],
                report=report.format,
                tenant=tenant,
                imported_at=imported_at,
                rows=len(report.rows),
                new_rows=0,
                updated_rows=0,
                first_day=report.first_day,
                last_day=report.last_day,
            )
            session.add(record)
            session.flush()
            # An upsert per batch: nothing stored is read into memory, so a million-row report
            # costs no more here than its batches. A stored row changes (and takes this import's
            # id) only when a value differs.
            statement = sqlite_insert(UsageReportRow)
            excluded = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=[getattr(UsageReportRow, name) for name in _UNIQUE_COLUMNS],
                set_={name: excluded[name] for name in ("import_id", *_VALUE_COLUMNS)},
                where=or_(
                    *(
                        getattr(UsageReportRow, name).is_distinct_from(excluded[name])
                        for name in _VALUE_COLUMNS
                    )
                ),
            )
            mine = (UsageReportRow.tenant == tenant) & (UsageReportRow.report == report.format)
            counted = select(func.count()).select_from(UsageReportRow)
            before = session.scalar(counted.where(mine)) or 0
            batch: list[dict[str, object]] = []
            for row in report.rows:
                batch.append(
                    {
                        "import_id": record.id,
                        "tenant": tenant,
                        "report": report.format,
                        **{name: getattr(row, name) for name in _KEY_COLUMNS},
                        **_values(row),
                    }
                )
                if len(batch) >= _BATCH_ROWS:
                    session.connection().execute(statement, batch)
                    batch.clear()
            if batch:
                session.connection().execute(statement, batch)
            new_rows = (session.scalar(counted.where(mine)) or 0) - before
            touched = session.scalar(counted.where(UsageReportRow.import_id == record.id)) or 0
            updated = touched - new_rows
            record.new_rows = new_rows
            record.updated_rows = updated
            session.flush()
            return ImportOutcome(IMPORT.to_record(record), already_imported=False)

    def record_usage(
        self,
        identity: str,
        environment: str,
        tenant: str,
        day: date,
        requests: int,
        recorded_at: datetime,
    ) -> int | None:
        """Set the count of *identity* in *environment* on *day*; return the count it replaced
        (None if there was none). Raise ValueError for a negative count."""
        if requests < 0:
            raise ValueError("a request count cannot be negative")
        with self._database.write() as session:
            previous = session.scalars(
                select(UsageRecordedRow.requests).where(
                    UsageRecordedRow.identity == identity,
                    UsageRecordedRow.environment == environment,
                    UsageRecordedRow.day == day,
                )
            ).one_or_none()
            statement = sqlite_insert(UsageRecordedRow).values(
                identity=identity,
                environment=environment,
                tenant=tenant,
                day=day,
                requests=requests,
                recorded_at=recorded_at,
            )
            statement = statement.on_conflict_do_update(
                index_elements=[
                    UsageRecordedRow.identity,
                    UsageRecordedRow.environment,
                    UsageRecordedRow.day,
                ],
                set_={
                    "requests": statement.excluded.requests,
                    "tenant": statement.excluded.tenant,
                    "recorded_at": statement.excluded.recorded_at,
                },
            )
            session.execute(statement)
            return previous

    def replace_usage_days(self, days: Sequence[UsageDay], first: date, last: date) -> None:
        """Replace every ``usage_daily`` row from *first* to *last* (inclusive) with *days*, in
        one transaction. Raise ValueError if a row lies outside that range."""
        outside = [day for day in days if not first <= day.day <= last]
        if outside:
            raise ValueError(f"{len(outside)} usage days outside {first}..{last}")
        with self._database.write() as session:
            session.execute(
                delete(UsageDailyRow).where(UsageDailyRow.day >= first, UsageDailyRow.day <= last)
            )
            values = [DAY.to_values(day) for day in days]
            for start in range(0, len(values), 500):
                session.execute(insert(UsageDailyRow), values[start : start + 500])


_QUANTITIES = (
    "consumed",
    "entitled",
    "dataverse_requests",
    "power_automate_requests",
    "power_apps_requests",
)


def _values(row: ReportRow) -> dict[str, object]:
    """The stored columns a later report may change (:data:`_VALUE_COLUMNS`)."""
    return {
        "environment_name": row.environment_name,
        "caller_type": row.caller_type,
        **{name: getattr(row, name) for name in _QUANTITIES},
    }


# A stored row's key (ReportRow.key's order) and the columns _values gives.
_KEY_COLUMNS = (
    "environment_id",
    "caller_id",
    "day",
    "resource_type",
    "resource_id",
    "meter_category",
    "meter_subcategory",
)
_VALUE_COLUMNS = ("environment_name", "caller_type", *_QUANTITIES)
_UNIQUE_COLUMNS = ("tenant", "report", *_KEY_COLUMNS)
_BATCH_ROWS = 500
