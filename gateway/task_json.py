"""Clouddriver's task JSON for a gateway task, built from what each of its operations shows (pure).

A gateway task's history is Clouddriver's opening line, then each started operation's entries in order: a line
naming the path and handle it was routed to, then, for a legacy operation, its legacy task's own history (less
that task's opening line and terminal copy), and, for a durable one, `Processing op: <catalogue class>`, one line
per workflow step done, the step in progress, and how it ended. `status` is the last entry with the task's state
flags; `resultObjects` are every operation's result objects once the task has ended (Clouddriver adds results at
the end), with the same plan (`cloudops.plan`) and EXCEPTION objects the legacy service writes, so a caller
derives the same outputs and errors whichever path ran an operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from clouddriver_wire.results import exception_summary, own_results, plan_object
from durable_runner.contract import Progress
from gateway.model import ORCHESTRATION, Entry, GatewayTask, OpSpec, OpState, OpView, TaskState
from router.contract import ErrorKind, OperationError, OperationResult
from router.orca_outputs import own_result

__all__ = [
    "INITIALIZING",
    "compose",
    "durable_view",
    "exception_object",
    "legacy_state",
    "legacy_view",
    "prior_results",
    "result_view",
    "routed_entry",
    "unstarted_view",
    "waiting_view",
]

INITIALIZING = Entry(ORCHESTRATION, "Initializing Orchestration Task")
DURABLE = "DURABLE"
_COMPLETED = Entry(ORCHESTRATION, "Orchestration completed.")
_REJECTED_KINDS = (ErrorKind.VALIDATION, ErrorKind.BUSINESS)


def routed_entry(spec: OpSpec, handle: str) -> Entry:
    path, _, run_id = handle.partition(":")
    what = "task" if path == "legacy" else "workflow"
    return Entry(ORCHESTRATION, f"Routed op {spec.position}: {spec.name} to the {path} path ({what} {run_id})")


def legacy_state(task: Mapping[str, Any]) -> OpState:
    """An operation's state from its legacy task's `status` flags."""
    status = task.get("status") if isinstance(task.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    if status.get("failed"):
        return OpState.RETRYABLE if status.get("retryable") else OpState.FAILED
    return OpState.SUCCEEDED if status.get("completed") else OpState.RUNNING


def _legacy_entries(history: Iterable[Any]) -> list[Entry]:
    entries = [Entry.from_json(h) for h in history if isinstance(h, Mapping)]
    if entries and entries[0] == INITIALIZING:
        entries = entries[1:]  # the gateway task has its own opening line
    if len(entries) >= 2 and entries[-1] == entries[-2]:
        entries = entries[:-1]  # the terminal-state copy an in-memory or SQL task shows
    return entries


def legacy_view(spec: OpSpec, handle: str, task: Mapping[str, Any], state: OpState | None = None) -> OpView:
    """A legacy operation as its legacy task (`GET /task/{id}` on the legacy service) shows it."""
    results = tuple(dict(r) for r in task.get("resultObjects") or () if isinstance(r, Mapping))
    sagas = tuple(dict(s) for s in task.get("sagaIds") or () if isinstance(s, Mapping))
    entries = (routed_entry(spec, handle), *_legacy_entries(task.get("history") or ()))
    return OpView(state or legacy_state(task), entries, results, sagas)


def waiting_view(spec: OpSpec, handle: str, state: OpState, why: str) -> OpView:
    """A started operation whose own state cannot be read right now."""
    return OpView(state, (routed_entry(spec, handle), Entry(ORCHESTRATION, why)))


def _step_entries(progress: Progress) -> list[Entry]:
    total = len(progress.steps)
    done = min(progress.completed, total)
    entries = [Entry(DURABLE, f"Step {k + 1}/{total} done: {progress.steps[k]}") for k in range(done)]
    if not progress.finished and progress.step:
        index = min(progress.step_index, max(total - 1, 0))
        entries.append(Entry(DURABLE, f"Step {index + 1}/{total} {progress.state.value}: {progress.step}..."))
    return entries


def _planned_entries(result: OperationResult) -> list[Entry]:
    """The steps of a workflow that succeeded, read from its plan when its progress cannot be queried (a failed
    one's steps done are unknown without the query, so it shows none)."""
    if not result.succeeded:
        return []
    mutations = [m for m in (result.plan or {}).get("mutations") or () if isinstance(m, Mapping)]
    steps = ["validate", "plan"] + [
        f"{m.get('kind', '')} {m.get('target', '')} in {m.get('account', '')}/{m.get('region', '')}" for m in mutations
    ]
    return [Entry(DURABLE, f"Step {k + 1}/{len(steps)} done: {s}") for k, s in enumerate(steps)]


def _failure_entry(class_name: str, errors: Sequence[OperationError]) -> Entry:
    first = errors[0] if errors else OperationError(ErrorKind.INFRASTRUCTURE, "failed for an unknown reason")
    code = first.code or first.kind.value
    return Entry(ORCHESTRATION, f"Orchestration failed: {class_name} | {code}: [{_message(errors)}]")


def _message(errors: Sequence[OperationError]) -> str:
    return "; ".join(e.message for e in errors) or "failed for an unknown reason"


def exception_object(class_name: str, errors: Sequence[OperationError]) -> dict[str, Any]:
    """kork's ExceptionSummary for a failed operation, shaped as the legacy service writes it.

    `additionalAttributes.category` is `rejection` for validation and business failures (the caller must change
    something) and `cloud` otherwise, and `code` is the first error's stable code, so a caller classifies the
    failure the same way whichever path ran the operation.
    """
    first = errors[0] if errors else OperationError(ErrorKind.INFRASTRUCTURE, "failed for an unknown reason")
    message = _message(errors)
    attributes = {
        "exceptionClass": "OperationFailed",
        "category": "rejection" if first.kind in _REJECTED_KINDS else "cloud",
        "code": first.code,
        "kind": first.kind.value,
        "errors": [e.to_json() for e in errors],
    }
    return exception_summary(class_name, message, retryable=False, attributes=attributes)


def _result_objects(class_name: str, result: OperationResult) -> tuple[dict[str, Any], ...]:
    plan = [plan_object(result.plan, dry_run=False)] if result.plan is not None else []
    if result.succeeded:
        own_object = own_result(result.outputs)  # outputs carry Orca's keys; the task carries the operation's own
        own = [own_object] if own_object else []
        return (*own, *plan)  # the legacy executor's order: the operation's own object, then the plan
    return (*plan, exception_object(class_name, result.errors))


def _final(result: OperationResult) -> OpState:
    return OpState.SUCCEEDED if result.succeeded else OpState.FAILED


def durable_view(
    spec: OpSpec, handle: str, progress: Progress | None, result: OperationResult | None = None, note: str = ""
) -> OpView:
    """A durable operation from its workflow: the progress query while it runs, and its result once closed."""
    entries = [routed_entry(spec, handle), Entry(ORCHESTRATION, f"Processing op: {spec.class_name}")]
    if progress is not None:
        entries += _step_entries(progress)
    elif result is not None:
        entries += _planned_entries(result)
    elif note:
        entries.append(Entry(DURABLE, note))
    if result is None:
        return OpView(OpState.RUNNING, tuple(entries))
    entries.append(_COMPLETED if result.succeeded else _failure_entry(spec.class_name, result.errors))
    return OpView(_final(result), tuple(entries), _result_objects(spec.class_name, result))


def unstarted_view(spec: OpSpec, error: OperationError) -> OpView:
    """An operation that no path would take before the start deadline passed."""
    entries = (Entry(ORCHESTRATION, f"Processing op: {spec.class_name}"), _failure_entry(spec.class_name, [error]))
    return OpView(OpState.FAILED, entries, (exception_object(spec.class_name, [error]),))


def result_view(spec: OpSpec, handle: str, result: OperationResult) -> OpView:
    """A finished operation whose path's own record cannot be read (a lost legacy task): from its result."""
    entries = [routed_entry(spec, handle), Entry(ORCHESTRATION, f"Processing op: {spec.class_name}")]
    entries.append(_COMPLETED if result.succeeded else _failure_entry(spec.class_name, result.errors))
    return OpView(_final(result), tuple(entries), _result_objects(spec.class_name, result))


def prior_results(views: Iterable[OpView]) -> list[dict[str, Any]]:
    """The operations' own result objects, in order, for the next operation (no plan or EXCEPTION objects)."""
    return [r for view in views for r in own_results(view.result_objects)]


def _flags(task: GatewayTask, views: Sequence[OpView]) -> tuple[bool, bool, bool]:
    """(completed, failed, retryable): final only once the driver has recorded the task's end."""
    if task.state is TaskState.SUCCEEDED:
        return True, False, False
    if task.state is TaskState.FAILED:
        return True, True, False
    if any(v.state is OpState.RETRYABLE for v in views):
        return True, True, True
    return False, False, False


def compose(task: GatewayTask, views: Sequence[OpView], owner_id: str) -> dict[str, Any]:
    """Clouddriver's task JSON; `status` and `history` first, as Clouddriver orders them.

    `gatewayOperations` is the gateway's own addition (Orca reads tasks as maps and ignores it): each operation's
    id, name, path, handle and state, for operators and tests.
    """
    history = [INITIALIZING, *(e for v in views for e in v.entries)]
    completed, failed, retryable = _flags(task, views)
    last = history[-1]
    results = [dict(r) for v in views for r in v.result_objects] if completed else []
    return {
        "status": {
            "phase": last.phase,
            "status": last.status,
            "complete": completed,
            "completed": completed,
            "failed": failed,
            "retryable": retryable,
        },
        "history": [h.to_json() for h in history],
        "id": task.id,
        "ownerId": task.owner_id or owner_id,
        "requestId": task.request_id,
        "startTimeMs": task.start_time_ms,
        "sagaIds": [dict(s) for v in views for s in v.saga_ids],
        "resultObjects": results,
        "outputs": [],
        "retryable": retryable,
        "gatewayOperations": [
            {
                "operationId": op.spec.operation_id,
                "operation": op.spec.name,
                "stageType": op.spec.stage_type,
                "application": op.spec.application,
                "account": op.spec.account,
                "path": op.path.value if op.path else None,
                "handle": op.handle,
                "state": (views[op.spec.position].state if op.spec.position < len(views) else op.state).value,
            }
            for op in task.ops
        ],
    }
