"""What the console's views work with, built once per app: the flag store, the router's tables, the rollout
controller and the live-operations client, over one database engine; and the cloud's accounts when a cloud is
configured (the names the stage editor knows).

Views reach them through `services()`; nothing here holds per-request state.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from cloud.accounts import CachedAccounts
from cloud.errors import CloudError
from cloud.factory import open_provider
from console.config import ConsoleSettings
from console.errors import ConfigError
from console.live import LiveOperations
from console.names import KnownNames, known_names
from console.queries import RouterTables
from console.sessions import LoginThrottle, SessionPolicy, SessionStore, ThrottlePolicy
from flags import STAGE_KEY, Snapshot, SqlFlagStore
from rollouts.controller import RolloutController

__all__ = ["ConsoleServices", "services"]


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    settings: ConsoleSettings
    store: SqlFlagStore
    tables: RouterTables
    rollouts: RolloutController
    live: LiveOperations
    sessions: SessionStore
    throttle: LoginThrottle
    accounts: CachedAccounts | None = None

    @classmethod
    def build(cls, settings: ConsoleSettings) -> ConsoleServices:
        """Open the store (pushing each change over Redis when REDIS_URL is set) and everything over its engine."""
        notifier = None
        if settings.redis_url:
            from flags import RedisChangeBus

            notifier = RedisChangeBus(settings.redis_url)
        accounts = None
        if settings.cloud:
            try:
                provider = open_provider(settings.cloud)
            except ValueError as exc:
                raise ConfigError(f"console setting cloud: {exc}") from None
            accounts = CachedAccounts(provider, settings.cloud_accounts_ttl_s)
        store = SqlFlagStore(settings.database_url, notifier=notifier)
        return cls(
            settings=settings,
            store=store,
            tables=RouterTables(store.engine),
            rollouts=RolloutController(store.engine, store),
            live=LiveOperations(settings.temporal, max_operations=settings.max_operations),
            sessions=SessionStore(
                store.engine, SessionPolicy(idle_s=settings.session_idle_s, absolute_s=settings.session_lifetime_s)
            ),
            throttle=LoginThrottle(
                store.engine,
                ThrottlePolicy(
                    max_per_user=settings.login_max_attempts_per_user,
                    max_per_address=settings.login_max_attempts_per_address,
                    window_s=settings.login_window_s,
                    lockout_s=settings.login_lockout_s,
                ),
            ),
            accounts=accounts,
        )

    def snapshot(self) -> Snapshot:
        """The store's state now (a page must show what was just written, so no cached client here)."""
        return self.store.load_snapshot()

    def known_names(self, snapshot: Snapshot) -> KnownNames:
        """The names of every dimension the console knows now: the cloud's accounts (when a cloud is configured
        and answers), the catalogue's operations, recent operations and the stage properties."""
        seen = self.tables.seen_names(self.settings.matrix_lookback_hours)
        cloud: list[tuple[str, str]] | None = None
        problem = None
        if self.accounts is not None:
            try:
                cloud = [(a.name, a.provider) for a in self.accounts.accounts()]
            except CloudError as exc:
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return known_names(snapshot.properties_for(STAGE_KEY), seen, cloud, cloud_problem=problem)

    def close(self) -> None:
        self.live.close()
        self.store.close()


def services() -> ConsoleServices:
    """The current app's services."""
    found = current_app.extensions["console"]
    assert isinstance(found, ConsoleServices)
    return found
