"""Rows of the flags tables to and from our values (private to the SQL store)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from flags.model import DIMENSIONS, Change, ChangeAction, KillSwitch, Property, Scope, utc

__all__ = ["change_of", "change_row", "loads", "property_of", "property_row", "switch_of", "switch_row"]


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def property_of(row: sa.RowMapping) -> Property:
    try:
        value = json.loads(row["value_json"])
    except ValueError:
        value = {"$malformed": row["value_json"]}  # kept visible; the evaluator treats it as malformed
    return Property(
        id=row["id"],
        key=row["key"],
        value=value,
        scope=Scope(
            application=row["application"],
            account=row["account"],
            operation=row["operation"],
            stage_type=row["stage_type"],
            provider=row["provider"],
        ),
        version=row["version"],
        percent=row["percent"],
        bucket_by=row["bucket_by"],
        expires_at=utc(row["expires_at"]) if row["expires_at"] else None,
        updated_at=utc(row["updated_at"]),
        updated_by=row["updated_by"],
        reason=row["reason"],
        ticket=row["ticket"],
    )


def property_row(prop: Property) -> dict[str, Any]:
    return {
        "id": prop.id,
        "key": prop.key,
        "scope_key": prop.scope.key(),
        **{dim.value: getattr(prop.scope, dim.value) for dim in DIMENSIONS},
        "value_json": json.dumps(prop.value),
        "percent": prop.percent,
        "bucket_by": prop.bucket_by,
        "expires_at": prop.expires_at,
        "version": prop.version,
        "updated_at": prop.updated_at,
        "updated_by": prop.updated_by,
        "reason": prop.reason,
        "ticket": prop.ticket,
    }


def switch_of(row: sa.RowMapping) -> KillSwitch:
    return KillSwitch(
        target=row["target"],
        engaged=bool(row["engaged"]),
        version=row["version"],
        updated_at=utc(row["updated_at"]),
        updated_by=row["updated_by"],
        reason=row["reason"],
        ticket=row["ticket"],
    )


def switch_row(switch: KillSwitch) -> dict[str, Any]:
    return {
        "target": switch.target,
        "engaged": switch.engaged,
        "version": switch.version,
        "updated_at": switch.updated_at,
        "updated_by": switch.updated_by,
        "reason": switch.reason,
        "ticket": switch.ticket,
    }


def change_of(row: sa.RowMapping) -> Change:
    return Change(
        change_id=row["change_id"],
        action=ChangeAction(row["action"]),
        at=utc(row["at"]),
        actor=row["actor"],
        reason=row["reason"],
        ticket=row["ticket"],
        key=row["key"],
        property_id=row["property_id"],
        property_version=row["property_version"],
        before=loads(row["before_json"]),
        after=loads(row["after_json"]),
        restored_from=row["restored_from"],
    )


def change_row(change: Change) -> dict[str, Any]:
    return {
        "change_id": change.change_id,
        "action": change.action.value,
        "at": change.at,
        "actor": change.actor,
        "reason": change.reason,
        "ticket": change.ticket,
        "key": change.key,
        "property_id": change.property_id,
        "property_version": change.property_version,
        "before_json": None if change.before is None else json.dumps(change.before),
        "after_json": None if change.after is None else json.dumps(change.after),
        "restored_from": change.restored_from,
    }
