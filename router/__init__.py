"""The drop-in library an orchestrator codes against.

`CloudOperationRunner` and its three implementations: `LegacyRunner` (Orca's POST-then-poll over HTTP),
`DurableRunner` (Temporal) and `RoutingRunner` (flags decide the path; shadows compare in dry run; rollout metrics),
with `build_routing_runner` to make the last from configuration. The runners load lazily, on first use of their
name, so `import router` (or coding against the contract alone) never imports temporalio, httpx or SQLAlchemy.

May import: `flags`, `cloud` (types), `durable_runner`'s contract dataclasses. The legacy path only over HTTP.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from router.contract import (
    DEFAULT_OPTIONS,
    CloudOperationRunner,
    DurablePathRunner,
    ErrorKind,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    PathRunner,
    ResultStatus,
    RouteDecision,
    RunOptions,
    Timings,
    format_handle,
    parse_handle,
)
from router.errors import (
    ConfigurationError,
    OwnershipUnavailable,
    RetentionUnavailable,
    RouterError,
    RunnerUnavailable,
    UnknownHandle,
)

if TYPE_CHECKING:
    from router.durable import DurableRunner
    from router.factory import build_routing_runner
    from router.legacy import LegacyRunner
    from router.routing import RoutingRunner

__all__ = [
    "DEFAULT_OPTIONS",
    "CloudOperationRunner",
    "ConfigurationError",
    "DurablePathRunner",
    "DurableRunner",
    "ErrorKind",
    "LegacyRunner",
    "OperationError",
    "OperationHandle",
    "OperationRequest",
    "OperationResult",
    "OperationState",
    "OperationStatus",
    "OwnershipUnavailable",
    "Path",
    "PathRunner",
    "ResultStatus",
    "RetentionUnavailable",
    "RouteDecision",
    "RouterError",
    "RoutingRunner",
    "RunOptions",
    "RunnerUnavailable",
    "Timings",
    "UnknownHandle",
    "build_routing_runner",
    "format_handle",
    "parse_handle",
]

_LAZY = {
    "DurableRunner": "router.durable",
    "LegacyRunner": "router.legacy",
    "RoutingRunner": "router.routing",
    "build_routing_runner": "router.factory",
}


def __getattr__(name: str) -> Any:
    """Import a runner's module the first time its name is used (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
