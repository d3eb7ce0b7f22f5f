"""FlagTestData: a fluent builder of flag snapshots for tests, no database needed (like LaunchDarkly's TestData).

    td = (FlagTestData()
          .stage("shadow")                                                 # global
          .stage("canary", percent=25, application="api", account="prod")  # sticky 25% by operation_id
          .set("cloudops.shadow.sample_percent", 50, application="api")
          .key_off("cloudops.durable.retry_window_seconds"))
    client = td.client()          # a FlagClient; later td changes reach it at once
    td.force_legacy()             # the global kill switch

Every change goes through the real write rules (validation, tie refusal), so a test cannot build a snapshot a
store would refuse.
"""

from __future__ import annotations

import weakref
from datetime import datetime

from flags.client import FlagClient
from flags.keys import STAGE_KEY
from flags.memory_store import MemoryFlagStore
from flags.model import JsonValue, MigrationStage
from flags.snapshot import Snapshot

__all__ = ["FlagTestData"]

_ACTOR = "test"
_REASON = "test data"


class FlagTestData:
    """A builder and a SnapshotSource; every method returns the builder, so calls chain."""

    def __init__(self) -> None:
        self.store = MemoryFlagStore()
        self._clients: weakref.WeakSet[FlagClient] = weakref.WeakSet()

    def set(
        self,
        key: str,
        value: JsonValue,
        *,
        percent: float | None = None,
        bucket_by: str | None = None,
        expires_at: datetime | None = None,
        **scope: str,
    ) -> FlagTestData:
        """Set `key` to `value` at the scope named by keywords (application=..., account=..., ...)."""
        return self._set(key, value, percent, bucket_by, expires_at, scope)

    def stage(
        self, stage: MigrationStage | str, *, percent: float | None = None, bucket_by: str | None = None, **scope: str
    ) -> FlagTestData:
        """Set the migration stage of a scope (`percent` for a canary)."""
        return self._set(STAGE_KEY, str(stage), percent, bucket_by, None, scope)

    def _set(
        self,
        key: str,
        value: JsonValue,
        percent: float | None,
        bucket_by: str | None,
        expires_at: datetime | None,
        scope: dict[str, str],
    ) -> FlagTestData:
        self.store.set_property(
            key, value, scope, actor=_ACTOR, reason=_REASON, percent=percent, bucket_by=bucket_by, expires_at=expires_at
        )
        return self._changed()

    def remove(self, key: str, **scope: str) -> FlagTestData:
        """Delete the property of `key` at exactly this scope (nothing if there is none)."""
        found = self.store.find_property(key, scope)
        if found is not None:
            self.store.delete_property(found.id, actor=_ACTOR, reason=_REASON)
        return self._changed()

    def key_off(self, key: str, off: bool = True) -> FlagTestData:
        """Engage (or release) the off switch of `key`."""
        self.store.set_kill_switch(off, key=key, actor=_ACTOR, reason=_REASON)
        return self._changed()

    def force_legacy(self, engaged: bool = True) -> FlagTestData:
        """Engage (or release) the global kill switch."""
        self.store.set_kill_switch(engaged, actor=_ACTOR, reason=_REASON)
        return self._changed()

    def snapshot(self) -> Snapshot:
        return self.store.load_snapshot()

    def client(self) -> FlagClient:
        """A FlagClient over this data; it sees every later change immediately (no thread, no polling)."""
        client = FlagClient(self, start=False)
        self._clients.add(client)
        return client

    # SnapshotSource
    def current_version(self) -> int:
        return self.store.current_version()

    def load_snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        return self.store.load_snapshot(previous)

    def _changed(self) -> FlagTestData:
        for client in list(self._clients):
            client.refresh()
        return self
