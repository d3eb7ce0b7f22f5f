"""The SQL schema of every cloudops table, owned by Alembic: `upgrade(url)` and `downgrade(url, revision)`.

No alembic.ini is needed: the environment (env.py) and the versions live in this package and take the database
from the caller. Revisions are numbered (`0001_flags`, then the router's and the rollouts' tables); add one with
`alembic -c migrations/alembic.ini revision -m "..."` and give it the next number as its id.

May import: nothing of ours (a migration is a frozen copy of the schema at its time, never the live models).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.pool import NullPool

__all__ = ["MigrationError", "alembic_config", "current", "downgrade", "head", "upgrade"]

_HERE = Path(__file__).resolve().parent


class MigrationError(Exception):
    """A migration could not run: the message says what (unknown revision, unreachable database)."""


def _normalise(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic Config pointing at this package; `connection` (if any) is what env.py migrates."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(_HERE / "versions"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(target: str | sa.Engine) -> Iterator[sa.Connection]:
    try:
        engine = target if isinstance(target, sa.Engine) else sa.create_engine(_normalise(target), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            if not isinstance(target, sa.Engine):
                engine.dispose()
    except sa.exc.ArgumentError as exc:
        raise MigrationError(f"invalid database URL {target!r}: use sqlite:///path.db or postgresql://...") from exc
    except sa.exc.SQLAlchemyError as exc:
        where = target.url.render_as_string(hide_password=True) if isinstance(target, sa.Engine) else target
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise MigrationError(f"cannot migrate {where}: {first}") from exc


def upgrade(url: str | sa.Engine, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (default: the newest)."""
    with _connected(url) as conn:
        try:
            command.upgrade(alembic_config(conn), revision)
        except CommandError as exc:
            raise MigrationError(f"cannot upgrade to {revision!r}: {exc}") from exc


def downgrade(url: str | sa.Engine, revision: str) -> None:
    """Take the database at `url` down to `revision` ("base" removes every table)."""
    with _connected(url) as conn:
        try:
            command.downgrade(alembic_config(conn), revision)
        except CommandError as exc:
            raise MigrationError(f"cannot downgrade to {revision!r}: {exc}") from exc


def current(url: str | sa.Engine) -> str | None:
    """The revision the database is at (None: no cloudops tables yet)."""
    with _connected(url) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision in this package."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:
        raise MigrationError("no revisions found in migrations/versions")
    return found
