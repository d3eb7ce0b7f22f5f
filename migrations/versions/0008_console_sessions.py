"""console sessions and sign-in attempts: server-side sessions (revoked at sign-out) and login throttling

Revision ID: 0008_console_sessions
Revises: 0007_retention
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_console_sessions"
down_revision = "0007_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_console_sessions_user_name", "console_sessions", ["user_name"])
    op.create_table(
        "console_login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("attempted_at", sa.Float, nullable=False),
    )
    op.create_index("ix_login_attempts_user", "console_login_attempts", ["user_name", "attempted_at"])
    op.create_index("ix_login_attempts_address", "console_login_attempts", ["address", "attempted_at"])


def downgrade() -> None:
    op.drop_table("console_login_attempts")
    op.drop_table("console_sessions")
