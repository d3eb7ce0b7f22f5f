"""The values the flags package deals in: dimensions, scopes, properties, kill switches and audit records.

A property is a key, a JSON value and a scope over the five dimensions (any subset; none means global), with an
optional expiry and, for a canary, a `percent` bucketed by `bucket_by`. Every value here is immutable and
converts to and from JSON, so it can cross any boundary (SQL, Redis, the CLI, the console).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeAlias

from flags.errors import InvalidInput

__all__ = [
    "DEFAULT_BUCKET_BY",
    "DIMENSIONS",
    "GLOBAL_SWITCH",
    "Change",
    "ChangeAction",
    "Dimension",
    "JsonValue",
    "KillSwitch",
    "MigrationStage",
    "Property",
    "Scope",
    "parse_time",
    "utc",
]

JsonValue: TypeAlias = "None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]"

DEFAULT_BUCKET_BY = "operation_id"
GLOBAL_SWITCH = "*"
"""The `target` of the global kill switch (force legacy everywhere); a per-key switch's target is its key."""

_MAX_VALUE_LEN = 200
_BAD_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class Dimension(StrEnum):
    """The request dimensions a property can scope on, in precedence order (earlier beats later)."""

    APPLICATION = "application"
    ACCOUNT = "account"
    OPERATION = "operation"
    STAGE_TYPE = "stage_type"
    PROVIDER = "provider"


DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)
_DIMENSION_NAMES = frozenset(d.value for d in DIMENSIONS)


class MigrationStage(StrEnum):
    """The value of `cloudops.migration.stage` for a scope (architecture, section 4)."""

    LEGACY = "legacy"
    SHADOW = "shadow"
    CANARY = "canary"
    DURABLE = "durable"
    COMPLETE = "complete"


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; naive values (as SQLite returns them) are taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """An ISO-8601 timestamp as aware UTC (`Z` accepted); raises ValueError when it is not one."""
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _check_dimension_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"dimension {name!r} must be a string, got {type(value).__name__}", field=name)
    if not value or value != value.strip() or len(value) > _MAX_VALUE_LEN or _BAD_CHARS.search(value):
        raise InvalidInput(
            f"dimension {name!r} has an invalid value {value!r}: use 1-{_MAX_VALUE_LEN} characters, "
            "no surrounding spaces or control characters",
            field=name,
        )
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Which requests a property applies to: each named dimension must equal the request's value exactly."""

    application: str | None = None
    account: str | None = None
    operation: str | None = None
    stage_type: str | None = None
    provider: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, str | None] | None = None, /, **named: str | None) -> Scope:
        """A validated scope from a mapping and/or keywords; None or absent means "any". Raises InvalidInput."""
        merged = {**(values or {}), **named}
        unknown = sorted(set(merged) - _DIMENSION_NAMES)
        if unknown:
            raise InvalidInput(
                f"unknown dimension {unknown[0]!r}: the dimensions are {', '.join(DIMENSIONS)}", field=unknown[0]
            )
        checked = {name: _check_dimension_value(name, v) for name, v in merged.items() if v is not None}
        return cls(**checked)

    def values(self) -> tuple[str | None, ...]:
        """The named values in precedence order, None where the dimension is not named."""
        return (self.application, self.account, self.operation, self.stage_type, self.provider)

    def named(self) -> tuple[Dimension, ...]:
        return tuple(d for d, v in zip(DIMENSIONS, self.values(), strict=True) if v is not None)

    def specificity(self) -> tuple[int, ...]:
        """1 per named dimension in precedence order; the lexicographically larger tuple wins."""
        return tuple(0 if v is None else 1 for v in self.values())

    def matches(self, dimensions: Mapping[str, str]) -> bool:
        return self.mismatch(dimensions) is None

    def mismatch(self, dimensions: Mapping[str, str]) -> tuple[Dimension, str, str | None] | None:
        """The first named dimension the request does not satisfy, with the wanted and actual values."""
        for dim, wanted in zip(DIMENSIONS, self.values(), strict=True):
            if wanted is not None and dimensions.get(dim.value) != wanted:
                return dim, wanted, dimensions.get(dim.value) or None
        return None

    def key(self) -> str:
        """A canonical, injective text form: the uniqueness key of (flag key, scope) in SQL."""
        return json.dumps(list(self.values()), separators=(",", ":"))

    def describe(self) -> str:
        return ", ".join(f"{d.value}={v}" for d, v in zip(DIMENSIONS, self.values(), strict=True) if v) or "global"

    def to_json(self) -> dict[str, str]:
        return {d.value: v for d, v in zip(DIMENSIONS, self.values(), strict=True) if v is not None}

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True)
class Property:
    """One scoped value of a key, as stored: its id is stable across versions; `version` counts its changes."""

    id: str
    key: str
    value: JsonValue
    scope: Scope
    version: int
    percent: float | None = None
    bucket_by: str | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str = ""
    reason: str = ""
    ticket: str | None = None

    @property
    def effective_bucket_by(self) -> str:
        return self.bucket_by or DEFAULT_BUCKET_BY

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def describe(self) -> str:
        rollout = f" at {self.percent:g}% by {self.effective_bucket_by}" if self.percent is not None else ""
        return f"{self.id} v{self.version} [{self.scope.describe()}] = {json.dumps(self.value)}{rollout}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "value": self.value,
            "scope": self.scope.to_json(),
            "version": self.version,
            "percent": self.percent,
            "bucketBy": self.bucket_by,
            "expiresAt": self.expires_at.isoformat() if self.expires_at else None,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "updatedBy": self.updated_by,
            "reason": self.reason,
            "ticket": self.ticket,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Property:
        return cls(
            id=str(data["id"]),
            key=str(data["key"]),
            value=data["value"],
            scope=Scope.of(data.get("scope") or {}),
            version=int(data["version"]),
            percent=None if data.get("percent") is None else float(data["percent"]),
            bucket_by=data.get("bucketBy"),
            expires_at=parse_time(data["expiresAt"]) if data.get("expiresAt") else None,
            updated_at=parse_time(data["updatedAt"]) if data.get("updatedAt") else None,
            updated_by=data.get("updatedBy") or "",
            reason=data.get("reason") or "",
            ticket=data.get("ticket"),
        )


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """A kill switch: the global one (`target == "*"`) forces every key to its default (the stage to legacy);
    a per-key one turns that key off (its default)."""

    target: str
    engaged: bool
    version: int = 1
    updated_at: datetime | None = None
    updated_by: str = ""
    reason: str = ""
    ticket: str | None = None

    @property
    def is_global(self) -> bool:
        return self.target == GLOBAL_SWITCH

    def describe(self) -> str:
        what = "global kill switch" if self.is_global else f"off switch of {self.target}"
        who = f" by {self.updated_by}" if self.updated_by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{what} engaged{who}{why}"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "engaged": self.engaged,
            "version": self.version,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "updatedBy": self.updated_by,
            "reason": self.reason,
            "ticket": self.ticket,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KillSwitch:
        return cls(
            target=str(data["target"]),
            engaged=bool(data["engaged"]),
            version=int(data.get("version", 1)),
            updated_at=parse_time(data["updatedAt"]) if data.get("updatedAt") else None,
            updated_by=data.get("updatedBy") or "",
            reason=data.get("reason") or "",
            ticket=data.get("ticket"),
        )


class ChangeAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    SWITCH_ON = "kill_switch_on"
    SWITCH_OFF = "kill_switch_off"


@dataclass(frozen=True, slots=True)
class Change:
    """One audit record: who changed what, when and why, with the state before and after (property or switch
    JSON). `change_id` is the store's global version after the change; `property_version` the property's."""

    change_id: int
    action: ChangeAction
    at: datetime
    actor: str
    reason: str
    ticket: str | None
    key: str | None
    property_id: str | None
    property_version: int | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    restored_from: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "changeId": self.change_id,
            "action": self.action.value,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "reason": self.reason,
            "ticket": self.ticket,
            "key": self.key,
            "propertyId": self.property_id,
            "propertyVersion": self.property_version,
            "before": self.before,
            "after": self.after,
            "restoredFrom": self.restored_from,
        }
