"""Daemon: the status row ``monitor run`` keeps current, so that ``monitor report`` can tell
whether the daemon is alive.

Revision ID: 0004_daemon
Revises: 0003_posture
Create Date: 2026-11-27

Times are INTEGER microseconds since the Unix epoch, UTC (``monitor.store.models.UTCDateTime``),
spelled as BigInteger here. One row per daemon instance (today always ``instance = 'daemon'``);
see ``monitor.store.models_daemon``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_daemon"
down_revision: str | None = "0003_posture"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "daemon_status",
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(), nullable=False),
        sa.Column("monitor_version", sa.String(length=32), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=True),
        _time("started_at"),
        _time("last_beat_at"),
        sa.Column("write_interval_seconds", sa.Integer(), nullable=False),
        _time("last_probe_at", nullable=True),
        sa.Column("probes_since_start", sa.Integer(), nullable=False),
        sa.Column("identities", sa.Integer(), nullable=False),
        sa.Column("failing_pairs", sa.Integer(), nullable=False),
        _time("stopped_at", nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_daemon_status")),
    )


def downgrade() -> None:
    op.drop_table("daemon_status")
