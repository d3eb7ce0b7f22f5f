"""flags: properties, kill switches, the append-only audit trail and the version counter

Revision ID: 0001_flags
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_flags"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER flag_changes_no_{verb.lower()} BEFORE {verb} ON flag_changes
    BEGIN SELECT RAISE(ABORT, 'flag_changes is append-only'); END"""
    for verb in ("UPDATE", "DELETE")
]

_POSTGRES_TRIGGER = [
    """CREATE FUNCTION flag_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'flag_changes is append-only'; END $$""",
    """CREATE TRIGGER flag_changes_append_only BEFORE UPDATE OR DELETE ON flag_changes
    FOR EACH ROW EXECUTE FUNCTION flag_changes_append_only()""",
]


def upgrade() -> None:
    state = op.create_table(
        "flag_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0}])
    op.create_table(
        "flag_properties",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("scope_key", sa.String(1100), nullable=False),
        sa.Column("application", sa.String(200), nullable=True),
        sa.Column("account", sa.String(200), nullable=True),
        sa.Column("operation", sa.String(200), nullable=True),
        sa.Column("stage_type", sa.String(200), nullable=True),
        sa.Column("provider", sa.String(200), nullable=True),
        sa.Column("value_json", sa.Text, nullable=False),
        sa.Column("percent", sa.Float, nullable=True),
        sa.Column("bucket_by", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(200), nullable=True),
        sa.UniqueConstraint("key", "scope_key", name="uq_flag_properties_key_scope"),
    )
    op.create_table(
        "flag_switches",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("engaged", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(200), nullable=True),
    )
    op.create_table(
        "flag_changes",
        sa.Column("change_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(200), nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("property_id", sa.String(64), nullable=True),
        sa.Column("property_version", sa.Integer, nullable=True),
        sa.Column("before_json", sa.Text, nullable=True),
        sa.Column("after_json", sa.Text, nullable=True),
        sa.Column("restored_from", sa.Integer, nullable=True),
    )
    op.create_index("ix_flag_changes_property", "flag_changes", ["property_id", "property_version"])
    op.create_index("ix_flag_changes_key", "flag_changes", ["key", "change_id"])
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES_TRIGGER if dialect == "postgresql" else _SQLITE_TRIGGERS if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_flag_changes_key", table_name="flag_changes")
    op.drop_index("ix_flag_changes_property", table_name="flag_changes")
    op.drop_table("flag_changes")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS flag_changes_append_only()")
    op.drop_table("flag_switches")
    op.drop_table("flag_properties")
    op.drop_table("flag_state")
