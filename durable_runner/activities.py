"""The activities: every read and write of the cloud the workflow makes, each idempotent and safe to retry.

`CloudActivities` takes its `CloudProvider` in `__init__` (the worker opens it with `cloud.factory`). Both
activities are synchronous and run on the worker's thread pool, because providers are synchronous.

- `plan_operation` checks the operation against the cloud's accounts and plans it: reads only, so a dry run
  (and a shadow) uses it alone. The workflow runs its first attempt as a local activity (`StepRunner.plan`). It
  plans under the operation's id, so what the operation's own steps already made is taken as its own (see
  `cloud.catalogue.CloudOperation.replans_stably`).
- `try_step` is a step's first attempt, which the workflow runs as a local activity (`StepRunner.apply`): apply
  the mutation under its token and read the group's health once, no wait, no heartbeat (a local activity cannot
  heartbeat). A step that is done then costs no server round trip of its own.
- `execute_step` applies one mutation under the token the workflow derived from the operation id and the step,
  then, when the mutation asks for it, waits until the server group's desired capacity is healthy. The wait
  heartbeats; the heartbeat details record what is already done (the mutation's result, the polls so far), so
  an attempt that follows a crashed or timed-out one resumes the wait instead of calling the cloud again. Its
  input carries what `try_step` applied, if anything, for the same reason.
  A wait longer than `wait_slice_s` hands back to the retry policy (a benign retryable failure): the total wait
  is bounded by the step's retry window, and a time-skipping test server can skip the time between attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import CancelledError

from cloud.catalogue import FieldError, capacity_reached, check_world, parse_operation
from cloud.errors import CloudError
from cloud.model import Capacity, ServerGroup
from cloud.plan import Mutation, apply_mutation
from cloud.provider import CloudProvider
from durable_runner.contract import (
    ErrorKind,
    PlanInput,
    PlanOutput,
    StepAttempt,
    StepInput,
    StepOutput,
    WorkflowError,
)
from durable_runner.errors import application_error, not_healthy_error

__all__ = ["CloudActivities", "StepProgress", "validation_errors"]


def validation_errors(errors: Sequence[FieldError]) -> list[WorkflowError]:
    """Catalogue field errors as workflow errors of kind validation, path and code kept."""
    return [WorkflowError(ErrorKind.VALIDATION, e.message, code=e.code, field=e.path) for e in errors]


@dataclass(frozen=True, slots=True)
class StepProgress:
    """What one `execute_step` has done so far; it travels as heartbeat details (JSON) between attempts."""

    applied: bool = False
    result: dict[str, Any] = field(default_factory=dict)
    polls: int = 0

    def to_details(self) -> dict[str, Any]:
        return {"applied": self.applied, "result": self.result, "polls": self.polls}

    @classmethod
    def from_details(cls, details: Sequence[Any]) -> StepProgress:
        """The last attempt's progress; nothing done when there is none (or it is not ours)."""
        if not details or not isinstance(details[0], Mapping):
            return cls()
        last = details[0]
        return cls(
            applied=bool(last.get("applied", False)),
            result=dict(last.get("result") or {}),
            polls=int(last.get("polls", 0)),
        )


class CloudActivities:
    """The activities over one cloud. `poll_interval_s` paces health checks; `wait_slice_s` bounds one attempt."""

    def __init__(
        self,
        provider: CloudProvider,
        *,
        poll_interval_s: float = 2.0,
        wait_slice_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._poll_interval_s = poll_interval_s
        self._wait_slice_s = wait_slice_s
        self._monotonic = monotonic

    @activity.defn(name="plan_operation")
    def plan_operation(self, inp: PlanInput) -> PlanOutput:
        """Check the operation against the cloud's accounts and plan it. Reads only."""
        parsed = parse_operation(inp.operation, inp.stage_context, provider=inp.provider or None)
        if parsed.operation is None:
            return PlanOutput(errors=validation_errors(parsed.errors))
        try:
            world_errors = check_world(parsed.operation, self._provider.accounts())
            if world_errors:
                return PlanOutput(errors=validation_errors(world_errors))
            plan = parsed.operation.plan(self._provider, operation_id=inp.operation_id)
        except CloudError as err:
            raise application_error(err) from err
        return PlanOutput(plan=plan.to_json())

    @activity.defn(name="try_step")
    def try_step(self, inp: StepInput) -> StepAttempt:
        """A step's first attempt: apply the mutation under its token, read health once; never wait or heartbeat."""
        mutation = Mutation.from_json(inp.mutation)
        result = self._apply(mutation, inp)
        if not mutation.wait_for_healthy:
            return StepAttempt(result=result, done=True)
        return StepAttempt(result=result, done=self._healthy(mutation), polls=1)

    @activity.defn(name="execute_step")
    def execute_step(self, inp: StepInput) -> StepOutput:
        """Apply one mutation (once, under its token) and wait for health when asked; resume from heartbeats."""
        mutation = Mutation.from_json(inp.mutation)
        done = StepProgress.from_details(activity.info().heartbeat_details)
        if not done.applied and inp.applied is not None:  # the workflow's first attempt applied it
            done = StepProgress(applied=True, result=dict(inp.applied), polls=0)
        resumed = done.applied
        if not done.applied:
            # No heartbeat here: the wait below records `applied` in its first heartbeat, and a retry that comes
            # before it applies again under the same token, which the cloud answers without a second mutation.
            done = StepProgress(applied=True, result=self._apply(mutation, inp), polls=0)
        if mutation.wait_for_healthy:
            done = self._wait_until_healthy(mutation, done)
        return StepOutput(result=done.result, resumed=resumed, polls=done.polls)

    def _apply(self, mutation: Mutation, inp: StepInput) -> dict[str, Any]:
        try:
            result = apply_mutation(self._provider, mutation, inp.token)
        except CloudError as err:
            raise application_error(err) from err
        activity.logger.info("applied %s %s (%s)", mutation.kind.value, mutation.target, inp.operation_id)
        return result

    def _healthy(self, mutation: Mutation) -> bool:
        """One health read: whether the group has reached the capacity the mutation asked for."""
        try:
            group = self._provider.describe_server_group(mutation.account, mutation.region, mutation.target)
        except CloudError as err:
            raise application_error(err) from err
        return group is not None and capacity_reached(group, _wanted_capacity(mutation, group))

    def _wait_until_healthy(self, mutation: Mutation, done: StepProgress) -> StepProgress:
        deadline = self._monotonic() + self._wait_slice_s
        while True:
            try:
                group = self._provider.describe_server_group(mutation.account, mutation.region, mutation.target)
            except CloudError as err:
                raise application_error(err) from err
            done = StepProgress(applied=True, result=done.result, polls=done.polls + 1)
            wanted = _wanted_capacity(mutation, group)
            if group is not None and capacity_reached(group, wanted):
                return done
            activity.heartbeat(done.to_details())
            if self._monotonic() >= deadline:
                healthy = group.healthy_count if group is not None else 0
                raise not_healthy_error(mutation.target, healthy, wanted.desired)
            activity.wait_for_cancelled_sync(timedelta(seconds=self._poll_interval_s))
            if activity.is_cancelled():
                raise CancelledError(f"waiting for {mutation.target} to become healthy was cancelled")


def _wanted_capacity(mutation: Mutation, group: ServerGroup | None) -> Capacity:
    """The capacity the mutation asked for (a create's spec, a resize's capacity), else the group's own."""
    params = mutation.params
    if "capacity" in params:
        return Capacity.from_json(params["capacity"])
    spec = params.get("spec")
    if isinstance(spec, Mapping) and "capacity" in spec:
        return Capacity.from_json(spec["capacity"])
    return group.capacity if group is not None else Capacity(min=0, max=0, desired=0)
