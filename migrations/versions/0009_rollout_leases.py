"""rollout leases: which controller replica ticks a rollout, and until when

Revision ID: 0009_rollout_leases
Revises: 0008_console_sessions
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_rollout_leases"
down_revision = "0008_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout_leases",
        sa.Column("rollout_id", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollout_leases")
