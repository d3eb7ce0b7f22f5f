"""Opening the cloudops database for the `report` and `rollout` commands, with the schema checked.

The embedded SQLite default is migrated on first use (no setup); any other database must have been migrated
with `cloudops db upgrade`, and the error says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flags import ChangeNotifier, SqlFlagStore

__all__ = ["DatabaseUnavailable", "open_flag_store"]


class DatabaseUnavailable(Exception):
    """The database cannot be used: the message says why and what to run."""


def open_flag_store(url: str, *, notifier: ChangeNotifier | None = None) -> SqlFlagStore:
    """The flag store at `url` (its engine serves the router and rollout tables too), schema at the newest revision."""
    import migrations
    from flags import FlagError, SqlFlagStore

    try:
        store = SqlFlagStore(url, notifier=notifier)
    except FlagError as exc:
        raise DatabaseUnavailable(exc.message) from exc
    public = store.url
    try:
        current, newest = migrations.current(store.engine), migrations.head()
        if current != newest:
            if store.engine.dialect.name != "sqlite":
                raise DatabaseUnavailable(
                    f"{public} is at schema revision {current or 'none'}, not {newest}: "
                    f"run `cloudops db upgrade --db {public}`"
                )
            migrations.upgrade(store.engine)
    except migrations.MigrationError as exc:
        store.close()
        raise DatabaseUnavailable(str(exc)) from exc
    except DatabaseUnavailable:
        store.close()
        raise
    return store
