"""What parsing an operation gives back: the typed operation, or every problem found, each tied to its field.

Parsing never raises on bad input: a person fixing a stage context wants all of its mistakes at once, each with
the path of the field and a message that says what to do, not the first one as a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloud.catalogue.operation import CloudOperation

__all__ = ["ErrorCode", "FieldError", "ParseResult", "prefix_errors"]


class ErrorCode(StrEnum):
    """The `code` of a FieldError: what kind of problem, so a caller can count or map them."""

    REQUIRED = "required"
    TYPE = "type"
    RANGE = "range"
    INVALID = "invalid"
    UNKNOWN_OPERATION = "unknown_operation"
    UNKNOWN_PROVIDER = "unknown_provider"
    UNKNOWN_ACCOUNT = "unknown_account"
    WRONG_PROVIDER = "wrong_provider"
    UNKNOWN_REGION = "unknown_region"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with an operation's context.

    `path` points into the context ("capacity.min", "availabilityZones.us-east-1[0]"; "" for the whole context),
    `message` says what is wrong and what to do, `code` is one of ErrorCode's values.
    """

    path: str
    message: str
    code: str

    def __post_init__(self) -> None:
        # Callers pass ErrorCode members; keep plain strings so reprs, equality and JSON all read the same.
        object.__setattr__(self, "code", str(self.code))

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "code": self.code}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldError:
        return cls(path=str(data.get("path", "")), message=str(data.get("message", "")), code=str(data.get("code", "")))


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The typed operation when the context was valid, else None and every error found."""

    operation: CloudOperation | None
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.operation is not None and not self.errors


def prefix_errors(prefix: str, errors: tuple[FieldError, ...] | list[FieldError]) -> tuple[FieldError, ...]:
    """`errors` with `prefix` put in front of each path ("[0].createServerGroup" + "." + "capacity.min")."""
    out = []
    for e in errors:
        if not e.path:
            path = prefix
        elif e.path.startswith("["):
            path = prefix + e.path
        else:
            path = f"{prefix}.{e.path}" if prefix else e.path
        out.append(FieldError(path=path, message=e.message, code=e.code))
    return tuple(out)
