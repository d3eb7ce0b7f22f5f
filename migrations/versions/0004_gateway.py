"""gateway: the Clouddriver-compatible gateway's tasks and their operations

Revision ID: 0004_gateway
Revises: 0003_rollouts
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_gateway"
down_revision = "0003_rollouts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_tasks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("execution_id", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("start_time_ms", sa.BigInteger, nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_id", name="uq_gateway_tasks_request_id"),
    )
    op.create_index("ix_gateway_tasks_state", "gateway_tasks", ["state"])
    op.create_table(
        "gateway_operations",
        sa.Column("task_id", sa.String(64), sa.ForeignKey("gateway_tasks.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("operation_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("application", sa.String(200), nullable=False),
        sa.Column("stage_type", sa.String(200), nullable=False),
        sa.Column("class_name", sa.String(200), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("handle", sa.String(400), nullable=True),
        sa.Column("first_attempt_at", sa.Float, nullable=True),
        sa.Column("view", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("operation_id", name="uq_gateway_operations_operation_id"),
    )


def downgrade() -> None:
    op.drop_table("gateway_operations")
    op.drop_index("ix_gateway_tasks_state", table_name="gateway_tasks")
    op.drop_table("gateway_tasks")
