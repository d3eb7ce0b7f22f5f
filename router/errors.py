"""The router package's exception tree, split by what the caller can do.

    RouterError                 base; carries `operation_id` where one is known
    ├── RunnerUnavailable       a path could not take the operation; `may_have_started` says whether it might
    │                           have (only when it certainly did not may another path run it)
    ├── UnknownHandle           `poll` got a handle no path knows (or a string that is no handle)
    ├── OwnershipUnavailable    the ownership store could not answer (its database is down); the router then
    │                           asks the durable path itself, and never lets the operation run twice
    ├── RetentionUnavailable    a prune could not read or delete rows (its database is down, or not migrated);
    │                           a background pass logs and counts it and tries again at its next pass
    └── ConfigurationError      the router's configuration is wrong; the message says which setting and why

Expected outcomes (business and infrastructure failures of an operation) are never raised: they are
`OperationResult` values.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "OwnershipUnavailable",
    "RetentionUnavailable",
    "RouterError",
    "RunnerUnavailable",
    "UnknownHandle",
]


class RouterError(Exception):
    """Base of every exception the router raises."""

    def __init__(self, message: str, *, operation_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.operation_id = operation_id


class RunnerUnavailable(RouterError):
    """A path could not accept the operation (service unreachable, Temporal down)."""

    def __init__(self, message: str, *, path: str, may_have_started: bool, operation_id: str | None = None) -> None:
        super().__init__(message, operation_id=operation_id)
        self.path = path
        self.may_have_started = may_have_started


class UnknownHandle(RouterError):
    """A handle that names no known task or workflow."""


class OwnershipUnavailable(RouterError):
    """The ownership store could not read or record an operation's owner."""


class RetentionUnavailable(RouterError):
    """A prune could not read or delete rows: the message names the database and what to do."""


class ConfigurationError(RouterError):
    """The router's configuration is invalid."""
