"""An in-process FlagStore with the SQL store's rules and audit: for tests, demos and one-process tools.

It runs the same write core (`flags.writes`) as `SqlFlagStore`, so the store contract tests run on both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flags.errors import NotFound
from flags.model import GLOBAL_SWITCH, Change, JsonValue, KillSwitch, Property, Scope
from flags.snapshot import Snapshot
from flags.store import ChangeNotifier, FlagStore, ScopeLike
from flags.writes import authorship, draft, plan_delete, plan_restore, plan_set, plan_switch

__all__ = ["MemoryFlagStore"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryFlagStore:
    """A thread-safe FlagStore in memory; `clock` is injectable so tests can move time."""

    def __init__(self, *, notifier: ChangeNotifier | None = None, clock: Callable[[], datetime] = _utcnow) -> None:
        self._lock = threading.RLock()
        self._notifier = notifier
        self._clock = clock
        self._version = 0
        self._live: dict[str, Property] = {}
        self._switches: dict[str, KillSwitch] = {}
        self._changes: list[Change] = []

    # -- reads --------------------------------------------------------------------------------------------------

    def current_version(self) -> int:
        return self._version

    def load_snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        with self._lock:
            return Snapshot.of(self._version, self._live.values(), self._switches.values(), previous=previous)

    def get_property(self, property_id: str) -> Property:
        found = self._live.get(property_id)
        if found is None:
            raise NotFound(f"no live property {property_id}", property_id=property_id)
        return found

    def find_property(self, key: str, scope: ScopeLike = None) -> Property | None:
        wanted = scope if isinstance(scope, Scope) else Scope.of(scope or {})
        return next((p for p in self._live.values() if p.key == key and p.scope == wanted), None)

    def list_properties(self, key: str | None = None) -> list[Property]:
        with self._lock:
            return sorted((p for p in self._live.values() if key is None or p.key == key), key=_order)

    def history(self, *, key: str | None = None, property_id: str | None = None, limit: int = 100) -> list[Change]:
        with self._lock:
            found = [
                c
                for c in reversed(self._changes)
                if (key is None or c.key == key) and (property_id is None or c.property_id == property_id)
            ]
        return found[:limit]

    def kill_switches(self) -> list[KillSwitch]:
        with self._lock:
            return sorted(self._switches.values(), key=lambda s: s.target)

    # -- writes -------------------------------------------------------------------------------------------------

    def set_property(
        self,
        key: str,
        value: JsonValue,
        scope: ScopeLike = None,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        percent: float | None = None,
        bucket_by: str | None = None,
        expires_at: datetime | None = None,
        property_id: str | None = None,
        expected_version: int | None = None,
    ) -> Property:
        now = self._clock()
        who = authorship(actor, reason, ticket)
        new = draft(key, value, scope, percent=percent, bucket_by=bucket_by, expires_at=expires_at, now=now)
        with self._lock:
            change_id = self._version + 1
            live = [p for p in self._live.values() if p.key == key]
            prop, change = plan_set(
                new,
                who,
                live,
                property_id=property_id,
                expected_version=expected_version,
                new_id=f"p{change_id}",
                change_id=change_id,
                now=now,
            )
            self._live[prop.id] = prop
            self._commit(change)
        return prop

    def delete_property(
        self,
        property_id: str,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        expected_version: int | None = None,
    ) -> Change:
        who = authorship(actor, reason, ticket)
        with self._lock:
            prop = self.get_property(property_id)
            change = plan_delete(
                prop, who, expected_version=expected_version, change_id=self._version + 1, now=self._clock()
            )
            del self._live[property_id]
            self._commit(change)
        return change

    def restore(
        self, property_id: str, version: int, *, actor: str, reason: str, ticket: str | None = None
    ) -> Property:
        who = authorship(actor, reason, ticket)
        with self._lock:
            versions = {c.property_version: c for c in self._changes if c.property_id == property_id}
            if version not in versions:
                raise NotFound(
                    f"property {property_id} has no version {version}", property_id=property_id, version=version
                )
            target = versions[version]
            key = target.key or ""
            prop, change = plan_restore(
                target.after,
                who,
                [p for p in self._live.values() if p.key == key],
                property_id=property_id,
                version=version,
                latest_version=max(v for v in versions if v is not None),
                change_id=self._version + 1,
                now=self._clock(),
            )
            self._live[prop.id] = prop
            self._commit(change)
        return prop

    def set_kill_switch(
        self, engaged: bool, *, key: str | None = None, actor: str, reason: str, ticket: str | None = None
    ) -> KillSwitch:
        who = authorship(actor, reason, ticket)
        target = key or GLOBAL_SWITCH
        with self._lock:
            switch, change = plan_switch(
                self._switches.get(target), target, engaged, who, change_id=self._version + 1, now=self._clock()
            )
            self._switches[target] = switch
            self._commit(change)
        return switch

    def _commit(self, change: Change) -> None:
        self._changes.append(change)
        self._version = change.change_id
        if self._notifier is not None:
            self._notifier.publish(change.change_id)


def _order(prop: Property) -> tuple[str, tuple[int, ...], str]:
    return (prop.key, tuple(-x for x in prop.scope.specificity()), prop.scope.key())


if TYPE_CHECKING:

    def _conforms(store: MemoryFlagStore) -> FlagStore:  # mypy checks the class against the protocol
        return store
