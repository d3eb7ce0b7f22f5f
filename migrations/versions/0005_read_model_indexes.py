"""read model indexes: a scope's outcomes and comparisons over a window, read without a table scan

Revision ID: 0005_read_model_indexes
Revises: 0004_gateway
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005_read_model_indexes"
down_revision = "0004_gateway"
branch_labels = None
depends_on = None

_SCOPE = ["application", "account", "operation", "provider"]


def upgrade() -> None:
    op.create_index("ix_outcomes_scope_window", "operation_outcomes", [*_SCOPE, "finished_at"])
    op.create_index("ix_comparisons_scope_window", "shadow_comparisons", [*_SCOPE, "compared_at"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_scope_window", table_name="shadow_comparisons")
    op.drop_index("ix_outcomes_scope_window", table_name="operation_outcomes")
