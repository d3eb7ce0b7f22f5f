"""An immutable snapshot of every property and kill switch at one store version: what evaluation reads.

Building a snapshot compiles it (an index per key), so evaluation is a few dict lookups with no locks: a client
swaps whole snapshots, and a reader holding the old one keeps a consistent view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any

from flags._index import KeyIndex, compile_index
from flags.model import KillSwitch, Property

__all__ = ["Snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every property and kill switch as of store `version` (-1: nothing was ever loaded).

    `previous` (not stored) lends its compiled entries for the properties that did not change, which keeps a
    refresh of a large snapshot cheap. Raises ValueError on construction if two properties tie (stores refuse
    such writes)."""

    version: int
    properties: tuple[Property, ...] = ()
    switches: tuple[KillSwitch, ...] = ()
    previous: InitVar[Snapshot | None] = None
    index: Mapping[str, KeyIndex] = field(init=False, repr=False, compare=False)

    def __post_init__(self, previous: Snapshot | None) -> None:
        reuse = previous.index if previous is not None else None
        object.__setattr__(self, "index", compile_index(self.properties, self.switches, reuse))

    @classmethod
    def empty(cls, version: int = -1) -> Snapshot:
        return cls(version=version)

    @classmethod
    def of(
        cls,
        version: int,
        properties: Iterable[Property] = (),
        switches: Iterable[KillSwitch] = (),
        previous: Snapshot | None = None,
    ) -> Snapshot:
        return cls(version=version, properties=tuple(properties), switches=tuple(switches), previous=previous)

    def changed(
        self, version: int, upserted: Iterable[Property], removed: Iterable[str], switches: Iterable[KillSwitch]
    ) -> Snapshot:
        """A newer snapshot: this one with `upserted` properties replacing theirs, `removed` ids gone, and the
        given switches; unchanged properties keep their compiled form."""
        fresh = {p.id: p for p in upserted}
        gone = set(removed) | set(fresh)
        kept = [p for p in self.properties if p.id not in gone]
        return Snapshot.of(version, [*kept, *fresh.values()], switches, previous=self)

    @property
    def loaded(self) -> bool:
        return self.version >= 0

    @property
    def global_switch(self) -> KillSwitch | None:
        """The global kill switch, when engaged."""
        return next((s for s in self.switches if s.is_global and s.engaged), None)

    def key_switch(self, key: str) -> KillSwitch | None:
        """The key's off switch, when engaged."""
        return next((s for s in self.switches if s.target == key and s.engaged), None)

    def properties_for(self, key: str) -> tuple[Property, ...]:
        """The key's properties, most specific first."""
        found = self.index.get(key)
        return found.properties if found else ()

    def keys(self) -> list[str]:
        """Every key that has a property."""
        return sorted({p.key for p in self.properties})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "properties": [p.to_json() for p in self.properties],
            "switches": [s.to_json() for s in self.switches],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls.of(
            int(data["version"]),
            (Property.from_json(p) for p in data.get("properties", ())),
            (KillSwitch.from_json(s) for s in data.get("switches", ())),
        )
