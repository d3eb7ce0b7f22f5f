"""Typed operations run inside the workflow by class composition: one small class per operation family.

The workflow resolves the untyped context into a `cloud.catalogue` operation, then hands its plan to the family
class that knows how to run it. Every family is built from the same two parts, composed rather than inherited
from the workflow: a `StepRunner` (each mutation as the `execute_step` activity, or first as the `try_step` local
activity, see `StepRunner.apply` for when; its idempotency token derived from the operation id and the step) and a
`ProgressTracker` (what the query and the long-poll update report). Families differ in how they name their steps
and in whether a failure undoes what they created: a deploy (create/clone) that fails after creating server groups
destroys them when its plan asks for it (`rollback.onFailure`), written as ordinary code after the failing step.

This module runs inside the workflow sandbox: no IO, no clocks, nothing but deterministic code and activities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from cloud.catalogue import CloudOperation, OperationName, compensation_plan
from cloud.errors import NotFound
from cloud.plan import Mutation, MutationKind, Plan
from durable_runner.contract import ErrorKind, WorkflowError
from durable_runner.errors import COMPENSATION_FAILED
from durable_runner.progress import ProgressTracker
from durable_runner.steps import StepRunner

__all__ = [
    "Execution",
    "ImageAccess",
    "LoadBalancerFamily",
    "OperationFamily",
    "ServerGroupCapacity",
    "ServerGroupDeploy",
    "ServerGroupTeardown",
    "ServerGroupToggle",
    "family_for",
]


@dataclass(slots=True)
class Execution:
    """What running a plan did: the cloud's answers for the applied mutations, the failure, the compensation."""

    results: list[dict[str, Any]] = field(default_factory=list)
    error: WorkflowError | None = None
    compensation: Plan | None = None
    compensation_errors: list[WorkflowError] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return len(self.results)


class OperationFamily:
    """Runs the plan of one operation family: its mutations in order, then compensation if a step failed."""

    compensates: ClassVar[bool] = False

    def __init__(self, operation: CloudOperation, steps: StepRunner, tracker: ProgressTracker) -> None:
        self.operation = operation
        self._steps = steps
        self._tracker = tracker

    def label(self, mutation: Mutation) -> str:
        """The step's name in progress reports and Temporal's UI."""
        wait = " and wait until healthy" if mutation.wait_for_healthy else ""
        return f"{_VERBS[mutation.kind]} {mutation.target} in {mutation.account}/{mutation.region}{wait}"

    async def execute(self, plan: Plan) -> Execution:
        execution = Execution()
        self._tracker.add_steps([self.label(m) for m in plan.mutations])
        for mutation in plan.mutations:
            self._tracker.begin()
            outcome = await self._steps.apply(mutation)
            self._tracker.end()
            if isinstance(outcome, WorkflowError):
                execution.error = outcome
                if self.compensates and plan.compensate_on_failure:
                    await self._compensate(plan, _maybe_applied(execution.applied, mutation, outcome), execution)
                return execution
            execution.results.append(outcome.result)
        return execution

    async def _compensate(self, plan: Plan, applied: int, execution: Execution) -> None:
        """Undo what the failed plan created, in reverse order; a compensation failure is reported, not raised."""
        undo = compensation_plan(plan, applied)
        if not undo.mutations:
            return
        execution.compensation = undo
        self._tracker.compensating([_undo_label(m) for m in undo.mutations])
        for mutation in undo.mutations:
            self._tracker.begin()
            outcome = await self._steps.apply(mutation, purpose="compensate")
            self._tracker.end()
            if isinstance(outcome, WorkflowError) and not _already_gone(mutation, outcome):
                execution.compensation_errors.append(
                    WorkflowError(
                        ErrorKind.INFRASTRUCTURE,
                        f"compensation could not destroy {mutation.target} in {mutation.account}/"
                        f"{mutation.region}: {outcome.message}; destroy it by hand",
                        code=COMPENSATION_FAILED,
                    )
                )


class ServerGroupDeploy(OperationFamily):
    """createServerGroup, cloneServerGroup: create, wait until healthy, destroy what was created on failure."""

    compensates = True


class ServerGroupCapacity(OperationFamily):
    """resizeServerGroup, terminateInstances: change how many instances run."""

    def label(self, mutation: Mutation) -> str:
        if mutation.kind is MutationKind.TERMINATE_INSTANCES:
            count = len(mutation.params.get("instanceIds", ()))
            return f"terminate {count} instance(s) of {mutation.target} in {mutation.account}/{mutation.region}"
        return super().label(mutation)


class ServerGroupToggle(OperationFamily):
    """enableServerGroup, disableServerGroup: put a group in or out of traffic."""


class ServerGroupTeardown(OperationFamily):
    """destroyServerGroup: nothing to compensate, a destroyed group cannot be brought back."""


class LoadBalancerFamily(OperationFamily):
    """upsertLoadBalancer, deleteLoadBalancer."""


class ImageAccess(OperationFamily):
    """allowLaunchDescription: Orca sends it before an AWS deploy; its plan makes no mutation in our clouds."""


_VERBS: dict[MutationKind, str] = {
    MutationKind.CREATE_SERVER_GROUP: "deploy",
    MutationKind.RESIZE_SERVER_GROUP: "resize",
    MutationKind.ENABLE_SERVER_GROUP: "enable",
    MutationKind.DISABLE_SERVER_GROUP: "disable",
    MutationKind.DESTROY_SERVER_GROUP: "destroy",
    MutationKind.TERMINATE_INSTANCES: "terminate instances of",
    MutationKind.UPSERT_LOAD_BALANCER: "upsert load balancer",
    MutationKind.DELETE_LOAD_BALANCER: "delete load balancer",
}

_FAMILIES: dict[OperationName, type[OperationFamily]] = {
    OperationName.CREATE_SERVER_GROUP: ServerGroupDeploy,
    OperationName.CLONE_SERVER_GROUP: ServerGroupDeploy,
    OperationName.RESIZE_SERVER_GROUP: ServerGroupCapacity,
    OperationName.TERMINATE_INSTANCES: ServerGroupCapacity,
    OperationName.ENABLE_SERVER_GROUP: ServerGroupToggle,
    OperationName.DISABLE_SERVER_GROUP: ServerGroupToggle,
    OperationName.DESTROY_SERVER_GROUP: ServerGroupTeardown,
    OperationName.UPSERT_LOAD_BALANCER: LoadBalancerFamily,
    OperationName.DELETE_LOAD_BALANCER: LoadBalancerFamily,
    OperationName.ALLOW_LAUNCH: ImageAccess,
}


def family_for(operation: CloudOperation, steps: StepRunner, tracker: ProgressTracker) -> OperationFamily:
    """The family class that runs `operation` (a dict registry: no imports by name at run time); an operation the
    catalogue added later runs as a plain sequence of mutations until it gets a family of its own."""
    return _FAMILIES.get(operation.name, OperationFamily)(operation, steps, tracker)


def _maybe_applied(applied: int, failed: Mutation, error: WorkflowError) -> int:
    """How many leading mutations compensation must consider: a create that failed for want of an answer (or of
    health) may exist, so it is included; one the cloud refused outright created nothing."""
    if failed.kind is MutationKind.CREATE_SERVER_GROUP and error.kind is not ErrorKind.BUSINESS:
        return applied + 1
    return applied


def _already_gone(mutation: Mutation, error: WorkflowError) -> bool:
    return mutation.kind is MutationKind.DESTROY_SERVER_GROUP and error.code == NotFound.code


def _undo_label(mutation: Mutation) -> str:
    return f"compensate: destroy {mutation.target} in {mutation.account}/{mutation.region}"
