"""The flags package's exception tree, split by what the caller can do.

    FlagError                       base of everything raised here
    ├── InvalidInput                the input is wrong (unknown dimension, wrong value type, expiry in the past,
    │                               no reason): fix it and retry. Nothing was written. `field` names the culprit.
    ├── PropertyConflict            the write would let two properties tie for some request; `conflicting_ids`
    ├── ConcurrentModification      `expected_version` did not match: re-read, then retry
    ├── NotFound                    no such property, or no such version of it
    └── FlagStoreUnavailable        the store cannot be reached: retry later, or fix the URL; `url`
        └── FlagSchemaNotMigrated   the database lacks the flags tables (or has old ones): `cloudops db upgrade`

Like every package's "cannot be reached" error (RolloutStoreUnavailable, RunnerUnavailable, ...), the name is
`<Thing>Unavailable`, and `message` says what failed and what to do.

Evaluation never raises: `decide` reports failures as values (`Decision.error`). These are for writes and reads
through a store.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConcurrentModification",
    "FlagError",
    "InvalidInput",
    "NotFound",
    "PropertyConflict",
    "FlagSchemaNotMigrated",
    "FlagStoreUnavailable",
]


class FlagError(Exception):
    """Base of every exception the flags package raises; `message` is meant for the person who caused it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(FlagError):
    """A write or a query was refused because its input is wrong; nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class PropertyConflict(FlagError):
    """The write would make two properties tie for some request (same key, equally specific, both matching)."""

    def __init__(self, message: str, *, key: str, conflicting_ids: Sequence[str]) -> None:
        super().__init__(message)
        self.key = key
        self.conflicting_ids = tuple(conflicting_ids)


class ConcurrentModification(FlagError):
    """Someone else changed the property since the caller read it."""

    def __init__(self, message: str, *, property_id: str, expected: int, actual: int | None) -> None:
        super().__init__(message)
        self.property_id = property_id
        self.expected = expected
        self.actual = actual


class NotFound(FlagError):
    """No property with that id (or no such version of it)."""

    def __init__(self, message: str, *, property_id: str | None = None, version: int | None = None) -> None:
        super().__init__(message)
        self.property_id = property_id
        self.version = version


class FlagStoreUnavailable(FlagError):
    """The flag store could not be reached or read. `url` has its password hidden."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class FlagSchemaNotMigrated(FlagStoreUnavailable):
    """The database is reachable but has no flags schema (or an old one)."""
