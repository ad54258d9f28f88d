"""Posture: directory observations, the current value of each fact, and its changes.

Revision ID: 0003_posture
Revises: 0005_usage
Create Date: 2026-11-26

Times are INTEGER microseconds since the Unix epoch, UTC (``monitor.store.models.UTCDateTime``),
spelled as BigInteger here. Facts are canonical JSON text (``value``); a fact is identified by
``fact_key`` (``kind:tenant/identity/environment:subject``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_posture"
down_revision: str | None = "0005_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _scope() -> list[sa.Column[object]]:
    return [
        sa.Column("fact_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("identity", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "posture_observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        *_scope(),
        sa.Column("source", sa.String(length=32), nullable=False),
        _time("observed_at"),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posture_observation")),
    )
    op.create_index(
        op.f("ix_posture_observation_fact_key_observed_at"),
        "posture_observation",
        ["fact_key", "observed_at"],
    )
    op.create_index(
        op.f("ix_posture_observation_tenant_observed_at"),
        "posture_observation",
        ["tenant", "observed_at"],
    )
    op.create_index(
        op.f("ix_posture_observation_observed_at"), "posture_observation", ["observed_at"]
    )

    op.create_table(
        "posture_fact",
        *_scope(),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("observed", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        _time("since"),
        _time("last_observed_at"),
        sa.Column("last_observation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_observation_id"],
            ["posture_observation.id"],
            name=op.f("fk_posture_fact_last_observation_id_posture_observation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("fact_key", name=op.f("pk_posture_fact")),
    )
    op.create_index(op.f("ix_posture_fact_tenant"), "posture_fact", ["tenant"])
    op.create_index(
        op.f("ix_posture_fact_last_observation_id"), "posture_fact", ["last_observation_id"]
    )

    op.create_table(
        "posture_change",
        sa.Column("id", sa.Integer(), nullable=False),
        *_scope(),
        _time("at"),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("from_observed", sa.Boolean(), nullable=True),
        sa.Column("to_observed", sa.Boolean(), nullable=True),
        sa.Column("from_value", sa.Text(), nullable=True),
        sa.Column("to_value", sa.Text(), nullable=True),
        sa.Column("to_cause", sa.String(length=32), nullable=True),
        sa.Column("observation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["posture_observation.id"],
            name=op.f("fk_posture_change_observation_id_posture_observation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posture_change")),
    )
    op.create_index(op.f("ix_posture_change_fact_key_at"), "posture_change", ["fact_key", "at"])
    op.create_index(op.f("ix_posture_change_tenant_at"), "posture_change", ["tenant", "at"])
    op.create_index(op.f("ix_posture_change_at"), "posture_change", ["at"])
    op.create_index(op.f("ix_posture_change_observation_id"), "posture_change", ["observation_id"])


def downgrade() -> None:
    for table in ("posture_change", "posture_fact", "posture_observation"):
        op.drop_table(table)
