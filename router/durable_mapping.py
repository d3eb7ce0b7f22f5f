"""The durable path's wire mapping, without a client: a request and its `RunOptions` to the workflow's input and
start options, and the workflow's result (or its closed state) back to an `OperationResult`.

The workflow's input is a wire format (docs/durable-contract.md; committed histories replay it): the dry run,
the decision and the retry window travel in its own fields (`dry_run`, `decision`, `retry_window_seconds`), the
decision in the memo too, and the stage context unchanged.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionDescription
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from durable_runner.contract import DEFAULT_RETRY_WINDOW_SECONDS, WorkflowInput, WorkflowResult, workflow_id_for
from durable_runner.search_attributes import typed_attributes
from router.contract import (
    DEFAULT_OPTIONS,
    ErrorKind,
    OperationError,
    OperationRequest,
    OperationResult,
    Path,
    ResultStatus,
    RouteDecision,
    RunOptions,
    Timings,
)
from router.orca_outputs import orca_outputs

__all__ = [
    "decision_in_memo",
    "failed_result",
    "operation_id_of",
    "start_options",
    "to_operation_result",
    "to_workflow_input",
]


def to_workflow_input(request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> WorkflowInput:
    """The workflow's input for a request (the decision was made outside the workflow, so replays agree)."""
    return WorkflowInput(
        operation_id=request.operation_id,
        operation=request.operation,
        stage_context=request.operation_context(),
        provider=request.provider,
        application=request.application,
        stage_type=request.stage_type,
        dry_run=options.dry_run,
        decision=options.decision.to_json() if options.decision is not None else None,
        retry_window_seconds=options.retry_window_seconds or DEFAULT_RETRY_WINDOW_SECONDS,
    )


def start_options(request: OperationRequest, task_queue: str, options: RunOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """How DurableRunner starts an operation's workflow, beyond its input: the id (from the operation id, its own
    for a dry run), attach to a running execution and never rerun a closed one, the search attributes, the
    decision in the memo, and a summary for Temporal's UI. `cloudops bench throughput` starts its raw-client
    baseline with the same."""
    return {
        "id": workflow_id_for(request.operation_id, dry_run=options.dry_run),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": typed_attributes(request.dimensions()),
        "memo": {"decision": options.decision.to_json()} if options.decision is not None else None,
        "static_summary": f"{request.operation} {request.application} {request.account}".strip(),
    }


def to_operation_result(
    result: WorkflowResult,
    workflow_id: str,
    *,
    decision: RouteDecision | None = None,
    timings: Timings | None = None,
) -> OperationResult:
    """The router's result for a workflow result: same outputs, plan and errors, kinds mapped one to one."""
    return OperationResult(
        status=ResultStatus.SUCCEEDED if result.ok else ResultStatus.FAILED,
        path=Path.DURABLE,
        operation_id=result.operation_id or operation_id_of(workflow_id),
        outputs=_outputs(result),
        errors=tuple(
            OperationError(kind=ErrorKind(e.kind.value), message=e.message, code=e.code, field=e.field)
            for e in result.errors
        ),
        decision=decision,
        workflow_id=workflow_id,
        plan=result.plan,
        timings=timings,
    )


def _outputs(result: WorkflowResult) -> dict[str, Any]:
    """A succeeded workflow's result object with the keys Orca derives, exactly as LegacyRunner builds them."""
    if not result.ok:
        return dict(result.outputs)
    own = [dict(result.outputs)] if result.outputs else []
    return orca_outputs(own, result.plan, dry_run=result.dry_run)


_CODES = {ErrorKind.INFRASTRUCTURE: "WorkflowFailed", ErrorKind.TIMEOUT: "ResultTimeout"}


def failed_result(
    operation_id: str,
    workflow_id: str,
    decision: RouteDecision | None,
    timings: Timings,
    message: str,
    *,
    kind: ErrorKind = ErrorKind.INFRASTRUCTURE,
) -> OperationResult:
    """A result for a workflow that gave none (failed, terminated, timed out, or not waited for)."""
    return OperationResult(
        status=ResultStatus.FAILED,
        path=Path.DURABLE,
        operation_id=operation_id,
        errors=(OperationError(kind=kind, message=message, code=_CODES[kind]),),
        decision=decision,
        workflow_id=workflow_id,
        timings=timings,
    )


async def decision_in_memo(description: WorkflowExecutionDescription) -> RouteDecision | None:
    """The routing decision kept in the memo, if the starter put one there."""
    try:
        raw = await description.memo_value("decision", None)
        return RouteDecision.from_json(raw) if isinstance(raw, dict) else None
    except (KeyError, ValueError, TypeError):  # a memo some other starter wrote in another shape
        return None


def operation_id_of(workflow_id: str) -> str:
    """Back from `cloudop-<operation_id>[-dry-run]` to the operation id."""
    body = workflow_id.removeprefix("cloudop-")
    return body.removesuffix("-dry-run")
