"""The durable path's JSON contract: the workflow's input and result, its progress, and the activities' payloads.

These dataclasses are what crosses Temporal: Temporal's default JSON converter writes each one as a JSON object
whose keys are the field names (snake_case), so any client in any language (Orca on the JVM, the `temporal`
command line) can start `UntypedCloudOperationRunner` with a plain JSON object. JSON that comes from the cloud
catalogue (`stage_context`, `plan`, `outputs`, `decision`) keeps its own camelCase keys, exactly as Spinnaker and
`cloud.plan.Plan.to_json` spell them. docs/durable-contract.md documents every field with examples.

Unknown keys are ignored and every input field has a default, so an older or newer caller never breaks a
decode; missing essentials are reported by the workflow as validation errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_RETRY_WINDOW_SECONDS",
    "DEFAULT_TASK_QUEUE",
    "WORKFLOW_ID_PREFIX",
    "WORKFLOW_TYPE",
    "ErrorKind",
    "PlanInput",
    "PlanOutput",
    "Progress",
    "RunState",
    "StepAttempt",
    "StepInput",
    "StepOutput",
    "WaitInput",
    "WorkflowError",
    "WorkflowInput",
    "WorkflowResult",
    "input_problems",
    "workflow_id_for",
]

WORKFLOW_TYPE = "UntypedCloudOperationRunner"
DEFAULT_TASK_QUEUE = "cloudops-operations"
WORKFLOW_ID_PREFIX = "cloudop-"
DEFAULT_RETRY_WINDOW_SECONDS = 7200


def workflow_id_for(operation_id: str, *, dry_run: bool = False) -> str:
    """`cloudop-<operation_id>`; a dry run gets its own id so a shadow never attaches to the real operation."""
    return f"{WORKFLOW_ID_PREFIX}{operation_id}{'-dry-run' if dry_run else ''}"


class ErrorKind(StrEnum):
    """Why a workflow ended with `ok` false. The same words as `router.contract.ErrorKind`."""

    VALIDATION = "validation"  # the request is wrong (bad context, unknown account): fix the payload
    BUSINESS = "business"  # the cloud refused (capacity out of bounds, not found, already exists)
    INFRASTRUCTURE = "infrastructure"  # the retry window ran out while the cloud kept failing


class RunState(StrEnum):
    """Where one execution is."""

    VALIDATING = "validating"
    PLANNING = "planning"
    RUNNING = "running"
    COMPENSATING = "compensating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WorkflowInput:
    """The one argument of `UntypedCloudOperationRunner.run`.

    `stage_context` is Spinnaker's untyped stage context; `provider` (Clouddriver's URL path segment) wins over
    the context's `cloudProvider`. `decision` is the router's decision (RouteDecision JSON), kept in the memo.
    The timeouts shape every activity: `retry_window_seconds` is the total budget of one step including all its
    retries (schedule-to-close), `attempt_timeout_seconds` one attempt (start-to-close),
    `heartbeat_timeout_seconds` how soon a silent (crashed) worker's attempt is retried elsewhere.
    """

    operation_id: str = ""
    operation: str = ""
    stage_context: dict[str, Any] = field(default_factory=dict)
    provider: str = ""
    application: str = ""
    stage_type: str = ""
    dry_run: bool = False
    decision: dict[str, Any] | None = None
    retry_window_seconds: int = DEFAULT_RETRY_WINDOW_SECONDS
    attempt_timeout_seconds: int = 300
    heartbeat_timeout_seconds: int = 30
    max_retry_interval_seconds: int = 60


@dataclass(frozen=True, slots=True)
class WorkflowError:
    """One reason the operation failed: `field` is the context path of a validation error, `code` a stable code
    (a catalogue FieldError code, a cloud error code, or RetryWindowExhausted / CompensationFailed)."""

    kind: ErrorKind
    message: str
    code: str = ""
    field: str = ""


@dataclass(frozen=True, slots=True)
class WorkflowResult:
    """The workflow's result. Business failures complete the workflow with `ok` false; only bugs fail it.

    `plan` is `cloud.plan.Plan` JSON: the mutations executed or, in a dry run, planned. `applied` counts the
    mutations that were applied; `compensation` is the compensation plan that ran after a failure, if any.
    """

    ok: bool
    operation_id: str = ""
    operation: str = ""
    dry_run: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    errors: list[WorkflowError] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    applied: int = 0
    compensation: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of one execution (the `progress` query, the `wait_progress` update).

    `steps` names every step known so far (validate, plan, then one per mutation); `completed` counts the
    finished ones; `step` / `step_index` name the current one; `finished` is true once the result is decided.
    """

    operation_id: str
    state: RunState
    step: str
    step_index: int
    completed: int
    steps: list[str] = field(default_factory=list)
    finished: bool = False


@dataclass(frozen=True, slots=True)
class WaitInput:
    """`wait_progress` returns once more than `after` steps have completed, or the execution finished."""

    after: int = 0


@dataclass(frozen=True, slots=True)
class PlanInput:
    """The `plan_operation` activity's argument: the untyped operation, checked against the cloud and planned."""

    operation_id: str
    operation: str
    stage_context: dict[str, Any]
    provider: str = ""


@dataclass(frozen=True, slots=True)
class PlanOutput:
    """Validation errors against the cloud's accounts (kind validation), else the plan as `Plan` JSON."""

    plan: dict[str, Any] | None = None
    errors: list[WorkflowError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StepInput:
    """One mutation (`Mutation` JSON) applied under `token`, then waited on when it asks to become healthy.

    `applied` is the cloud's answer when the workflow's first attempt (the `try_step` local activity) already
    applied the mutation: `execute_step` then only waits, as after a heartbeat that recorded it. A worker that
    predates the field ignores it and applies again under the same token, which the cloud answers without a
    second mutation.
    """

    operation_id: str
    mutation: dict[str, Any]
    token: str
    applied: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StepOutput:
    """What the cloud answered for the mutation (JSON), and whether this attempt resumed an earlier one."""

    result: dict[str, Any]
    resumed: bool = False
    polls: int = 0


@dataclass(frozen=True, slots=True)
class StepAttempt:
    """The `try_step` local activity's answer: the mutation applied (the cloud's answer) and whether the step is
    done (no health wait asked, or healthy at the first read); not done hands the wait to `execute_step`."""

    result: dict[str, Any]
    done: bool
    polls: int = 0


def input_problems(inp: WorkflowInput) -> list[WorkflowError]:
    """What is wrong with the envelope itself (not the stage context, which the catalogue checks)."""
    problems: list[WorkflowError] = []
    if not inp.operation_id:
        problems.append(
            WorkflowError(
                ErrorKind.VALIDATION,
                "operation_id is required: a stable id per logical operation (the idempotency key)",
                code="required",
                field="operation_id",
            )
        )
    for name in (
        "retry_window_seconds",
        "attempt_timeout_seconds",
        "heartbeat_timeout_seconds",
        "max_retry_interval_seconds",
    ):
        value = getattr(inp, name)
        if value < 1:
            problems.append(
                WorkflowError(
                    ErrorKind.VALIDATION, f"{name} must be at least 1 (got {value})", code="range", field=name
                )
            )
    return problems
