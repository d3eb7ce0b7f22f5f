"""The flags tables (SQLAlchemy Core). Alembic owns the schema (migrations/versions/0001_flags.py); a test checks
that the migrated database and these definitions agree.

- `flag_state`: one row; `version` goes up by one in every write transaction. Readers poll it (cheap), and the
  row lock serialises writers, which keeps the tie check and the versions race-free on PostgreSQL.
- `flag_properties`: the live properties, unique per (key, scope).
- `flag_switches`: kill switches; target "*" is the global one, otherwise a key.
- `flag_changes`: the audit trail, append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["flag_changes", "flag_properties", "flag_state", "flag_switches", "metadata"]

metadata = sa.MetaData()

flag_state = sa.Table(
    "flag_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)

flag_properties = sa.Table(
    "flag_properties",
    metadata,
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

flag_switches = sa.Table(
    "flag_switches",
    metadata,
    sa.Column("target", sa.String(200), primary_key=True),
    sa.Column("engaged", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("ticket", sa.String(200), nullable=True),
)

flag_changes = sa.Table(
    "flag_changes",
    metadata,
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
    sa.Index("ix_flag_changes_property", "property_id", "property_version"),
    sa.Index("ix_flag_changes_key", "key", "change_id"),
)
