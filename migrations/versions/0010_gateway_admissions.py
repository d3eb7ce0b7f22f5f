"""gateway admissions: which submitted lists the gateway took and which it passed to the upstream Clouddriver

Revision ID: 0010_gateway_admissions
Revises: 0009_rollout_leases
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_gateway_admissions"
down_revision = "0009_rollout_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_admissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("account", sa.String(200), nullable=False),
        sa.Column("application", sa.String(200), nullable=False),
        sa.Column("known", sa.Boolean, nullable=False),
        sa.Column("taken", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_id", "position", name="uq_gateway_admissions_request"),
    )
    op.create_index("ix_gateway_admissions_decided_at", "gateway_admissions", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_admissions_decided_at", table_name="gateway_admissions")
    op.drop_table("gateway_admissions")
