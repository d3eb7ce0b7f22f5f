"""The gateway's values: what one submitted operation is, where it stands, and what a task shows of it.

A gateway task is one `POST /{provider}/ops`: an ordered list of operations, each routed on its own. Everything
here is a frozen value; the SQL store (`gateway.store`) reads and writes them, the driver moves them on,
and `gateway.task_json` turns them into Clouddriver's task JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from router.contract import Path, parse_handle

__all__ = [
    "EXECUTION_ID_HEADER",
    "ORCHESTRATION",
    "PRIOR_RESULTS_KEY",
    "STAGE_TYPE_HEADER",
    "Entry",
    "GatewayTask",
    "OpRecord",
    "OpSpec",
    "OpState",
    "OpView",
    "TaskState",
]

STAGE_TYPE_HEADER = "X-Spinnaker-Stage-Type"
"""The request header naming the pipeline stage type of every operation in the body (a `stageType` key in an
operation's own map wins over it; without either, the stage type is the operation's name)."""

EXECUTION_ID_HEADER = "X-Spinnaker-Execution-Id"
"""kork's execution id header (Orca sends it); it becomes `OperationRequest.execution_id`."""

PRIOR_RESULTS_KEY = "cloudops.priorResults"
"""Where an operation's context carries the result objects of the operations before it in the same list (their
own result objects, without plan or EXCEPTION objects), as Clouddriver passes `priorOutputs` to `operate`."""

ORCHESTRATION = "ORCHESTRATION"


class OpState(StrEnum):
    """Where one operation of a gateway task stands."""

    PENDING = "pending"  # not started yet (or its start is being retried)
    RUNNING = "running"
    RETRYABLE = "retryable"  # its legacy task is FAILED_RETRYABLE: waiting for a `:resume`
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (OpState.SUCCEEDED, OpState.FAILED)


class TaskState(StrEnum):
    """Where a gateway task stands; `running` and `retryable` ones are driven, the others are final."""

    RUNNING = "running"
    RETRYABLE = "retryable"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (TaskState.RUNNING, TaskState.RETRYABLE)


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One operation of a submitted list, resolved at submit time: its routing dimensions and its stable id.

    `operation_id` derives from the clientRequestId and `position`, so a retried POST or a restarted gateway
    names the same operation again. `context` is the op map exactly as submitted.
    """

    position: int
    operation_id: str
    name: str
    provider: str
    account: str
    application: str
    stage_type: str
    class_name: str
    context: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One history entry: free-text phase and status, as Clouddriver's `TaskDisplayStatus`."""

    phase: str
    status: str

    def to_json(self) -> dict[str, str]:
        return {"phase": self.phase, "status": self.status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        return cls(str(data.get("phase", "")), str(data.get("status", "")))


@dataclass(frozen=True, slots=True)
class OpView:
    """What a task shows of one operation: its history entries, result objects and saga ids, and its state."""

    state: OpState
    entries: tuple[Entry, ...] = ()
    result_objects: tuple[Mapping[str, Any], ...] = ()
    saga_ids: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "history": [e.to_json() for e in self.entries],
            "resultObjects": [dict(r) for r in self.result_objects],
            "sagaIds": [dict(s) for s in self.saga_ids],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpView:
        return cls(
            state=OpState(data["state"]),
            entries=tuple(Entry.from_json(e) for e in data.get("history") or ()),
            result_objects=tuple(dict(r) for r in data.get("resultObjects") or ()),
            saga_ids=tuple(dict(s) for s in data.get("sagaIds") or ()),
        )


@dataclass(frozen=True, slots=True)
class OpRecord:
    """An operation of a stored task: its spec, the handle its path gave it, and its final view once finished."""

    spec: OpSpec
    state: OpState = OpState.PENDING
    handle: str | None = None
    first_attempt_at: float | None = None
    view: OpView | None = None

    @property
    def path(self) -> Path | None:
        return parse_handle(self.handle).path if self.handle else None

    @property
    def run_id(self) -> str | None:
        """The legacy task id or the workflow id behind the handle."""
        return parse_handle(self.handle).run_id if self.handle else None


@dataclass(frozen=True, slots=True)
class GatewayTask:
    """A stored gateway task: its id, clientRequestId, the operations in run order and the one in progress."""

    id: str
    request_id: str
    state: TaskState
    position: int
    start_time_ms: int
    ops: tuple[OpRecord, ...]
    owner_id: str | None = None
    execution_id: str | None = None
    provider: str | None = None
    lease_until: float = 0.0

    @property
    def current(self) -> OpRecord | None:
        return self.ops[self.position] if self.state.active and self.position < len(self.ops) else None
