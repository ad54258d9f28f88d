"""Posture: failed reads in a row per fact, so that a fact keeps its last known value through a
failed read and "not observed" waits for a threshold, as a probe's "cannot verify" does.

Revision ID: 0006_failed_reads
Revises: 0004_daemon
Create Date: 2026-12-06

``posture_fact.failed_reads`` counts the reads in a row that failed (0 after one that
succeeded) and ``failing_since`` holds when the first of them was: INTEGER microseconds since
the Unix epoch, UTC (``monitor.store.models.UTCDateTime``), spelled as BigInteger here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_failed_reads"
down_revision: str | None = "0004_daemon"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posture_fact") as batch:
        batch.add_column(
            sa.Column("failed_reads", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("failing_since", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posture_fact") as batch:
        batch.drop_column("failing_since")
        batch.drop_column("failed_reads")
