"""Store methods and records for API usage: reports, pushed counts, and usage views of results.

:class:`UsageQueries` (reads, also on the read-only :class:`~monitor.store.Reader`) and
:class:`UsageWriter` (writes, on :class:`~monitor.store.Store`) are mixins: they use the
``_read`` / ``_write`` sessions of the class they are mixed into. Each method is one short
transaction; an import is one transaction, so a report is stored entirely or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, and_, case, delete, func, insert, or_, select, type_coerce
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.outcomes import Outcome
from monitor.store.models import ProbeResultRow
from monitor.store.models_usage import (
    UsageDailyRow,
    UsageImportRow,
    UsageRecordedRow,
    UsageReportRow,
)
from monitor.usage.footprint import ProbeTally
from monitor.usage.reports import ParsedReport, ReportRow

if TYPE_CHECKING:
    from monitor.probes.base import ProbeResult

_MICROSECONDS_PER_DAY = 86_400 * 1_000_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class UsageImportRecord:
    """An imported report file (see :class:`~monitor.store.models_usage.UsageImportRow`)."""

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


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _import_record(row: UsageImportRow) -> UsageImportRecord:
    return UsageImportRecord(
        id=row.id,
        sha256=row.sha256,
        file_name=row.file_name,
        report=row.report,
        tenant=row.tenant,
        imported_at=row.imported_at,
        rows=row.rows,
        new_rows=row.new_rows,
        updated_rows=row.updated_rows,
        first_day=row.first_day,
        last_day=row.last_day,
    )


def _probe_results(rows: Sequence[ProbeResultRow]) -> list[ProbeResult]:
    # Imported here: store.py imports this module for its mixins.
    from monitor.store.store import _probe_result

    return [_probe_result(row) for row in rows]


class UsageQueries:
    """Reads for API usage (mixed into the store's reader and writer)."""

    if TYPE_CHECKING:

        def _read(self) -> AbstractContextManager[Session]: ...

    def latest_attempted_results(
        self,
        since: datetime,
        identities: Sequence[str] | None = None,
        *,
        outcome: Outcome | None = None,
    ) -> list[ProbeResult]:
        """Return the newest attempted result of each identity / environment pair that has one
        started at or after *since*, optionally only for *identities*, and only those newest
        results whose outcome is *outcome*, ordered by pair."""
        newest = (
            select(
                ProbeResultRow.identity.label("identity"),
                ProbeResultRow.environment.label("environment"),
                func.max(ProbeResultRow.id).label("id"),
            )
            .where(ProbeResultRow.attempted.is_(True), ProbeResultRow.started_at >= since)
            .group_by(ProbeResultRow.identity, ProbeResultRow.environment)
        )
        if identities is not None:
            newest = newest.where(ProbeResultRow.identity.in_(list(identities)))
        latest = newest.subquery()
        # Results are inserted in start order within a run and runs follow each other, so the
        # highest id of a pair is its newest result; ties on started_at cannot reorder it.
        query = (
            select(ProbeResultRow)
            .join(latest, ProbeResultRow.id == latest.c.id)
            .order_by(ProbeResultRow.identity, ProbeResultRow.environment)
        )
        if outcome is not None:
            query = query.where(ProbeResultRow.outcome == outcome.value)
        with self._read() as session:
            return _probe_results(list(session.scalars(query)))

    def throttled_results(
        self, since: datetime, identities: Sequence[str] | None = None
    ) -> list[ProbeResult]:
        """Return the attempted results answered "throttled" started at or after *since*,
        oldest first."""
        query = (
            select(ProbeResultRow)
            .where(
                ProbeResultRow.attempted.is_(True),
                ProbeResultRow.outcome == Outcome.THROTTLED.value,
                ProbeResultRow.started_at >= since,
            )
            .order_by(ProbeResultRow.started_at, ProbeResultRow.id)
        )
        if identities is not None:
            query = query.where(ProbeResultRow.identity.in_(list(identities)))
        with self._read() as session:
            return _probe_results(list(session.scalars(query)))

    def probe_tallies(self, since: date) -> list[ProbeTally]:
        """Return per identity, UTC day and credential type how many stored results were
        attempted, got a token, or were held, from *since* on (see
        :mod:`monitor.usage.footprint`)."""
        day_number = type_coerce(ProbeResultRow.started_at, BigInteger()) // _MICROSECONDS_PER_DAY
        attempted = ProbeResultRow.attempted.is_(True)
        signed_in = and_(
            attempted,
            or_(ProbeResultRow.stage == "dataverse", ProbeResultRow.token_source.is_not(None)),
        )
        query = (
            select(
                ProbeResultRow.identity,
                day_number.label("day_number"),
                ProbeResultRow.credential_type,
                func.sum(case((attempted, 1), else_=0)),
                func.sum(case((signed_in, 1), else_=0)),
                func.sum(case((attempted, 0), else_=1)),
            )
            .where(ProbeResultRow.started_at >= _start_of(since))
            .group_by(ProbeResultRow.identity, "day_number", ProbeResultRow.credential_type)
            .order_by(ProbeResultRow.identity, "day_number")
        )
        with self._read() as session:
            return [
                ProbeTally(
                    identity=identity,
                    day=date.fromordinal(_EPOCH_DAY + int(number)),
                    credential_type=credential_type,
                    attempted=int(tried or 0),
                    signed_in=int(signed or 0),
                    held=int(held or 0),
                )
                for identity, number, credential_type, tried, signed, held in session.execute(query)
            ]

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
        with self._read() as session:
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
        with self._read() as session:
            return [
                RecordedUsage(
                    identity=row.identity,
                    environment=row.environment,
                    tenant=row.tenant,
                    day=row.day,
                    requests=row.requests,
                    recorded_at=row.recorded_at,
                )
                for row in session.scalars(query)
            ]

    def usage_days(self, since: date) -> list[UsageDay]:
        """Return the ``usage_daily`` rows from *since* on, by identity and day."""
        query = (
            select(UsageDailyRow)
            .where(UsageDailyRow.day >= since)
            .order_by(UsageDailyRow.identity, UsageDailyRow.day, UsageDailyRow.source)
        )
        with self._read() as session:
            return [
                UsageDay(
                    identity=row.identity,
                    day=row.day,
                    requests=row.requests,
                    allocation=row.allocation,
                    source=row.source,
                    environment=row.environment,
                )
                for row in session.scalars(query)
            ]

    def usage_imports(self, limit: int = 20) -> list[UsageImportRecord]:
        """Return the newest imported report files, newest first."""
        query = select(UsageImportRow).order_by(UsageImportRow.id.desc()).limit(limit)
        with self._read() as session:
            return [_import_record(row) for row in session.scalars(query)]


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


class UsageWriter:
    """Writes for API usage (mixed into the store's writer)."""

    if TYPE_CHECKING:

        def _write(self) -> AbstractContextManager[Session]: ...

    def import_usage_report(
        self, report: ParsedReport, *, tenant: str, file_name: str, imported_at: datetime
    ) -> ImportOutcome:
        """Store a checked report for *tenant* in one transaction and return what changed.

        A file imported before (same SHA-256) changes nothing. A row whose key is already
        stored replaces its quantities; an identical row is left alone, so importing the same
        data twice adds nothing.
        """
        with self._write() as session:
            existing = session.scalars(
                select(UsageImportRow).where(UsageImportRow.sha256 == report.sha256)
            ).one_or_none()
            if existing is not None:
                return ImportOutcome(_import_record(existing), already_imported=True)
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
            return ImportOutcome(_import_record(record), already_imported=False)

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
        with self._write() as session:
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
        with self._write() as session:
            session.execute(
                delete(UsageDailyRow).where(UsageDailyRow.day >= first, UsageDailyRow.day <= last)
            )
            values = [
                {
                    "identity": day.identity,
                    "environment": day.environment,
                    "day": day.day,
                    "requests": day.requests,
                    "allocation": day.allocation,
                    "source": day.source,
                }
                for day in days
            ]
            for start in range(0, len(values), 500):
                session.execute(insert(UsageDailyRow), values[start : start + 500])
