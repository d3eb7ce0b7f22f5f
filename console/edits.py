"""Every change the console can make, parsed from a form or a JSON body into a value, then applied through the
flags store's audited write API with the signed-in actor. Parsing is pure and raises InputError naming the field;
the store adds its own rules (stage values, percent only for canary, tie refusal) and raises flags errors.

The HTML pages and the JSON API share these, so both refuse the same input with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from console.errors import InputError
from flags import DIMENSIONS, STAGE_KEY, Change, FlagStore, JsonValue, KillSwitch, MigrationStage, Property
from flags.model import parse_time

__all__ = [
    "KILL_CONFIRMATION",
    "DeleteEdit",
    "KillSwitchEdit",
    "PropertyEdit",
    "RestoreEdit",
    "delete_from",
    "kill_switch_from",
    "parse_expiry",
    "property_from_json",
    "restore_from",
    "stage_from_form",
    "whole_number",
]

KILL_CONFIRMATION = "legacy"
"""What a person types to confirm the global kill switch (every scope back to legacy at once)."""

_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_DIMENSION_NAMES = tuple(d.value for d in DIMENSIONS)


@dataclass(frozen=True, slots=True)
class PropertyEdit:
    """Set `key` to `value` at `scope` (or update `property_id`), with who-why handled by `apply`."""

    key: str
    value: JsonValue
    scope: Mapping[str, str]
    reason: str
    percent: float | None = None
    bucket_by: str | None = None
    expires_at: datetime | None = None
    ticket: str | None = None
    property_id: str | None = None
    expected_version: int | None = None

    def apply(self, store: FlagStore, actor: str) -> Property:
        return store.set_property(
            self.key,
            self.value,
            dict(self.scope),
            actor=actor,
            reason=self.reason,
            ticket=self.ticket,
            percent=self.percent,
            bucket_by=self.bucket_by,
            expires_at=self.expires_at,
            property_id=self.property_id,
            expected_version=self.expected_version,
        )


@dataclass(frozen=True, slots=True)
class DeleteEdit:
    property_id: str
    reason: str
    ticket: str | None = None
    expected_version: int | None = None

    def apply(self, store: FlagStore, actor: str) -> Change:
        return store.delete_property(
            self.property_id,
            actor=actor,
            reason=self.reason,
            ticket=self.ticket,
            expected_version=self.expected_version,
        )


@dataclass(frozen=True, slots=True)
class RestoreEdit:
    property_id: str
    version: int
    reason: str
    ticket: str | None = None

    def apply(self, store: FlagStore, actor: str) -> Property:
        return store.restore(self.property_id, self.version, actor=actor, reason=self.reason, ticket=self.ticket)


@dataclass(frozen=True, slots=True)
class KillSwitchEdit:
    """Engage or release the global kill switch (`key` None) or one key's off switch."""

    engaged: bool
    reason: str
    key: str | None = None
    ticket: str | None = None

    def apply(self, store: FlagStore, actor: str) -> KillSwitch:
        return store.set_kill_switch(self.engaged, key=self.key, actor=actor, reason=self.reason, ticket=self.ticket)


# -- field parsers ----------------------------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 2000) -> str | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise InputError(
                f"{name} is required" + (": say why you make this change" if name == "reason" else ""), field=name
            )
        return None
    if not isinstance(raw, str):
        raise InputError(f"{name} must be text, got {type(raw).__name__}", field=name)
    if len(raw) > limit:
        raise InputError(f"{name} takes up to {limit} characters", field=name)
    if "\x00" in raw:
        raise InputError(f"{name} contains a NUL character", field=name)
    return raw.strip()


def whole_number(text: str) -> int | None:
    """The integer `text` spells in ASCII digits (spaces around allowed), else None: `str.isdigit` also accepts
    characters such as "²" that `int` refuses."""
    stripped = text.strip()
    return int(stripped) if stripped.isascii() and stripped.isdecimal() and len(stripped) <= 12 else None


def _reason(data: Mapping[str, Any]) -> str:
    reason = _text(data, "reason", required=True)
    assert reason is not None
    return reason


def _number(data: Mapping[str, Any], name: str) -> float | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise InputError(f"{name} must be a number, got {raw!r}", field=name)
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip().removesuffix("%"))
        except ValueError:
            pass
    raise InputError(f"{name} must be a number, got {raw!r}", field=name)


def _integer(data: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = data.get(name)
    if raw is None or raw == "":
        if required:
            raise InputError(f"{name} is required", field=name)
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**31:
        return raw
    number = whole_number(raw) if isinstance(raw, str) else None
    if number is not None and 0 < number < 2**31:
        return number
    raise InputError(f"{name} must be a positive whole number, got {raw!r}", field=name)


def _scope(data: Any, *, strict: bool) -> dict[str, str]:
    """The named dimensions of `data`; with `strict`, any other name is refused (a form carries other fields)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError("scope must be an object of dimension names to values", field="scope")
    unknown = sorted(str(k) for k in data if k not in _DIMENSION_NAMES)
    if strict and unknown:
        raise InputError(
            f"unknown dimension {unknown[0]!r}: the dimensions are {', '.join(_DIMENSION_NAMES)}", field="scope"
        )
    scope = {}
    for name in _DIMENSION_NAMES:
        value = _text(data, name, limit=200)
        if value:
            scope[name] = value
    return scope


def parse_expiry(raw: Any, now: datetime) -> datetime | None:
    """An expiry from an ISO time (naive means UTC, as a datetime-local input sends it) or a duration (90s, 30m,
    2h, 7d); None when blank."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise InputError(f"expires must be text (an ISO time or a duration), got {type(raw).__name__}", field="expires")
    text = raw.strip()
    found = _DURATION.match(text)
    if found:
        return now + timedelta(**{_UNITS[found[2]]: int(found[1])})
    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        raise InputError(
            f"expires {text!r}: give an ISO time (2030-01-31T12:00Z) or a duration (90s, 30m, 2h, 7d)", field="expires"
        ) from None


# -- edits from forms and bodies ---------------------------------------------------------------------------------


def stage_from_form(form: Mapping[str, Any], now: datetime | None = None) -> PropertyEdit:
    """The stage editor's form: scope fields, stage, percent and bucket_by (canary only), expires, reason."""
    now = now or datetime.now(UTC)
    stage = _text(form, "stage", required=True)
    if stage not in tuple(MigrationStage):
        raise InputError(f"stage must be one of {', '.join(MigrationStage)}, got {stage!r}", field="stage")
    canary = stage == MigrationStage.CANARY.value
    percent = _number(form, "percent")
    if canary and percent is None:
        raise InputError(
            "a canary needs a percent from 0 to 100 (the share of the scope that goes durable)", field="percent"
        )
    if not canary and percent is not None:
        raise InputError(
            f"a percent applies to a canary only: clear it to set {stage}, or choose canary", field="percent"
        )
    if not canary and _text(form, "bucket_by", limit=64):
        raise InputError(f"bucket by applies to a canary only: clear it to set {stage}", field="bucket_by")
    return PropertyEdit(
        key=STAGE_KEY,
        value=stage,
        scope=_scope(form, strict=False),
        reason=_reason(form),
        percent=percent,
        bucket_by=(_text(form, "bucket_by", limit=64) if canary else None),
        expires_at=parse_expiry(form.get("expires"), now),
        ticket=_text(form, "ticket", limit=200),
        property_id=_text(form, "property_id", limit=64),
        expected_version=_integer(form, "expected_version"),
    )


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InputError("the request body must be a JSON object", field="body")
    return body


def property_from_json(body: Any, now: datetime | None = None) -> PropertyEdit:
    """`POST /api/properties`: {key?, value, scope?, percent?, bucketBy?, expires?, reason, ticket?, propertyId?,
    expectedVersion?}; `key` defaults to the migration stage."""
    data = _object(body)
    now = now or datetime.now(UTC)
    if "value" not in data:
        raise InputError(
            "value is required (for the stage: legacy, shadow, canary, durable or complete)", field="value"
        )
    return PropertyEdit(
        key=_text(data, "key", limit=200) or STAGE_KEY,
        value=data["value"],
        scope=_scope(data.get("scope"), strict=True),
        reason=_reason(data),
        percent=_number(data, "percent"),
        bucket_by=_text(data, "bucketBy", limit=64),
        expires_at=parse_expiry(data.get("expires"), now),
        ticket=_text(data, "ticket", limit=200),
        property_id=_text(data, "propertyId", limit=64),
        expected_version=_integer(data, "expectedVersion"),
    )


def delete_from(data: Any, property_id: str) -> DeleteEdit:
    data = _object(data)
    return DeleteEdit(
        property_id=property_id,
        reason=_reason(data),
        ticket=_text(data, "ticket", limit=200),
        expected_version=_integer(data, "expectedVersion") or _integer(data, "expected_version"),
    )


def restore_from(data: Any, property_id: str | None = None) -> RestoreEdit:
    data = _object(data)
    target = property_id or _text(data, "property_id", required=True, limit=64)
    assert target is not None
    version = _integer(data, "version", required=True)
    assert version is not None
    return RestoreEdit(
        property_id=target, version=version, reason=_reason(data), ticket=_text(data, "ticket", limit=200)
    )


def kill_switch_from(data: Any, *, confirm_required: bool) -> KillSwitchEdit:
    """Engage needs `confirm` equal to KILL_CONFIRMATION on the page (an API caller's intent is its request)."""
    data = _object(data)
    raw = data.get("engaged")
    if isinstance(raw, str) and raw in {"true", "false", "on", "off"}:
        engaged = raw in {"true", "on"}
    elif isinstance(raw, bool):
        engaged = raw
    else:
        raise InputError(f"engaged must be true or false, got {raw!r}", field="engaged")
    if engaged and confirm_required and (_text(data, "confirm", limit=50) or "").lower() != KILL_CONFIRMATION:
        raise InputError(
            f"the kill switch sends every scope back to legacy at once: type {KILL_CONFIRMATION!r} to confirm",
            field="confirm",
        )
    return KillSwitchEdit(
        engaged=engaged,
        reason=_reason(data),
        key=_text(data, "key", limit=200),
        ticket=_text(data, "ticket", limit=200),
    )
