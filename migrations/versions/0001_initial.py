"""Initial schema: runs, probe results, identity state, state changes, lockout guards, rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Times are INTEGER microseconds since the Unix epoch, UTC (``monitor.store.models.UTCDateTime``);
a migration spells them as BigInteger so it never changes when the models do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("monitor_version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run")),
        sa.UniqueConstraint("run_id", name=op.f("uq_run_run_id")),
    )
    op.create_index(op.f("ix_run_started_at"), "run", ["started_at"])

    op.create_table(
        "probe_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("credential_type", sa.String(length=32), nullable=False),
        _time("started_at"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("attempted", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("aadsts_code", sa.Integer(), nullable=True),
        sa.Column("oauth_error", sa.String(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("dataverse_error_code", sa.String(), nullable=True),
        sa.Column("correlation_id", sa.String(), nullable=True),
        sa.Column("trace_id", sa.String(), nullable=True),
        sa.Column("token_source", sa.String(length=32), nullable=True),
        sa.Column("ratelimit_burst_remaining", sa.Integer(), nullable=True),
        sa.Column("ratelimit_time_remaining", sa.Integer(), nullable=True),
        sa.Column("retry_after_seconds", sa.Integer(), nullable=True),
        sa.Column("credential_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("organization_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name=op.f("fk_probe_result_run_id_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_result")),
    )
    op.create_index(
        op.f("ix_probe_result_identity_environment_started_at"),
        "probe_result",
        ["identity", "environment", "started_at"],
    )
    op.create_index(op.f("ix_probe_result_started_at"), "probe_result", ["started_at"])
    op.create_index(op.f("ix_probe_result_run_id"), "probe_result", ["run_id"])

    op.create_table(
        "identity_state",
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("credential_type", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        _time("since"),
        _time("last_probe_at"),
        _time("last_attempt_at", nullable=True),
        _time("last_success_at", nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), nullable=False),
        sa.Column("credential_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("last_result_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_result_id"],
            ["probe_result.id"],
            name=op.f("fk_identity_state_last_result_id_probe_result"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("identity", "environment", name=op.f("pk_identity_state")),
    )
    op.create_index(op.f("ix_identity_state_last_result_id"), "identity_state", ["last_result_id"])

    op.create_table(
        "state_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        _time("at"),
        sa.Column("from_outcome", sa.String(length=32), nullable=True),
        sa.Column("to_outcome", sa.String(length=32), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["probe_result.id"],
            name=op.f("fk_state_change_result_id_probe_result"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_change")),
    )
    op.create_index(
        op.f("ix_state_change_identity_environment_at"),
        "state_change",
        ["identity", "environment", "at"],
    )
    op.create_index(op.f("ix_state_change_at"), "state_change", ["at"])
    op.create_index(op.f("ix_state_change_result_id"), "state_change", ["result_id"])

    op.create_table(
        "lockout_guard",
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("credential_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("aadsts_code", sa.Integer(), nullable=True),
        _time("since"),
        _time("hold_until", nullable=True),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=True),
        sa.Column("blocked_attempts", sa.Integer(), nullable=False),
        _time("last_blocked_at", nullable=True),
        _time("forced_at", nullable=True),
        sa.PrimaryKeyConstraint("identity", name=op.f("pk_lockout_guard")),
    )

    op.create_table(
        "probe_stats_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("definitive", sa.Integer(), nullable=False),
        sa.Column("transient", sa.Integer(), nullable=False),
        sa.Column("local", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("duration_ms_sum", sa.Integer(), nullable=False),
        sa.Column("duration_ms_max", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_stats_daily")),
        sa.UniqueConstraint(
            "identity",
            "environment",
            "day",
            name=op.f("uq_probe_stats_daily_identity_environment_day"),
        ),
    )
    op.create_index(op.f("ix_probe_stats_daily_day"), "probe_stats_daily", ["day"])


def downgrade() -> None:
    for table in (
        "probe_stats_daily",
        "lockout_guard",
        "state_change",
        "identity_state",
        "probe_result",
        "run",
    ):
        op.drop_table(table)
