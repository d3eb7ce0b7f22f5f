"""The audit trail as the console shows it: each change with its field-level diff and whether it can be restored.

Pure: built from the store's `Change` records and its live properties. A diff compares what the change changed
(value, percent, bucketing, expiry, scope, or a switch's state), not the bookkeeping every version rewrites
(version, time, author, reason), which the entry shows on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flags import Change, ChangeAction, Property
from router.compare import diff_values

__all__ = ["AuditEntry", "FieldChange", "audit_entries", "field_changes"]

_BOOKKEEPING = frozenset({"id", "version", "updatedAt", "updatedBy", "reason", "ticket"})


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field a change moved: `path` like "value" or "scope.account"; None means absent."""

    path: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    change: Change
    diff: tuple[FieldChange, ...]
    restorable: bool  # a version that held a value, and is not what the property holds now
    current: bool  # the version the live property is at

    def to_json(self) -> dict[str, Any]:
        return {**self.change.to_json(), "diff": [d.to_json() for d in self.diff], "restorable": self.restorable}


def _relevant(state: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (state or {}).items() if k not in _BOOKKEEPING}


def field_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> tuple[FieldChange, ...]:
    """What changed between two property (or switch) JSON states."""
    diffs = diff_values(_relevant(before), _relevant(after))
    return tuple(FieldChange(d.path, d.control, d.candidate) for d in diffs)


def audit_entries(changes: Sequence[Change], live: Iterable[Property]) -> list[AuditEntry]:
    """Entries for `changes` (newest first, as the store gives them)."""
    versions = {p.id: p.version for p in live}
    entries = []
    for change in changes:
        is_property = change.property_id is not None and change.property_version is not None
        holds_value = is_property and change.after is not None and change.action is not ChangeAction.DELETE
        current = is_property and versions.get(change.property_id or "") == change.property_version
        entries.append(
            AuditEntry(
                change=change,
                diff=field_changes(change.before, change.after),
                restorable=holds_value and not current,
                current=current,
            )
        )
    return entries
