"""rollouts: guarded rollout plans and their timelines

Revision ID: 0003_rollouts
Revises: 0002_router_tables
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_rollouts"
down_revision = "0002_router_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("scope_key", sa.String(1100), nullable=False),
        sa.Column("active_scope", sa.String(1100), nullable=True),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("min_ops", sa.Integer, nullable=False),
        sa.Column("min_duration_s", sa.Float, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("target_stage", sa.String(16), nullable=True),
        sa.Column("target_percent", sa.Float, nullable=True),
        sa.Column("flag_synced", sa.Boolean, nullable=False),
        sa.Column("flag_base_version", sa.Integer, nullable=True),
        sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("last_result", sa.JSON, nullable=True),
        sa.Column("last_tick_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("active_scope", name="uq_rollouts_active_scope"),
    )
    op.create_index("ix_rollouts_status", "rollouts", ["status"])
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(64), sa.ForeignKey("rollouts.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("from_stage", sa.String(16), nullable=True),
        sa.Column("from_percent", sa.Float, nullable=True),
        sa.Column("to_stage", sa.String(16), nullable=True),
        sa.Column("to_percent", sa.Float, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.UniqueConstraint("rollout_id", "version", name="uq_rollout_events_version"),
    )


def downgrade() -> None:
    op.drop_table("rollout_events")
    op.drop_index("ix_rollouts_status", table_name="rollouts")
    op.drop_table("rollouts")
