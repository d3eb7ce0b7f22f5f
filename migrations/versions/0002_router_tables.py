"""router: operation owners, operation outcomes and shadow comparisons

Revision ID: 0002_router_tables
Revises: 0001_flags
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_router_tables"
down_revision = "0001_flags"
branch_labels = None
depends_on = None

_DIMENSIONS = ("operation", "stage_type", "account", "application", "provider")


def _dimension_columns() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(200), nullable=False, server_default="") for name in _DIMENSIONS]


def upgrade() -> None:
    op.create_table(
        "operation_owners",
        sa.Column("operation_id", sa.String(255), primary_key=True),
        sa.Column("path", sa.String(16), nullable=False),
        sa.Column("handle", sa.String(400), nullable=True),
        sa.Column("reason", sa.String(400), nullable=False, server_default=""),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "operation_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(255), nullable=False),
        *_dimension_columns(),
        sa.Column("path", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("task_id", sa.String(255), nullable=True),
        sa.Column("workflow_id", sa.String(300), nullable=True),
        sa.Column("fallback", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("duration_s", sa.Float, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_operation_outcomes_operation_id", "operation_outcomes", ["operation_id"])
    op.create_index("ix_operation_outcomes_finished_at", "operation_outcomes", ["finished_at"])
    op.create_index("ix_outcomes_scope", "operation_outcomes", ["operation", "provider", "account"])
    op.create_table(
        "shadow_comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation_id", sa.String(255), nullable=False),
        *_dimension_columns(),
        sa.Column("control_path", sa.String(16), nullable=False),
        sa.Column("candidate_path", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("diffs", sa.JSON, nullable=False),
        sa.Column("control", sa.JSON, nullable=False),
        sa.Column("candidate", sa.JSON, nullable=False),
        sa.Column("control_duration_s", sa.Float, nullable=False),
        sa.Column("candidate_duration_s", sa.Float, nullable=False),
        sa.Column("compared_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shadow_comparisons_operation_id", "shadow_comparisons", ["operation_id"])
    op.create_index("ix_shadow_comparisons_compared_at", "shadow_comparisons", ["compared_at"])
    op.create_index("ix_comparisons_scope", "shadow_comparisons", ["operation", "outcome"])


def downgrade() -> None:
    op.drop_table("shadow_comparisons")
    op.drop_table("operation_outcomes")
    op.drop_table("operation_owners")
