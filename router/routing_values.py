"""The routing's own value types: why a route was chosen, and what to do when the durable path cannot start.

Values only (no IO, no imports of ours), so configuration and metrics can name them without the runners.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FallbackPolicy", "FlagBackend", "RouteBasis"]


class FallbackPolicy(StrEnum):
    """What to do when the durable path could not take an operation that it certainly did not start."""

    LEGACY = "legacy"
    FAIL = "fail"


class FlagBackend(StrEnum):
    """Where the router's flags come from."""

    SQL = "sql"  # our own store (flags.FlagClient over the database, Redis push when configured)
    OPENFEATURE = "openfeature"  # whatever provider the process registered with OpenFeature's API (flagd, ...)


class RouteBasis(StrEnum):
    """What a route rests on; the `basis` label of `cloudops_router_decisions_total`."""

    MATCHED = "matched"  # a flag property matched the scope
    DEFAULT = "default"  # no usable property: legacy by default (rule 3)
    KILL_SWITCH = "kill_switch"  # the global kill switch forced legacy (rule 6)
    OWNED = "owned"  # the path that already owns the operation, whatever the flags say now (rule 2)
    OWNERSHIP_UNAVAILABLE = "ownership_unavailable"  # the ownership store could not say; the durable path did
