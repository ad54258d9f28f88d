"""The usage tables (migration ``0005_usage``): imported admin-center report rows, one per
(tenant, report, environment, caller, UTC day, meter), replaced on a new import of the same key;
imported files by SHA-256; counts integrations push, one per identity, environment and day; and
``usage_daily``, derived from them and the configuration (docs/usage.md).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.base import Base


class UsageImportRow(Base):
    """One imported report file."""

    __tablename__ = "usage_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    report: Mapped[str] = mapped_column(String(16))  # "licensed" or "non_licensed"
    tenant: Mapped[str]
    imported_at: Mapped[datetime]
    rows: Mapped[int]  # rows after summing records with the same key
    new_rows: Mapped[int]
    updated_rows: Mapped[int]
    first_day: Mapped[date | None]
    last_day: Mapped[date | None]


class UsageReportRow(Base):
    """The Power Platform requests of one caller on one UTC day, as a report states them."""

    __tablename__ = "usage_report_row"
    __table_args__ = (
        UniqueConstraint(
            "tenant",
            "report",
            "environment_id",
            "caller_id",
            "day",
            "resource_type",
            "resource_id",
            "meter_category",
            "meter_subcategory",
        ),
        Index(None, "tenant", "day"),
        Index(None, "import_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("usage_import.id", ondelete="SET NULL")
    )
    tenant: Mapped[str]
    report: Mapped[str] = mapped_column(String(16))
    environment_id: Mapped[str]
    environment_name: Mapped[str]
    caller_id: Mapped[str]
    caller_type: Mapped[str]
    day: Mapped[date]
    resource_type: Mapped[str]
    resource_id: Mapped[str]
    meter_category: Mapped[str]
    meter_subcategory: Mapped[str]
    consumed: Mapped[int]
    entitled: Mapped[int | None]
    dataverse_requests: Mapped[int | None]
    power_automate_requests: Mapped[int | None]
    power_apps_requests: Mapped[int | None]


class UsageRecordedRow(Base):
    """A request count an integration pushed for one identity, environment and UTC day."""

    __tablename__ = "usage_recorded"
    __table_args__ = (UniqueConstraint("identity", "environment", "day"), Index(None, "day"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str]
    environment: Mapped[str]
    tenant: Mapped[str]
    day: Mapped[date]
    requests: Mapped[int]
    recorded_at: Mapped[datetime]


class UsageDailyRow(Base):
    """Each identity's usage per UTC day as the usage evaluation judged it, with its allocation.

    A derived table, rewritten for recent days by ``refresh_usage_daily`` (after an import, a
    recorded count, and hourly by the daemon's ``usage`` job), so that the report can read usage
    with one query. ``environment`` is NULL: allocations are per identity, across environments.
    ``source`` is ``admin center csv`` or ``integration``: where the day's number came from.
    """

    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("identity", "environment", "day", "source"),
        Index(None, "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str]
    environment: Mapped[str | None]
    day: Mapped[date]
    requests: Mapped[int]
    allocation: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(32))
