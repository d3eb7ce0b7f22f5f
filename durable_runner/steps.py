"""How the workflow calls its activities: timeouts and retry policy from the input, tokens, failure translation.

Each call returns a value or a `WorkflowError`, never raises for an expected failure:
- a non-retryable `ApplicationError` (the cloud refused) becomes kind business, its type (the cloud error code)
  kept as the code, at once: nothing is retried;
- a step that kept failing until its retry window (schedule-to-close) ran out becomes kind infrastructure,
  code RetryWindowExhausted, with the last attempt's message;
- cancellation propagates (the workflow is being cancelled); anything else is a bug and fails the workflow task.

This module runs inside the workflow sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeGuard

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError, RetryState

from cloud.plan import Mutation, idempotency_token
from durable_runner.activities import CloudActivities
from durable_runner.contract import (
    ErrorKind,
    PlanInput,
    PlanOutput,
    StepAttempt,
    StepInput,
    StepOutput,
    WorkflowError,
    WorkflowInput,
)
from durable_runner.errors import RETRY_WINDOW_EXHAUSTED

__all__ = ["LOCAL_STEP_TIMEOUT", "STEPS_LOCALLY_FIRST", "StepRunner", "activity_failure"]


PLAN_ATTEMPT_TIMEOUT = timedelta(seconds=60)
# The patch under which planning first tries once in the worker, as a local activity (see `StepRunner.plan`),
# and how long that attempt may take before planning moves to the regular activity.
PLAN_LOCALLY_FIRST = "plan-locally-first"
LOCAL_PLAN_TIMEOUT = timedelta(seconds=10)
# The patch under which each step first tries once in the worker (`try_step`, a local activity; see
# `StepRunner.apply`), and that attempt's budget: one mutation and one health read.
STEPS_LOCALLY_FIRST = "steps-locally-first"
LOCAL_STEP_TIMEOUT = timedelta(seconds=10)
# The patch under which an operation whose plan is stable under its own steps (`replans_stably`) also tries its
# steps in the worker before the plan is recorded: a healthy one-step deploy is then one workflow task.
STEPS_WITH_THE_PLAN = "steps-with-the-plan"


class StepRunner:
    """Runs the plan and step activities of one operation with the retry window and timeouts of its input."""

    def __init__(self, inp: WorkflowInput, *, replans_stably: bool = False) -> None:
        self._inp = inp
        self._replans_stably = replans_stably
        window = timedelta(seconds=inp.retry_window_seconds)
        self._window = window
        self._attempt = min(timedelta(seconds=inp.attempt_timeout_seconds), window)
        self._heartbeat = timedelta(seconds=inp.heartbeat_timeout_seconds)
        # Planning is a handful of reads: a short attempt, so a worker that dies while planning costs a minute,
        # not a whole attempt timeout, before another worker plans again.
        self._plan_attempt = min(PLAN_ATTEMPT_TIMEOUT, self._attempt)
        # Whether the plan came from the local attempt in the current workflow task, so is not in the history
        # yet: see `apply`. A regular activity's result, once the workflow sees it, is in the history, and so is
        # everything decided before it.
        self._plan_unrecorded = False
        self._retry = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=inp.max_retry_interval_seconds),
            maximum_attempts=0,
        )

    async def plan(self) -> PlanOutput | WorkflowError:
        """Check the operation against the cloud's accounts and plan it (reads only).

        The first attempt runs as a local activity: in the worker that holds the workflow task, inside that task,
        so a healthy operation costs one workflow task and one server round trip fewer (the plan lands in a
        marker). Planning only reads and is short, which is what local activities suit. If that one attempt
        fails for a reason worth retrying (the cloud throttled, timed out, was down), planning goes on as the
        regular `plan_operation` activity under the step's whole retry window: the server owns those retries, so
        a long outage adds no events to the history and a worker that dies mid-attempt is replaced after the
        attempt timeout. A refusal from the first attempt is final at once, as it is from any attempt.
        Executions started before this (patch `PLAN_LOCALLY_FIRST`) replay with the activity alone.
        """
        inp = self._inp
        arg = PlanInput(inp.operation_id, inp.operation, inp.stage_context, inp.provider)
        if workflow.patched(PLAN_LOCALLY_FIRST):
            try:
                planned = await workflow.execute_local_activity_method(
                    CloudActivities.plan_operation,
                    arg,
                    start_to_close_timeout=min(LOCAL_PLAN_TIMEOUT, self._plan_attempt),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    activity_id="plan-local",
                    summary="plan (first attempt, in the worker)",
                )
                self._plan_unrecorded = True
                return planned
            except FailureError as err:
                refused = _local_attempt_failure(err, "planning")
                if refused is not None:
                    return refused
        try:
            return await workflow.execute_activity_method(
                CloudActivities.plan_operation,
                arg,
                schedule_to_close_timeout=self._window,
                start_to_close_timeout=self._plan_attempt,
                retry_policy=self._retry,
                activity_id="plan",
                summary="plan",
            )
        except ActivityError as err:
            return activity_failure(err, "planning", self._window)

    async def apply(self, mutation: Mutation, purpose: str = "apply") -> StepOutput | WorkflowError:
        """Apply one mutation under the token of (operation id, step, purpose), waiting for health if asked.

        Once the plan is in the history, a step's first attempt runs as the `try_step` local activity, inside the
        current workflow task: it applies the mutation and reads health once, so a step that is done then
        (healthy at once, or nothing to wait for) adds no activity task and no workflow task of its own. Anything
        else goes on as the regular `execute_step` activity under the step's whole retry window and heartbeats,
        with the same token: not healthy yet (it carries the applied answer, so only the wait is left), a
        retryable failure or an attempt past its budget (the mutation may have landed: the token makes applying
        again a no-op). A refusal is final at once. A worker killed during the first attempt leaves no marker,
        so the worker that takes the workflow task over runs it again under the same token and the same plan.

        While the plan is unrecorded (planned in the worker, in this same workflow task), only where planning
        again gives the same plan (`_may_try_locally`): otherwise a worker killed after the mutation but before
        the task completes would leave a replay that plans again against a cloud the mutation changed, and reuses
        the token for a different request. Such a first step runs as the activity, whose scheduling records the
        plan first. Executions started before this (patches `STEPS_LOCALLY_FIRST`, `STEPS_WITH_THE_PLAN`)
        replay with the activity alone.
        """
        token = idempotency_token(self._inp.operation_id, mutation.step, purpose)
        step = StepInput(self._inp.operation_id, mutation.to_json(), token)
        summary = f"{purpose} step {mutation.step}: {mutation.kind.value} {mutation.target}"
        what = f"{mutation.kind.value} {mutation.target} in {mutation.account}/{mutation.region}"
        if self._may_try_locally(purpose) and workflow.patched(STEPS_LOCALLY_FIRST):
            first = await self._try_step(step, f"{purpose}-{mutation.step}-local", summary)
            if isinstance(first, WorkflowError | StepOutput):
                return first
            if first is not None:  # applied, not healthy yet: the activity only waits
                step = StepInput(step.operation_id, step.mutation, token, applied=first.result)
        try:
            return await workflow.execute_activity_method(
                CloudActivities.execute_step,
                step,
                schedule_to_close_timeout=self._window,
                start_to_close_timeout=self._attempt,
                heartbeat_timeout=self._heartbeat,
                retry_policy=self._retry,
                activity_id=f"{purpose}-{mutation.step}",
                summary=summary,
            )
        except ActivityError as err:
            return activity_failure(err, what, self._window)
        finally:
            self._plan_unrecorded = False  # the activity's outcome came in a later workflow task

    def _may_try_locally(self, purpose: str) -> bool:
        """Whether this step may first try in the worker: always once the plan is in the history; before that
        (planned in this very workflow task) only a plan's own steps, not a compensation, of an operation whose
        plan comes out the same when made again after them (`replans_stably`, checked per operation by
        tests/cloud/test_catalogue_replans_stably.py), under patch `STEPS_WITH_THE_PLAN`. A worker killed after
        such a step landed, before the task completed, leaves a replay that plans again: it finds the step's
        group made under the step's token, takes it as its own, and so applies the same request under the same
        token, which the cloud answers without a second mutation."""
        if not self._plan_unrecorded:
            return True
        return self._replans_stably and purpose == "apply" and workflow.patched(STEPS_WITH_THE_PLAN)

    async def _try_step(
        self, step: StepInput, activity_id: str, summary: str
    ) -> StepOutput | StepAttempt | WorkflowError | None:
        """The local first attempt: the step's output when done, the attempt when it applied but is not healthy
        yet, a business error for a refusal, None for a failure worth retrying as the activity."""
        try:
            attempt = await workflow.execute_local_activity_method(
                CloudActivities.try_step,
                step,
                start_to_close_timeout=min(LOCAL_STEP_TIMEOUT, self._attempt),
                retry_policy=RetryPolicy(maximum_attempts=1),
                activity_id=activity_id,
                summary=f"{summary} (first attempt, in the worker)",
            )
        except FailureError as err:
            return _local_attempt_failure(err, activity_id)
        if attempt.done:
            return StepOutput(result=attempt.result, polls=attempt.polls)
        return attempt


def _local_attempt_failure(err: FailureError, what: str) -> WorkflowError | None:
    """A failed first attempt in the worker: the business error when the cloud refused (final at once), None when
    the failure is worth retrying as the regular activity; re-raises cancellation. `err` is an ActivityError, or
    (core's choice) the attempt's own failure."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, CancelledError):
        raise err
    if _refusal(cause):
        return _business_error(cause)
    workflow.logger.info("%s failed in the worker (%s); retrying as an activity", what, cause)
    return None


def activity_failure(err: ActivityError, what: str, window: timedelta) -> WorkflowError:
    """The workflow error for a failed activity; re-raises cancellation."""
    cause = err.cause
    if isinstance(cause, CancelledError):
        raise err
    if _refusal(cause):
        return _business_error(cause)
    last = _deepest_message(err)
    if err.retry_state is RetryState.TIMEOUT:
        seconds = int(window.total_seconds())
        return WorkflowError(
            ErrorKind.INFRASTRUCTURE,
            f"{what} was still failing when its retry window of {seconds}s ran out: {last}",
            code=RETRY_WINDOW_EXHAUSTED,
        )
    state = err.retry_state.name if err.retry_state is not None else "UNSPECIFIED"
    return WorkflowError(ErrorKind.INFRASTRUCTURE, f"{what} failed ({state}): {last}", code="ActivityFailed")


def _refusal(cause: BaseException | None) -> TypeGuard[ApplicationError]:
    """The cloud (or the catalogue) refused: a non-retryable application error, which no retry can change."""
    return isinstance(cause, ApplicationError) and cause.non_retryable


def _business_error(refusal: ApplicationError) -> WorkflowError:
    """A refusal as the workflow reports it: kind business, the cloud error code kept."""
    return WorkflowError(ErrorKind.BUSINESS, refusal.message, code=refusal.type or "")


def _deepest_message(err: BaseException) -> str:
    """The message of the innermost failure: the last attempt's own error, not the timeout that wrapped it."""
    message = str(err)
    current: BaseException | None = err
    while isinstance(current, FailureError):
        if current.message:
            message = current.message
        current = current.cause
    return message
