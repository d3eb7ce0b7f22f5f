"""The known keys and the rules their values follow; every other key (outside `cloudops.`) holds any JSON value.

    cloudops.migration.stage               a stage name; `percent` (0-100) required for canary, refused otherwise
    cloudops.shadow.sample_percent         a number 0-100: the share of operations that get a shadow run
    cloudops.durable.retry_window_seconds  a positive integer

`problem` is the non-raising check the evaluator uses on stored values (a malformed property gives the default);
`validate` raises InvalidInput for writes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flags.errors import InvalidInput
from flags.model import DIMENSIONS, JsonValue, MigrationStage

__all__ = [
    "KNOWN_KEYS",
    "RETRY_WINDOW_KEY",
    "SHADOW_SAMPLE_KEY",
    "STAGE_KEY",
    "KeySpec",
    "default_for",
    "problem",
    "validate",
    "validate_key",
]

STAGE_KEY = "cloudops.migration.stage"
SHADOW_SAMPLE_KEY = "cloudops.shadow.sample_percent"
RETRY_WINDOW_KEY = "cloudops.durable.retry_window_seconds"

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
_ATTRIBUTE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_RESERVED_PREFIX = "cloudops."
_MAX_VALUE_BYTES = 65536


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _stage_problem(value: JsonValue) -> str | None:
    if value in tuple(MigrationStage):
        return None
    return f"must be one of {', '.join(MigrationStage)}, got {json.dumps(value)}"


def _sample_problem(value: JsonValue) -> str | None:
    if _is_number(value) and 0 <= value <= 100:  # type: ignore[operator]
        return None
    return f"must be a number from 0 to 100, got {json.dumps(value)}"


def _retry_window_problem(value: JsonValue) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return None
    return f"must be a positive integer (seconds), got {json.dumps(value)}"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A known key: what its value means, its default, and the check its value must pass."""

    key: str
    description: str
    default: JsonValue
    check: Callable[[JsonValue], str | None]
    rollout_value: JsonValue = None
    """The value that takes a `percent` (canary for the stage); None means this key takes no percent."""


KNOWN_KEYS: Mapping[str, KeySpec] = {
    spec.key: spec
    for spec in (
        KeySpec(
            STAGE_KEY,
            "migration stage of a scope: legacy, shadow, canary (with percent), durable, complete",
            MigrationStage.LEGACY.value,
            _stage_problem,
            rollout_value=MigrationStage.CANARY.value,
        ),
        KeySpec(SHADOW_SAMPLE_KEY, "share of operations (0-100) that get a shadow dry run", 0, _sample_problem),
        KeySpec(
            RETRY_WINDOW_KEY, "how long (seconds) the durable path retries an operation", 600, _retry_window_problem
        ),
    )
}


def default_for(key: str) -> JsonValue:
    """The value a known key gives when nothing applies (None for other keys)."""
    spec = KNOWN_KEYS.get(key)
    return None if spec is None else spec.default


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str) or not _KEY_PATTERN.match(key):
        return f"invalid key {key!r}: use 1-200 letters, digits and . _ : - (starting with a letter or digit)"
    if key.startswith(_RESERVED_PREFIX) and key not in KNOWN_KEYS:
        return f"unknown key {key!r}: keys under 'cloudops.' are reserved; the known ones are {', '.join(KNOWN_KEYS)}"
    return None


def validate_key(key: str) -> None:
    """Raise InvalidInput unless `key` is a known key or a well-formed key outside `cloudops.`."""
    found = _key_problem(key)
    if found:
        raise InvalidInput(found, field="key")


def problem(key: str, value: JsonValue, percent: float | None = None, bucket_by: str | None = None) -> str | None:
    """What is wrong with this value for this key, as a sentence; None when it is fine. Never raises."""
    found = _key_problem(key)
    if found:
        return found
    found_field = _field_problem(key, value, percent, bucket_by)
    return found_field[1] if found_field else None


def validate(key: str, value: JsonValue, percent: float | None = None, bucket_by: str | None = None) -> None:
    """Raise InvalidInput (naming the field) unless the value, percent and bucket_by suit the key."""
    validate_key(key)
    found = _field_problem(key, value, percent, bucket_by)
    if found:
        raise InvalidInput(found[1], field=found[0])


def _field_problem(key: str, value: JsonValue, percent: float | None, bucket_by: str | None) -> tuple[str, str] | None:
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return "value", f"the value of {key} is not JSON: {value!r}"
    if len(encoded) > _MAX_VALUE_BYTES:
        return "value", f"the value of {key} is {len(encoded)} bytes of JSON; the limit is {_MAX_VALUE_BYTES}"
    spec = KNOWN_KEYS.get(key)
    if spec is not None:
        found = spec.check(value)
        if found:
            return "value", f"{key} {found}"
    return _rollout_problem(key, spec, value, percent, bucket_by)


def _rollout_problem(
    key: str, spec: KeySpec | None, value: JsonValue, percent: float | None, bucket_by: str | None
) -> tuple[str, str] | None:
    takes_percent = spec is not None and spec.rollout_value is not None and value == spec.rollout_value
    if percent is None:
        if takes_percent:
            return "percent", f"{key} {value} needs a percent from 0 to 100 (for example --percent 10)"
        if bucket_by is not None:
            return "bucket_by", "bucket_by applies only with a percent"
        return None
    if not takes_percent:
        only = f"{key}={json.dumps(spec.rollout_value)}" if spec and spec.rollout_value else "a canary stage"
        return "percent", f"a percent applies only to {only}, not to {key}={json.dumps(value)}"
    if not _is_number(percent) or not 0 <= percent <= 100:
        return "percent", f"percent must be a number from 0 to 100, got {percent!r}"
    if bucket_by is not None and bucket_by not in DIMENSIONS and not _ATTRIBUTE_PATTERN.match(bucket_by):
        return "bucket_by", (
            f"bucket_by {bucket_by!r} must name a dimension ({', '.join(DIMENSIONS)}) or an attribute "
            "such as operation_id or execution_id"
        )
    return None
