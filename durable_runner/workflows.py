"""`UntypedCloudOperationRunner`: one workflow runs any cloud operation from its untyped stage context.

It resolves the context into a typed `cloud.catalogue` operation (a pure parse, run here in the workflow),
checks and plans it in an activity (planning reads the cloud; its first attempt is a local activity, see
`StepRunner.plan`), then runs the plan through the operation's family class (`durable_runner.operations`): no
child workflows. Each step first tries once in the worker too (`try_step`, a local activity, see
`StepRunner.apply`), in the workflow task that planned it when the operation `replans_stably` (a deploy: a healthy
one-region deploy is then one workflow task), else once the plan is in the history; the first step of any other
plan made in the worker runs as the `execute_step` activity, so the plan is recorded before the cloud changes.
Business failures (validation, unknown account, a
refusal by the cloud) complete the workflow with `ok` false, at once; a step the cloud kept failing until its
retry window closed completes it with an infrastructure error; only a bug fails the workflow (task).

Progress: the `progress` query returns a snapshot; the `wait_progress` update is a durable long poll that
returns when the next step finishes. The routing decision lands in the memo (set here when the starter did not).
The dimension search attributes (Application, Account, Operation, Provider, StageType) are set by the starter:
a start that names a missing attribute fails loudly. Only `Outcome` is upserted here, once, when the operation
has finished (behind the `outcome-search-attribute` patch; see `durable_runner.outcome`), and only when the
starter set our dimension attributes (proof the namespace has ours: an upsert of an attribute the namespace
lacks would stall the workflow; the worker also warns at start when the namespace lacks one). The current
details (what Temporal's UI shows as such) say what happened, whatever the start.

This module is imported by the sandbox for every run: keep it free of side effects. Our modules come in
through `imports_passed_through` (they are deterministic and import nothing that does IO at import time).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from cloud.catalogue import parse_operation
    from cloud.plan import Plan
    from durable_runner.activities import validation_errors
    from durable_runner.contract import (
        WORKFLOW_TYPE,
        Progress,
        RunState,
        WaitInput,
        WorkflowError,
        WorkflowInput,
        WorkflowResult,
        input_problems,
    )
    from durable_runner.operations import family_for
    from durable_runner.outcome import OUTCOME_PATCH, details_of, outcome_of
    from durable_runner.progress import ProgressTracker
    from durable_runner.search_attributes import DIMENSION_ATTRIBUTES, OUTCOME
    from durable_runner.steps import StepRunner

__all__ = ["UntypedCloudOperationRunner"]


@workflow.defn(name=WORKFLOW_TYPE)
class UntypedCloudOperationRunner:
    """Runs one cloud operation to completion; see the module docstring and docs/durable-contract.md."""

    @workflow.init
    def __init__(self, inp: WorkflowInput) -> None:
        self._tracker = ProgressTracker(inp.operation_id)

    @workflow.run
    async def run(self, inp: WorkflowInput) -> WorkflowResult:
        result = await self._execute(inp)
        self._tracker.finish(result.ok)
        # Details are not a command (they answer the UI's metadata query), so old histories replay either way.
        workflow.set_current_details(details_of(inp, result))
        if workflow.patched(OUTCOME_PATCH) and _started_with_our_attributes():
            workflow.upsert_search_attributes([OUTCOME.value_set(outcome_of(result))])
        workflow.logger.info(
            "operation %s %s: %s", inp.operation_id, inp.operation, "ok" if result.ok else result.errors
        )
        # Long polls in flight return their final snapshot before the result is recorded.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    @workflow.query
    def progress(self) -> Progress:
        """The current step, the steps done and the state."""
        return self._tracker.snapshot()

    @workflow.update
    async def wait_progress(self, wait: WaitInput) -> Progress:
        """Return once more than `wait.after` steps have completed (or the operation finished)."""
        await workflow.wait_condition(lambda: self._tracker.completed > wait.after or self._tracker.finished)
        return self._tracker.snapshot()

    @wait_progress.validator
    def _check_wait(self, wait: WaitInput) -> None:
        if wait.after < 0:
            raise ValueError(f"after must be 0 or more (got {wait.after}): the number of steps already seen")

    async def _execute(self, inp: WorkflowInput) -> WorkflowResult:
        self._tracker.begin(RunState.VALIDATING)
        self._record_decision(inp)
        problems = input_problems(inp)
        parsed = parse_operation(inp.operation, inp.stage_context, provider=inp.provider or None)
        self._tracker.end()
        if problems or parsed.operation is None:
            return _failed(inp, [*problems, *validation_errors(parsed.errors)])
        operation = parsed.operation

        steps = StepRunner(inp, replans_stably=operation.replans_stably)
        self._tracker.begin(RunState.PLANNING)
        planned = await steps.plan()
        self._tracker.end()
        if isinstance(planned, WorkflowError):
            return _failed(inp, [planned])
        if planned.errors or planned.plan is None:
            return _failed(inp, planned.errors)
        plan = Plan.from_json(planned.plan)
        if inp.dry_run:
            return _result(inp, ok=True, plan=plan)

        execution = await family_for(operation, steps, self._tracker).execute(plan)
        if execution.error is not None:
            return _result(
                inp,
                ok=False,
                plan=plan,
                errors=[execution.error, *execution.compensation_errors],
                applied=execution.applied,
                compensation=execution.compensation,
            )
        outputs = operation.outputs(plan, execution.results)
        return _result(inp, ok=True, plan=plan, outputs=outputs, applied=execution.applied)

    def _record_decision(self, inp: WorkflowInput) -> None:
        """The routing decision goes in the memo, unless the starter already put it there."""
        if inp.decision is not None and workflow.memo_value("decision", None) is None:
            workflow.upsert_memo({"decision": inp.decision})


def _started_with_our_attributes() -> bool:
    """Whether the starter set any of our dimension attributes: then the namespace has them registered (a start
    naming a missing one fails), and `Outcome` is registered with them. A bare start (a test server without
    custom attributes, a hand-typed `temporal workflow start`) gets no upsert, which would stall it there.
    Deterministic: the start's attributes are in the history's first event."""
    started = workflow.info().typed_search_attributes
    return any(started.get(key) is not None for key in DIMENSION_ATTRIBUTES)


def _failed(inp: WorkflowInput, errors: list[WorkflowError]) -> WorkflowResult:
    return _result(inp, ok=False, errors=errors)


def _result(
    inp: WorkflowInput,
    *,
    ok: bool,
    plan: Plan | None = None,
    errors: list[WorkflowError] | None = None,
    outputs: dict[str, object] | None = None,
    applied: int = 0,
    compensation: Plan | None = None,
) -> WorkflowResult:
    return WorkflowResult(
        ok=ok,
        operation_id=inp.operation_id,
        operation=inp.operation,
        dry_run=inp.dry_run,
        outputs=dict(outputs or {}),
        errors=list(errors or []),
        plan=plan.to_json() if plan is not None else None,
        applied=applied,
        compensation=compensation.to_json() if compensation is not None else None,
    )
