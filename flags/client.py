"""FlagClient: the long-lived, in-memory, never-raising reader an application holds (the router does).

It answers from an immutable snapshot that a SnapshotRefresher keeps fresh (Redis push or polling; the last good
snapshot when the store fails; fork-safe). `decide` is synchronous and takes no lock on the snapshot, so it is
safe under asyncio and threads; failures of any kind give the key's default, with the reason, and are counted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from flags import evaluator
from flags._index import default_decision
from flags.counters import DecisionCounters
from flags.decision import Decision, DecisionError, Explanation, ReasonKind
from flags.model import JsonValue
from flags.refresher import ClientStatus, SnapshotRefresher
from flags.snapshot import Snapshot
from flags.store import ChangeFeed, SnapshotSource

__all__ = ["ClientStatus", "FlagClient"]

log = logging.getLogger(__name__)

_EMPTY: Mapping[str, str] = {}


class FlagClient:
    """Decides flags from an in-memory snapshot, kept fresh from a SnapshotSource (or fixed).

    `feed` opens a ChangeFeed (e.g. `RedisChangeBus(url).feed`) for push; without it the client polls every
    `poll_interval` seconds. With push it still polls every `safety_poll_interval` seconds, and every
    `poll_interval` while the feed is down. Refreshes read only what changed, plus a full reload every
    `full_reload_interval` seconds (in case someone edited the tables behind the audit trail's back).
    `start=False` makes no thread: the snapshot moves only when `refresh()` is called.
    """

    def __init__(
        self,
        source: SnapshotSource | None = None,
        *,
        feed: Callable[[], ChangeFeed] | None = None,
        snapshot: Snapshot | None = None,
        poll_interval: float = 1.0,
        safety_poll_interval: float = 30.0,
        full_reload_interval: float = 300.0,
        start: bool = True,
        owns_source: bool = False,
    ) -> None:
        if source is None and snapshot is None:
            raise ValueError("a FlagClient needs a source or a snapshot")
        self._counters = DecisionCounters()
        self._static = snapshot or Snapshot.empty()
        self._owns_source = owns_source
        self._refresher: SnapshotRefresher | None = None
        if source is not None:
            self._refresher = SnapshotRefresher(
                source,
                self._counters,
                feed=feed,
                poll_interval=poll_interval,
                safety_poll_interval=safety_poll_interval,
                full_reload_interval=full_reload_interval,
            )
            self._refresher.refresh()
            if start:
                self._refresher.start()

    @classmethod
    def from_url(
        cls,
        database_url: str,
        *,
        redis_url: str | None = None,
        channel: str | None = None,
        poll_interval: float = 1.0,
        safety_poll_interval: float = 30.0,
    ) -> FlagClient:
        """A client over the SQL store at `database_url`, pushed over Redis when `redis_url` is given."""
        from flags.redis_bus import DEFAULT_CHANNEL, RedisChangeBus
        from flags.sql_store import SqlFlagStore

        feed = RedisChangeBus(redis_url, channel=channel or DEFAULT_CHANNEL).feed if redis_url else None
        return cls(
            SqlFlagStore(database_url),
            feed=feed,
            poll_interval=poll_interval,
            safety_poll_interval=safety_poll_interval,
            owns_source=True,
        )

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> FlagClient:
        """A client that always answers from `snapshot` (no store, no thread)."""
        return cls(snapshot=snapshot)

    @property
    def snapshot(self) -> Snapshot:
        refresher = self._refresher
        if refresher is None:
            return self._static
        if refresher.forked:
            refresher.resume_after_fork()
        return refresher.snapshot

    # -- evaluation ---------------------------------------------------------------------------------------------

    def decide(
        self,
        key: str,
        dimensions: Mapping[str, str],
        attributes: Mapping[str, str] = _EMPTY,
        *,
        default: JsonValue | evaluator._Missing = evaluator.MISSING,
    ) -> Decision:
        """The value of `key` for a request; never raises. Failures give the default, counted, with the reason."""
        snapshot = self.snapshot
        try:
            if snapshot.version < 0:
                decision = evaluator.with_default(self._unloaded(key), default)
            else:
                decision = evaluator.decide(snapshot, key, dimensions, attributes, default=default)
        except Exception as exc:  # a bug must not stop the caller: the default, counted and logged
            log.exception("flag evaluation of %s failed", key)
            decision = self._failed(key, exc)
        self._counters.count(decision)
        return decision

    def explain(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = _EMPTY) -> Explanation:
        """The decision with every candidate property and why it won or lost; never raises."""
        snapshot = self.snapshot
        if snapshot.version < 0:
            return Explanation(decision=self._unloaded(key), dimensions=dict(dimensions), attributes=dict(attributes))
        try:
            return evaluator.explain(snapshot, key, dimensions, attributes)
        except Exception as exc:
            log.exception("flag explanation of %s failed", key)
            return Explanation(
                decision=self._failed(key, exc), dimensions=dict(dimensions), attributes=dict(attributes)
            )

    def _unloaded(self, key: str) -> Decision:
        why = (self._refresher.last_error if self._refresher else None) or "the store has not answered yet"
        return default_decision(
            key, ReasonKind.ERROR, f"no flag snapshot loaded ({why})", error=DecisionError.STORE_UNAVAILABLE
        )

    @staticmethod
    def _failed(key: str, exc: Exception) -> Decision:
        return default_decision(
            key, ReasonKind.ERROR, f"evaluation failed: {exc!r}", error=DecisionError.EVALUATION_FAILED
        )

    # -- freshness ----------------------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Decision counts by kind and failure cause, plus refresh counts (`refresh`, `refresh_error`, `push`)."""
        return self._counters.snapshot()

    def status(self) -> ClientStatus:
        if self._refresher is None:
            return ClientStatus(
                self._static.version, self._static.loaded, False, "static", False, None, None, 0, os.getpid()
            )
        return self._refresher.status()

    def refresh(self, *, force: bool = False) -> bool:
        """Reload now if the store moved (or `force`); True if the snapshot swapped. Never raises."""
        return self._refresher.refresh(force=force) if self._refresher else False

    def wait_for_version(self, version: int, timeout: float) -> bool:
        """Block until the snapshot is at `version` or newer; False on timeout."""
        if self._refresher is None:
            return self._static.version >= version
        return self._refresher.wait_for_version(version, timeout)

    def add_listener(self, listener: Callable[[Snapshot], None]) -> None:
        """Call `listener(snapshot)` after each swap (from the refresher thread; exceptions are logged)."""
        if self._refresher is not None:
            self._refresher.add_listener(listener)

    def close(self) -> None:
        """Stop refreshing (the last snapshot keeps answering)."""
        if self._refresher is None:
            return
        self._refresher.close()
        close = getattr(self._refresher.source, "close", None) if self._owns_source else None
        if callable(close):
            close()

    def __enter__(self) -> FlagClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
