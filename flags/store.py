"""The seams around the evaluator: where snapshots come from, how changes are written and how they are announced.

`SnapshotSource` is all a `FlagClient` needs. `FlagStore` adds the audited write API the CLI, the console and the
guarded rollouts use; `MemoryFlagStore` and `SqlFlagStore` implement it with the same core (`flags.writes`).
`ChangeNotifier` announces a new store version after a commit; a `ChangeFeed` hears those announcements.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from flags.model import Change, JsonValue, KillSwitch, Property, Scope
from flags.snapshot import Snapshot

__all__ = ["ChangeFeed", "ChangeNotifier", "FlagStore", "ScopeLike", "SnapshotSource"]

ScopeLike = Scope | Mapping[str, str | None] | None


class SnapshotSource(Protocol):
    """Where a client reads flags from: a cheap version number and a full snapshot at (at least) that version."""

    def current_version(self) -> int: ...

    def load_snapshot(self, previous: Snapshot | None = None) -> Snapshot:
        """The current snapshot; `previous` (the caller's last one) lets a source read and compile only changes."""
        ...


class ChangeNotifier(Protocol):
    """Tells readers that the store moved to `version`. Must not raise: readers also poll, as a safety net."""

    def publish(self, version: int) -> None: ...


class ChangeFeed(Protocol):
    """Announcements of new versions, as a reader hears them."""

    def wait(self, timeout: float) -> int | None:
        """The newest version announced within `timeout` seconds, or None; raises when the feed is broken."""
        ...

    def close(self) -> None: ...


class FlagStore(SnapshotSource, Protocol):
    """Audited writes and reads of properties and kill switches. Every write names an actor and a reason."""

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
        """Create the property of `key` at `scope`, or update the one already there (or the one named
        `property_id`, which may move it to `scope`). Refuses ties, bad input and stale `expected_version`."""
        ...

    def get_property(self, property_id: str) -> Property: ...

    def find_property(self, key: str, scope: ScopeLike = None) -> Property | None: ...

    def list_properties(self, key: str | None = None) -> list[Property]: ...

    def delete_property(
        self,
        property_id: str,
        *,
        actor: str,
        reason: str,
        ticket: str | None = None,
        expected_version: int | None = None,
    ) -> Change: ...

    def history(self, *, key: str | None = None, property_id: str | None = None, limit: int = 100) -> list[Change]:
        """Changes, newest first (append-only)."""
        ...

    def restore(
        self, property_id: str, version: int, *, actor: str, reason: str, ticket: str | None = None
    ) -> Property:
        """Bring a property back to its value and scope at `version` (a new version; history is kept)."""
        ...

    def set_kill_switch(
        self, engaged: bool, *, key: str | None = None, actor: str, reason: str, ticket: str | None = None
    ) -> KillSwitch:
        """Engage or release the global kill switch (key None) or a key's off switch."""
        ...

    def kill_switches(self) -> list[KillSwitch]: ...
