"""The console's own SQL tables (SQLAlchemy Core), in the cloudops database. Schema owned by Alembic
(migrations/versions/0008_console_sessions.py).

- `console_sessions`: one row per signed-in browser session, known by the SHA-256 of its id (the cookie carries
  the id; the table never holds it), with its user, the password fingerprint it was signed in with, when it
  started and was last seen, and when it was revoked (sign-out). A cookie copied before sign-out names a
  revoked row and signs nobody in.
- `console_login_attempts`: one row per sign-in attempt still counting against its user and address (a success
  deletes its user's rows), so every console replica throttles on the same counts.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["console_login_attempts", "console_sessions", "metadata"]

metadata = sa.MetaData()

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

console_login_attempts = sa.Table(
    "console_login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("attempted_at", sa.Float, nullable=False),
)
sa.Index("ix_login_attempts_user", console_login_attempts.c.user_name, console_login_attempts.c.attempted_at)
sa.Index("ix_login_attempts_address", console_login_attempts.c.address, console_login_attempts.c.attempted_at)
