"""What the console's views work with, built once per app: the flag store, the router's tables, the rollout
controller and the live-operations client, over one database engine.

Views reach them through `services()`; nothing here holds per-request state.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from console.config import ConsoleSettings
from console.live import LiveOperations
from console.queries import RouterTables
from flags import Snapshot, SqlFlagStore
from rollouts.controller import RolloutController

__all__ = ["ConsoleServices", "services"]


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    settings: ConsoleSettings
    store: SqlFlagStore
    tables: RouterTables
    rollouts: RolloutController
    live: LiveOperations

    @classmethod
    def build(cls, settings: ConsoleSettings) -> ConsoleServices:
        """Open the store (pushing each change over Redis when REDIS_URL is set) and everything over its engine."""
        notifier = None
        if settings.redis_url:
            from flags import RedisChangeBus

            notifier = RedisChangeBus(settings.redis_url)
        store = SqlFlagStore(settings.database_url, notifier=notifier)
        return cls(
            settings=settings,
            store=store,
            tables=RouterTables(store.engine),
            rollouts=RolloutController(store.engine, store),
            live=LiveOperations(settings.temporal, max_operations=settings.max_operations),
        )

    def snapshot(self) -> Snapshot:
        """The store's state now (a page must show what was just written, so no cached client here)."""
        return self.store.load_snapshot()

    def close(self) -> None:
        self.live.close()
        self.store.close()


def services() -> ConsoleServices:
    """The current app's services."""
    found = current_app.extensions["console"]
    assert isinstance(found, ConsoleServices)
    return found
