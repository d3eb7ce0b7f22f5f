"""SQLAlchemy engines for the flag store: URL normalisation, SQLite pragmas, and error translation.

`postgresql://` and `postgres://` URLs use psycopg 3 (the driver we install). SQLite files run in WAL mode with a
busy timeout, so a reader polling in one process never blocks a writer in another; `sqlite://` (in memory) shares
one connection so every session sees the same database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from flags.errors import FlagSchemaNotMigrated, FlagStoreUnavailable

__all__ = ["make_engine", "normalise_url", "public_url", "translate_error"]

_UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for a missing table


def normalise_url(url: str) -> str:
    """The URL with a PostgreSQL scheme pointed at psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def public_url(url: str | sa.URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`; raises FlagStoreUnavailable when the URL itself is unusable."""
    try:
        parsed = sa.make_url(normalise_url(url))
    except sa.exc.ArgumentError as exc:
        raise FlagStoreUnavailable(
            f"invalid database URL {url!r}: use sqlite:///path.db or postgresql://user@host/db"
        ) from exc
    if parsed.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise FlagStoreUnavailable(f"cannot use {public_url(parsed)}: {exc}", url=public_url(parsed)) from exc
    in_memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 10}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = sa.create_engine(parsed, **kwargs)
    if not in_memory:

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


def translate_error(exc: sa.exc.SQLAlchemyError, url: str) -> FlagStoreUnavailable:
    """The flags exception for a database failure: FlagSchemaNotMigrated when the tables are missing."""
    orig = getattr(exc, "orig", None)
    text = str(orig or exc)
    if getattr(orig, "sqlstate", None) == _UNDEFINED_TABLE or "no such table" in text:
        return FlagSchemaNotMigrated(
            f"the database {url} has no flags tables: run `cloudops db upgrade --db {url}`", url=url
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return FlagStoreUnavailable(f"the flag store at {url} is unavailable: {first_line}", url=url)
