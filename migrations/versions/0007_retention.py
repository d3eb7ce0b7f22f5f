"""retention: gateway tasks by their last change, so a prune takes the oldest finished ones without a table scan

The router's tables need nothing new: retention reads outcomes by `finished_at` and comparisons by `compared_at`
(indexed since 0002), and owners by their primary key.

Revision ID: 0007_retention
Revises: 0006_outcome_ownership
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007_retention"
down_revision = "0006_outcome_ownership"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_gateway_tasks_updated_at", "gateway_tasks", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_tasks_updated_at", table_name="gateway_tasks")
