"""Small typed readers over an untyped JSON object that collect errors instead of raising.

A `Fields` wraps one JSON object (a stage context, or an object inside it) and a shared error list. Each reader
returns the value when it is present and well-typed, else None (or a default), and records a FieldError with the
field's full path when it is not. Absent and `null` mean the same thing, as they do to Jackson in Clouddriver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cloud.catalogue.errors import ErrorCode, FieldError
from cloud.model import JSON

__all__ = ["Fields", "describe", "join_path"]

_INT_STRING = re.compile(r"-?[0-9]{1,18}")


def join_path(prefix: str, key: str | int) -> str:
    """The path of `key` inside `prefix`: "capacity" + "min" -> "capacity.min", "zones" + 0 -> "zones[0]"."""
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if not prefix:
        return key
    return f"{prefix}.{key}" if key else prefix


def describe(value: Any) -> str:
    """A short human description of a JSON value, for messages ("the string 'lots'", "the boolean true")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


class Fields:
    """Typed access to one JSON object at `prefix`, appending problems to `errors` (shared with sub-readers)."""

    __slots__ = ("data", "errors", "prefix")

    def __init__(self, data: Mapping[str, Any], prefix: str = "", errors: list[FieldError] | None = None) -> None:
        self.data = data
        self.prefix = prefix
        self.errors: list[FieldError] = [] if errors is None else errors

    def path(self, key: str | int = "") -> str:
        return join_path(self.prefix, key)

    def has(self, key: str) -> bool:
        """True when `key` is present with a non-null value."""
        return self.data.get(key) is not None

    def truthy(self, key: str) -> bool:
        """Groovy's truth for `key`, as Clouddriver's Groovy preprocessors test fields: null, "", [] and {} are
        false (`serverGroupName: ""` beside an `asgName` means the asgName)."""
        value = self.data.get(key)
        return value is not None and value != "" and value != [] and value != {}

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def fail(self, key: str | int, message: str, code: str) -> None:
        """Record a problem with `key` (a path relative to this object; "" for the object itself)."""
        self.errors.append(FieldError(path=self.path(key), message=message, code=str(code)))

    def missing(self, key: str, hint: str) -> None:
        self.fail(key, f"'{self.path(key)}' is required: {hint}", ErrorCode.REQUIRED)

    def wrong_type(self, key: str | int, expected: str, value: Any) -> None:
        self.fail(key, f"'{self.path(key)}' must be {expected}, got {describe(value)}", ErrorCode.TYPE)

    def string(self, key: str, *, required: bool = False, hint: str = "") -> str | None:
        """A string; a required one must also be non-empty."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key, hint or "set it to a string")
            return None
        if not isinstance(value, str):
            self.wrong_type(key, "a string", value)
            return None
        if required and not value.strip():
            self.fail(key, f"'{self.path(key)}' must not be empty: {hint or 'set it to a string'}", ErrorCode.REQUIRED)
            return None
        return value

    def integer(
        self, key: str, *, required: bool = False, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """A whole number (an integer-looking string counts, as Jackson coerces it; a boolean never does)."""
        return self.check_integer(key, self.data.get(key), required=required, minimum=minimum, maximum=maximum)

    def check_integer(
        self, key: str, value: Any, *, required: bool = False, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if value is None:
            if required:
                self.missing(key, "set it to a whole number")
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INT_STRING.fullmatch(value.strip()):
            number = int(value.strip())
        if number is None:
            self.wrong_type(key, "a whole number such as 2", value)
            return None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = _bounds(minimum, maximum)
            self.fail(key, f"'{self.path(key)}' must be {bounds}, got {number}", ErrorCode.RANGE)
            return None
        return number

    def number(self, key: str, *, positive: bool = False) -> float | int | None:
        """A number (int or float, not a boolean); `positive` requires it to be greater than 0."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.wrong_type(key, "a number", value)
            return None
        if positive and value <= 0:
            self.fail(key, f"'{self.path(key)}' must be greater than 0, got {value!r}", ErrorCode.RANGE)
            return None
        return value

    def boolean(self, key: str, *, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.wrong_type(key, "true or false", value)
            return default
        return value

    def string_list(
        self, key: str, *, required: bool = False, non_empty: bool = False, hint: str = ""
    ) -> tuple[str, ...] | None:
        """A list of non-empty strings; `non_empty` also rejects an empty list."""
        return self.check_string_list(key, self.data.get(key), required=required, non_empty=non_empty, hint=hint)

    def check_string_list(
        self, key: str, value: Any, *, required: bool = False, non_empty: bool = False, hint: str = ""
    ) -> tuple[str, ...] | None:
        """`value`, found at `key`, as a list of non-empty strings."""
        if value is None:
            if required:
                self.missing(key, hint or "set it to a list of strings")
            return None
        if not isinstance(value, list):
            self.wrong_type(key, "a list of strings", value)
            return None
        if non_empty and not value:
            self.fail(
                key,
                f"'{self.path(key)}' must not be an empty list: {hint or 'add at least one item'}",
                ErrorCode.REQUIRED,
            )
            return None
        items: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.wrong_type(join_path(key, i), "a string", item)
            elif not item.strip():
                self.fail(join_path(key, i), f"'{self.path(join_path(key, i))}' must not be empty", ErrorCode.INVALID)
            else:
                items.append(item)
        return tuple(items) if len(items) == len(value) else None

    def string_map(self, key: str) -> dict[str, str] | None:
        """An object whose values are all strings (tags, env, labels)."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.wrong_type(key, "an object of strings", value)
            return None
        ok = True
        for k, v in value.items():
            if not isinstance(v, str):
                self.wrong_type(join_path(key, str(k)), "a string", v)
                ok = False
        return {str(k): v for k, v in value.items()} if ok else None

    def obj(self, key: str, *, required: bool = False, hint: str = "") -> Fields | None:
        """A nested object, as a Fields at the nested path that shares this one's error list."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key, hint or "set it to an object")
            return None
        if not isinstance(value, Mapping):
            self.wrong_type(key, "an object", value)
            return None
        return Fields(value, self.path(key), self.errors)

    def json_list(self, key: str) -> list[JSON] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.wrong_type(key, "a list", value)
            return None
        return list(value)

    def json_object(self, key: str) -> dict[str, JSON] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.wrong_type(key, "an object", value)
            return None
        return {str(k): v for k, v in value.items()}


def _bounds(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum}"
    if minimum is not None:
        return "0 or more" if minimum == 0 else f"{minimum} or more"
    return f"{maximum} or less"
