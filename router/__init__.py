"""The drop-in library an orchestrator codes against.

`CloudOperationRunner` and its three implementations: `LegacyRunner` (Orca's POST-then-poll over HTTP),
`DurableRunner` (Temporal) and `RoutingRunner` (flags decide the path; shadows compare in dry run; rollout metrics).

May import: `flags`, `cloud` (types), `durable_runner`'s contract dataclasses. The legacy path only over HTTP.
"""

from router.contract import (
    CloudOperationRunner,
    ErrorKind,
    OperationError,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    RouteDecision,
    Timings,
    format_handle,
    parse_handle,
)
from router.errors import ConfigurationError, RouterError, RunnerUnavailable, UnknownHandle

__all__ = [
    "CloudOperationRunner",
    "ConfigurationError",
    "ErrorKind",
    "OperationError",
    "OperationRequest",
    "OperationResult",
    "OperationState",
    "OperationStatus",
    "Path",
    "ResultStatus",
    "RouteDecision",
    "RouterError",
    "RunnerUnavailable",
    "Timings",
    "UnknownHandle",
    "format_handle",
    "parse_handle",
]
