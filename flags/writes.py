"""The pure core of every write: validation, tie refusal, versions and the audit record. Stores only persist.

Each `plan_*` function takes the current state it needs and returns the new state and its `Change`; it raises
(InvalidInput, PropertyConflict, ConcurrentModification, NotFound) before anything is written. Writes upsert by
scope: setting a key at a scope that already has a property updates that property (a new version), so the only
way to tie is to move a property onto another's scope (`property_id=`) or to restore an old version whose scope
another property has taken since. Both are refused, naming the property in the way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flags.errors import ConcurrentModification, InvalidInput, NotFound, PropertyConflict
from flags.keys import problem, validate, validate_key
from flags.model import GLOBAL_SWITCH, Change, ChangeAction, JsonValue, KillSwitch, Property, Scope, utc
from flags.precedence import find_ties

__all__ = [
    "Authorship",
    "PropertyDraft",
    "authorship",
    "draft",
    "plan_delete",
    "plan_restore",
    "plan_set",
    "plan_switch",
]

_MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class Authorship:
    """Who makes a change and why (with an optional change ticket): required on every write."""

    actor: str
    reason: str
    ticket: str | None = None


def authorship(actor: str, reason: str, ticket: str | None = None) -> Authorship:
    """Validated authorship; raises InvalidInput when the actor or the reason is missing."""
    actor, reason = (actor or "").strip(), (reason or "").strip()
    if not actor:
        raise InvalidInput("every change needs an actor (who makes it)", field="actor")
    if not reason:
        raise InvalidInput(
            "every change needs a reason: say why (for example --reason 'ramp api to 10%')", field="reason"
        )
    if len(reason) > _MAX_TEXT or len(actor) > 200 or (ticket is not None and len(ticket) > 200):
        raise InvalidInput(f"actor and ticket take up to 200 characters, a reason up to {_MAX_TEXT}", field="reason")
    return Authorship(actor=actor, reason=reason, ticket=(ticket or "").strip() or None)


@dataclass(frozen=True, slots=True)
class PropertyDraft:
    """A validated property to write: everything but its id and version."""

    key: str
    value: JsonValue
    scope: Scope
    percent: float | None = None
    bucket_by: str | None = None
    expires_at: datetime | None = None


def draft(
    key: str,
    value: JsonValue,
    scope: Scope | Mapping[str, str | None] | None,
    *,
    percent: float | None,
    bucket_by: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> PropertyDraft:
    """Validate a property to write; raises InvalidInput naming the field."""
    checked_scope = scope if isinstance(scope, Scope) else Scope.of(scope or {})
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not math.isfinite(percent):
            raise InvalidInput(f"percent must be a number from 0 to 100, got {percent!r}", field="percent")
        percent = float(percent)
    validate(key, value, percent, bucket_by)
    if expires_at is not None:
        expires_at = utc(expires_at)
        if expires_at <= now:
            raise InvalidInput(
                f"expiry {expires_at.isoformat()} is in the past (now {now.isoformat()}): give a future time",
                field="expires_at",
            )
    return PropertyDraft(key, value, checked_scope, percent, bucket_by, expires_at)


def _check_expected(prop: Property | None, expected_version: int | None, property_id: str) -> None:
    if expected_version is None:
        return
    actual = prop.version if prop else None
    if actual != expected_version:
        raise ConcurrentModification(
            f"property {property_id} is at version {actual}, not {expected_version}: someone changed it; "
            "re-read it and retry",
            property_id=property_id,
            expected=expected_version,
            actual=actual,
        )


def _refuse_ties(key: str, scope: Scope, live: Sequence[Property], exclude: str | None) -> None:
    clashes = [p for p in find_ties(scope, live) if p.id != exclude]
    if clashes:
        names = "; ".join(p.describe() for p in clashes)
        raise PropertyConflict(
            f"refused: a property of {key} at [{scope.describe()}] would tie with {names} for the same requests "
            "(equally specific, both matching); update that property instead, or delete it first",
            key=key,
            conflicting_ids=[p.id for p in clashes],
        )


def _change(
    change_id: int,
    action: ChangeAction,
    now: datetime,
    who: Authorship,
    *,
    key: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    property_id: str | None = None,
    property_version: int | None = None,
    restored_from: int | None = None,
) -> Change:
    return Change(
        change_id=change_id,
        action=action,
        at=now,
        actor=who.actor,
        reason=who.reason,
        ticket=who.ticket,
        key=key,
        property_id=property_id,
        property_version=property_version,
        before=before,
        after=after,
        restored_from=restored_from,
    )


def plan_set(
    new: PropertyDraft,
    who: Authorship,
    live: Sequence[Property],
    *,
    property_id: str | None,
    expected_version: int | None,
    new_id: str,
    change_id: int,
    now: datetime,
) -> tuple[Property, Change]:
    """Create or update a property. `live` holds the key's current properties."""
    if property_id is not None:
        target = next((p for p in live if p.id == property_id), None)
        if target is None or target.key != new.key:
            raise NotFound(
                f"no live property {property_id} of {new.key} (deleted? see history and restore)",
                property_id=property_id,
            )
    else:
        target = next((p for p in live if p.scope == new.scope), None)
    _check_expected(target, expected_version, target.id if target else new_id)
    _refuse_ties(new.key, new.scope, live, exclude=target.id if target else None)
    prop = Property(
        id=target.id if target else new_id,
        key=new.key,
        value=new.value,
        scope=new.scope,
        version=target.version + 1 if target else 1,
        percent=new.percent,
        bucket_by=new.bucket_by,
        expires_at=new.expires_at,
        updated_at=now,
        updated_by=who.actor,
        reason=who.reason,
        ticket=who.ticket,
    )
    action = ChangeAction.UPDATE if target else ChangeAction.CREATE
    before = target.to_json() if target else None
    return prop, _change(
        change_id,
        action,
        now,
        who,
        key=prop.key,
        before=before,
        after=prop.to_json(),
        property_id=prop.id,
        property_version=prop.version,
    )


def plan_delete(
    prop: Property, who: Authorship, *, expected_version: int | None, change_id: int, now: datetime
) -> Change:
    """Delete a live property; the deletion is its next version in the history."""
    _check_expected(prop, expected_version, prop.id)
    return _change(
        change_id,
        ChangeAction.DELETE,
        now,
        who,
        key=prop.key,
        before=prop.to_json(),
        after=None,
        property_id=prop.id,
        property_version=prop.version + 1,
    )


def plan_restore(
    state: Mapping[str, Any] | None,
    who: Authorship,
    live: Sequence[Property],
    *,
    property_id: str,
    version: int,
    latest_version: int,
    change_id: int,
    now: datetime,
) -> tuple[Property, Change]:
    """Bring a property back to what it was at `version` (`state`: its JSON then, None if that was a deletion)."""
    if state is None:
        raise InvalidInput(
            f"version {version} of {property_id} is its deletion; restore a version that holds a value",
            field="version",
        )
    old = Property.from_json(state)
    broken = problem(old.key, old.value, old.percent, old.bucket_by)
    if broken:
        raise InvalidInput(f"version {version} of {property_id} no longer passes the rules: {broken}", field="version")
    if old.expires_at is not None and old.expires_at <= now:
        raise InvalidInput(
            f"version {version} of {property_id} expired at {old.expires_at.isoformat()}; "
            "set that value again with a new expiry instead",
            field="version",
        )
    current = next((p for p in live if p.id == property_id), None)
    _refuse_ties(old.key, old.scope, live, exclude=property_id)
    prop = replace(
        old, version=latest_version + 1, updated_at=now, updated_by=who.actor, reason=who.reason, ticket=who.ticket
    )
    before = current.to_json() if current else None
    return prop, _change(
        change_id,
        ChangeAction.RESTORE,
        now,
        who,
        key=prop.key,
        before=before,
        after=prop.to_json(),
        property_id=prop.id,
        property_version=prop.version,
        restored_from=version,
    )


def plan_switch(
    current: KillSwitch | None, target: str, engaged: bool, who: Authorship, *, change_id: int, now: datetime
) -> tuple[KillSwitch, Change]:
    """Engage or release a kill switch: `target` is GLOBAL_SWITCH ("*") or a key."""
    if target != GLOBAL_SWITCH:
        validate_key(target)
    switch = KillSwitch(
        target=target,
        engaged=engaged,
        version=current.version + 1 if current else 1,
        updated_at=now,
        updated_by=who.actor,
        reason=who.reason,
        ticket=who.ticket,
    )
    action = ChangeAction.SWITCH_ON if engaged else ChangeAction.SWITCH_OFF
    key = None if target == GLOBAL_SWITCH else target
    before = current.to_json() if current else None
    return switch, _change(change_id, action, now, who, key=key, before=before, after=switch.to_json())
