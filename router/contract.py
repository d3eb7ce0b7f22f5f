"""The public contract an orchestrator codes against: requests, results, handles, run options, the runner seam.

Every runner (`LegacyRunner`, `DurableRunner`, `RoutingRunner`, and `router.testing.ScriptedRunner`) satisfies
`CloudOperationRunner`; the two paths also satisfy `PathRunner` (what a RoutingRunner needs of each of its paths).
Expected outcomes, business and infrastructure failures included, are values (`OperationResult.status`,
`.errors`); exceptions (`router.errors`) are for misuse and for a path that could not take the operation at all.

This module imports nothing but the standard library and `router.errors`, so code that only types against the
seam never imports temporalio, httpx or SQLAlchemy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, Self, runtime_checkable

from router.errors import UnknownHandle

__all__ = [
    "DEFAULT_OPTIONS",
    "CloudOperationRunner",
    "DurablePathRunner",
    "ErrorKind",
    "OperationError",
    "OperationHandle",
    "OperationRequest",
    "OperationResult",
    "OperationState",
    "OperationStatus",
    "Path",
    "PathRunner",
    "ResultStatus",
    "RouteDecision",
    "RunOptions",
    "Timings",
    "format_handle",
    "parse_handle",
]


class Path(StrEnum):
    """The two ways an operation can run."""

    LEGACY = "legacy"
    DURABLE = "durable"


class ResultStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OperationState(StrEnum):
    """What `poll` reports: still running, or finished one way or the other."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ErrorKind(StrEnum):
    """Why an operation failed, split by what the caller can do about it."""

    VALIDATION = "validation"  # the request itself is wrong: fix the payload
    BUSINESS = "business"  # the cloud refused (unknown account, capacity out of bounds, not found)
    INFRASTRUCTURE = "infrastructure"  # the path broke (service down, task lost, retries exhausted)
    TIMEOUT = "timeout"  # the caller stopped waiting; the operation may still finish


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """One cloud operation as an orchestrator asks for it.

    `operation_id` is stable per logical operation: it is the idempotency key on both paths, so submitting the
    same request twice never runs it twice. `context` is the untyped Spinnaker stage context (a JSON object).
    """

    operation_id: str
    operation: str
    stage_type: str
    account: str
    application: str
    provider: str
    context: Mapping[str, Any]
    execution_id: str | None = None

    def dimensions(self) -> dict[str, str]:
        """The flag dimensions of this request."""
        return {
            "application": self.application,
            "account": self.account,
            "operation": self.operation,
            "stage_type": self.stage_type,
            "provider": self.provider,
        }

    def operation_context(self) -> dict[str, Any]:
        """The context as both paths run it: `credentials` from the request's account when the context names
        none, as Orca's tasks put the stage's account there, so a caller that sets only the request's account gets
        the same operation on either path."""
        context = dict(self.context)
        if "credentials" not in context and (self.account or context.get("account")):
            context["credentials"] = self.account or context.get("account")
        return context

    def to_json(self) -> dict[str, Any]:
        return {
            "operationId": self.operation_id,
            "operation": self.operation,
            "stageType": self.stage_type,
            "account": self.account,
            "application": self.application,
            "provider": self.provider,
            "context": dict(self.context),
            "executionId": self.execution_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationRequest:
        return cls(
            operation_id=data["operationId"],
            operation=data["operation"],
            stage_type=data.get("stageType", ""),
            account=data.get("account", ""),
            application=data.get("application", ""),
            provider=data.get("provider", ""),
            context=dict(data.get("context", {})),
            execution_id=data.get("executionId"),
        )


@dataclass(frozen=True, slots=True)
class OperationError:
    """One reason an operation failed. `field` is the context path for validation errors."""

    kind: ErrorKind
    message: str
    code: str = ""
    field: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "message": self.message, "code": self.code, "field": self.field}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OperationError:
        return cls(
            kind=ErrorKind(data["kind"]),
            message=data.get("message", ""),
            code=data.get("code", ""),
            field=data.get("field", ""),
        )


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Why an operation ran where it ran: the stage its scope was in, the property that said so, and the reason."""

    stage: str
    path: Path
    reason: str
    property_id: str | None = None
    property_version: int | None = None
    percent: float | None = None
    bucket: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "path": self.path.value,
            "reason": self.reason,
            "propertyId": self.property_id,
            "propertyVersion": self.property_version,
            "percent": self.percent,
            "bucket": self.bucket,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RouteDecision:
        return cls(
            stage=data["stage"],
            path=Path(data["path"]),
            reason=data.get("reason", ""),
            property_id=data.get("propertyId"),
            property_version=data.get("propertyVersion"),
            percent=data.get("percent"),
            bucket=data.get("bucket"),
        )


@dataclass(frozen=True, slots=True)
class Timings:
    """Wall-clock times (epoch seconds) of one operation, as its caller saw them."""

    submitted_at: float
    finished_at: float

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.submitted_at

    @classmethod
    def since(cls, submitted_at: float) -> Timings:
        return cls(submitted_at=submitted_at, finished_at=time.time())

    def to_json(self) -> dict[str, float]:
        return {"submittedAt": self.submitted_at, "finishedAt": self.finished_at, "durationS": self.duration_s}


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The outcome of one operation on one path.

    `outputs` is Clouddriver-shaped (`serverGroupNameByRegion`, `serverGroupNames`, `loadBalancers`, ...).
    `plan` is the plan the path executed (or, in a dry run, would execute), as `cloud.plan.Plan` JSON, when the
    path got that far. `task_id` is set on the legacy path, `workflow_id` on the durable path.
    """

    status: ResultStatus
    path: Path
    operation_id: str
    outputs: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[OperationError, ...] = ()
    decision: RouteDecision | None = None
    task_id: str | None = None
    workflow_id: str | None = None
    plan: Mapping[str, Any] | None = None
    timings: Timings | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is ResultStatus.SUCCEEDED

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "path": self.path.value,
            "operationId": self.operation_id,
            "outputs": dict(self.outputs),
            "errors": [e.to_json() for e in self.errors],
            "decision": self.decision.to_json() if self.decision else None,
            "taskId": self.task_id,
            "workflowId": self.workflow_id,
            "plan": dict(self.plan) if self.plan is not None else None,
            "timings": self.timings.to_json() if self.timings else None,
        }


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run one operation, beside the request itself: the same request with other options is the same operation.

    `dry_run`: resolve, validate and plan, reading state but mutating nothing (a shadow run); a dry run is never
    deduplicated into the real run of the same operation, nor the real run into it. `decision`: the routing
    decision made outside the path (rule 5), kept with the legacy task and in the workflow's input and memo.
    `retry_window_seconds`: how long the durable path keeps retrying transient failures (None: the runner's own
    default; the legacy path has hand-written retries of its own and ignores it).
    """

    dry_run: bool = False
    decision: RouteDecision | None = None
    retry_window_seconds: int | None = None

    def __post_init__(self) -> None:
        window = self.retry_window_seconds
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ValueError(f"retry_window_seconds must be a whole number of seconds, at least 1 (got {window!r})")


DEFAULT_OPTIONS = RunOptions()
"""Run for real, with no decision attached and the runner's own retry window."""


@dataclass(frozen=True, slots=True)
class OperationHandle:
    """A started operation: its path and its id there (legacy task id, or workflow id).

    Its string form, `str(handle)` = `format_handle(path, run_id)` (`legacy:<task id>`, `durable:<workflow id>`), is
    what a caller stores; `OperationHandle.parse` reads it back, so a restarted caller keeps polling.
    """

    path: Path
    run_id: str

    def __str__(self) -> str:
        return format_handle(self.path, self.run_id)

    @classmethod
    def parse(cls, text: str) -> OperationHandle:
        """The handle `text` names; UnknownHandle saying what a handle looks like when it names none."""
        return parse_handle(text)


@dataclass(frozen=True, slots=True)
class OperationStatus:
    """What `poll` says about a started operation. `result` is set once the state is not RUNNING."""

    handle: OperationHandle
    state: OperationState
    step: str = ""
    result: OperationResult | None = None


def format_handle(path: Path, run_id: str) -> str:
    """A handle's string form: its path and its id (task id or workflow id), so a restarted caller can poll it."""
    return f"{path.value}:{run_id}"


def parse_handle(text: str) -> OperationHandle:
    """Read a handle's string form (made by `format_handle`); UnknownHandle when it is not one."""
    path, sep, run_id = text.partition(":")
    if not sep or not run_id or path not in {p.value for p in Path}:
        raise UnknownHandle(
            f"not an operation handle: {text!r} (expected 'legacy:<task id>' or 'durable:<workflow id>')"
        )
    return OperationHandle(Path(path), run_id)


@runtime_checkable
class CloudOperationRunner(Protocol):
    """Runs cloud operations. `run` blocks; `start` + `poll` suit orchestrators whose tasks are re-invoked.

    `start` raises `router.errors.RunnerUnavailable` when the path could not take the operation; everything that
    happens after the path took it (validation errors included) is reported in the result. `poll` raises
    `router.errors.UnknownHandle` for a handle no path of this runner knows. `close()` releases the runner's
    clients and threads (the runner must not be used afterwards); `with runner:` closes it on the way out.
    """

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult: ...

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult: ...

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle: ...

    def poll(self, handle: OperationHandle) -> OperationStatus: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class PathRunner(CloudOperationRunner, Protocol):
    """One path of a RoutingRunner (LegacyRunner, DurableRunner): a CloudOperationRunner that is authoritative on
    its own, whose dry run (`RunOptions(dry_run=True)`) plans without mutating, so the router can shadow it."""


@runtime_checkable
class DurablePathRunner(PathRunner, Protocol):
    """The durable path also says whether an operation was ever started on it for real (its workflow id derives
    from the operation id), and answers True when it cannot tell: an unknown must never let another path run it."""

    def has_started(self, operation_id: str) -> bool: ...
