"""Alerting: incidents and their transitions, silences, the outbox and its delivery attempts.

Revision ID: 0002_alerting
Revises: 0001
Create Date: 2026-11-26

Times are INTEGER microseconds since the Unix epoch, UTC (``monitor.store.models.UTCDateTime``),
spelled as BigInteger here. At most one incident per finding key is open: a partial unique index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_alerting"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("identity", sa.String(), nullable=True),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("remedy", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        _time("deadline", nullable=True),
        _time("opened_at"),
        _time("observed_at"),
        _time("resolved_at", nullable=True),
        _time("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("acknowledgement_note", sa.Text(), nullable=True),
        _time("notified_at", nullable=True),
        sa.Column("notified_level", sa.String(length=16), nullable=True),
        sa.Column("ladder_rung", sa.Integer(), nullable=True),
        _time("next_notice_at", nullable=True),
        sa.Column("owed", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_index(
        "ix_incident_open_key",
        "incident",
        ["key"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.create_index(op.f("ix_incident_resolved_at"), "incident", ["resolved_at"])
    op.create_index(op.f("ix_incident_identity_opened_at"), "incident", ["identity", "opened_at"])
    op.create_index(op.f("ix_incident_owed"), "incident", ["owed"])

    op.create_table(
        "incident_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_transition_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_transition")),
    )
    op.create_index(
        op.f("ix_incident_transition_incident_id_at"),
        "incident_transition",
        ["incident_id", "at"],
    )
    op.create_index(op.f("ix_incident_transition_at"), "incident_transition", ["at"])

    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(), nullable=True),
        sa.Column("tag", sa.String(), nullable=True),
        sa.Column("tenant", sa.String(), nullable=True),
        _time("starts_at"),
        _time("until"),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("created_at"),
        sa.Column("created_by", sa.String(), nullable=True),
        _time("removed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silence")),
    )
    op.create_index(op.f("ix_silence_until"), "silence", ["until"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        _time("created_at"),
        _time("not_before"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("lease_until", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_urls", sa.Integer(), nullable=False),
        _time("sent_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_outbox_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedup_key", "channel", name=op.f("uq_outbox_dedup_key_channel")),
    )
    op.create_index(op.f("ix_outbox_status_not_before"), "outbox", ["status", "not_before"])
    op.create_index(op.f("ix_outbox_incident_id"), "outbox", ["incident_id"])
    op.create_index(op.f("ix_outbox_channel_status"), "outbox", ["channel", "status"])

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("url_index", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_delivery_attempt_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
    )
    op.create_index(op.f("ix_delivery_attempt_outbox_id"), "delivery_attempt", ["outbox_id"])
    op.create_index(op.f("ix_delivery_attempt_at"), "delivery_attempt", ["at"])


def downgrade() -> None:
    for table in ("delivery_attempt", "outbox", "silence", "incident_transition", "incident"):
        op.drop_table(table)
