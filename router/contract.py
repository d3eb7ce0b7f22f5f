"""The public contract an orchestrator codes against: requests, results, handles and the runner protocol.

Every runner (`LegacyRunner`, `DurableRunner`, `RoutingRunner`) satisfies `CloudOperationRunner`. Expected
outcomes, business and infrastructure failures included, are values (`OperationResult.status`, `.errors`);
exceptions (`router.errors`) are for misuse and for a path that could not take the operation at all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DECISION_CONTEXT_KEY",
    "RETRY_WINDOW_CONTEXT_KEY",
    "CloudOperationRunner",
    "ErrorKind",
    "OperationError",
    "OperationRequest",
    "OperationResult",
    "OperationState",
    "OperationStatus",
    "Path",
    "ResultStatus",
    "RouteDecision",
    "Timings",
    "format_handle",
    "parse_handle",
]


DECISION_CONTEXT_KEY = "cloudops.decision"
"""Where the routing decision travels in an operation's context: the legacy task keeps it, the workflow memo too."""

RETRY_WINDOW_CONTEXT_KEY = "cloudops.retryWindowSeconds"
"""Where the router passes the durable retry window it read from flags before the workflow starts."""


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
class OperationStatus:
    """What `poll` says about a started operation. `result` is set once the state is not RUNNING."""

    handle: str
    state: OperationState
    step: str = ""
    result: OperationResult | None = None


def format_handle(path: Path, run_id: str) -> str:
    """A handle names its path and its id (task id or workflow id), so a restarted caller can keep polling it."""
    return f"{path.value}:{run_id}"


def parse_handle(handle: str) -> tuple[Path, str]:
    """Split a handle made by `format_handle`; raises ValueError saying what a handle looks like."""
    path, sep, run_id = handle.partition(":")
    if not sep or not run_id or path not in {p.value for p in Path}:
        raise ValueError(
            f"not an operation handle: {handle!r} (expected 'legacy:<task id>' or 'durable:<workflow id>')"
        )
    return Path(path), run_id


@runtime_checkable
class CloudOperationRunner(Protocol):
    """Runs cloud operations. `run` blocks; `start` + `poll` suit orchestrators whose tasks are re-invoked.

    `start` raises `router.errors.RunnerUnavailable` when the path could not take the operation; everything that
    happens after the path took it is reported in the result.
    """

    def run(self, request: OperationRequest) -> OperationResult: ...

    async def run_async(self, request: OperationRequest) -> OperationResult: ...

    def start(self, request: OperationRequest) -> str: ...

    def poll(self, handle: str) -> OperationStatus: ...
