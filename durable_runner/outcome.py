"""How a finished operation shows in Temporal's UI: the `Outcome` search attribute and the workflow's details.

A business failure completes the workflow (only bugs fail it), so Temporal's own status says COMPLETED and its
"Failures" count says 0 for an operation the cloud refused. The workflow therefore upserts `Outcome` when it
finishes, one word of a small closed set, so `Outcome = 'failed'` lists the refused ones in the UI and in
`temporal workflow list --query`, and sets its current details to one line saying what happened. Pure: the
workflow (`durable_runner.workflows`) calls these; the key itself is in `durable_runner.search_attributes`.
"""

from __future__ import annotations

from durable_runner.contract import ErrorKind, WorkflowInput, WorkflowResult

__all__ = ["OUTCOMES", "OUTCOME_PATCH", "details_of", "outcome_of"]

OUTCOME_PATCH = "outcome-search-attribute"
"""The `workflow.patched` id guarding the upsert: executions recorded before it never issued that command."""

SUCCEEDED = "succeeded"
FAILED = "failed"
ERRORED = "errored"

OUTCOMES: tuple[str, ...] = (SUCCEEDED, FAILED, ERRORED)
"""Every value `Outcome` takes. `succeeded`: the operation (or its dry-run plan) completed. `failed`: the
request or the cloud said no (a validation or business error: fix the payload or the target). `errored`: the
cloud kept failing until a step's retry window closed (infrastructure: retry later)."""


def outcome_of(result: WorkflowResult) -> str:
    """The `Outcome` word for a finished execution's result."""
    if result.ok:
        return SUCCEEDED
    if any(error.kind == ErrorKind.INFRASTRUCTURE for error in result.errors):
        return ERRORED
    return FAILED


def details_of(inp: WorkflowInput, result: WorkflowResult) -> str:
    """One line for the UI's current details: the outcome, the target, and the first error when there is one."""
    account = inp.stage_context.get("account") or inp.stage_context.get("credentials") or ""
    where = f"in {account}" if isinstance(account, str) and account else ""
    what = " ".join(part for part in (inp.operation, inp.application, where) if part)
    line = f"{outcome_of(result)}{' (dry run)' if inp.dry_run else ''}: {what}"
    if result.errors:
        first = result.errors[0]
        line += f"; {first.kind} {first.code or ''}".rstrip() + f": {first.message}"
        if len(result.errors) > 1:
            line += f" (+{len(result.errors) - 1} more)"
    elif result.applied:
        line += f"; {result.applied} mutation(s) applied"
    return line[:1000]
