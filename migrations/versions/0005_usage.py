"""Usage: imported Power Platform admin center reports, counts pushed by integrations, and the
daily usage derived from them.

Revision ID: 0005_usage
Revises: 0002_alerting
Create Date: 2026-11-26

Times are INTEGER microseconds since the Unix epoch, UTC (``monitor.store.models.UTCDateTime``),
spelled as BigInteger here; days are SQLite dates (``YYYY-MM-DD``). ``usage_report_row`` is
unique per (tenant, report, environment, caller, day, meter): the key that makes an import
idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_usage"
down_revision: str | None = "0002_alerting"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "usage_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("report", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        _time("imported_at"),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("new_rows", sa.Integer(), nullable=False),
        sa.Column("updated_rows", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_import")),
        sa.UniqueConstraint("sha256", name=op.f("uq_usage_import_sha256")),
    )

    op.create_table(
        "usage_report_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("report", sa.String(length=16), nullable=False),
        sa.Column("environment_id", sa.String(), nullable=False),
        sa.Column("environment_name", sa.String(), nullable=False),
        sa.Column("caller_id", sa.String(), nullable=False),
        sa.Column("caller_type", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.String(), nullable=False),
        sa.Column("meter_category", sa.String(), nullable=False),
        sa.Column("meter_subcategory", sa.String(), nullable=False),
        sa.Column("consumed", sa.Integer(), nullable=False),
        sa.Column("entitled", sa.Integer(), nullable=True),
        sa.Column("dataverse_requests", sa.Integer(), nullable=True),
        sa.Column("power_automate_requests", sa.Integer(), nullable=True),
        sa.Column("power_apps_requests", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["usage_import.id"],
            name=op.f("fk_usage_report_row_import_id_usage_import"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_report_row")),
        sa.UniqueConstraint(
            "tenant",
            "report",
            "environment_id",
            "caller_id",
            "day",
            "resource_type",
            "resource_id",
            "meter_category",
            "meter_subcategory",
            name=op.f(
                "uq_usage_report_row_tenant_report_environment_id_caller_id_day_resource_type_"
                "resource_id_meter_category_meter_subcategory"
            ),
        ),
    )
    op.create_index(op.f("ix_usage_report_row_tenant_day"), "usage_report_row", ["tenant", "day"])
    op.create_index(op.f("ix_usage_report_row_import_id"), "usage_report_row", ["import_id"])

    op.create_table(
        "usage_recorded",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        _time("recorded_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_recorded")),
        sa.UniqueConstraint(
            "identity",
            "environment",
            "day",
            name=op.f("uq_usage_recorded_identity_environment_day"),
        ),
    )
    op.create_index(op.f("ix_usage_recorded_day"), "usage_recorded", ["day"])

    op.create_table(
        "usage_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("allocation", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily")),
        sa.UniqueConstraint(
            "identity",
            "environment",
            "day",
            "source",
            name=op.f("uq_usage_daily_identity_environment_day_source"),
        ),
    )
    op.create_index(op.f("ix_usage_daily_day"), "usage_daily", ["day"])


def downgrade() -> None:
    for table in ("usage_daily", "usage_recorded", "usage_report_row", "usage_import"):
        op.drop_table(table)
