"""Running one resolved operation the way Clouddriver's AtomicOperations do: plan, call, wait, report.

`plan` (reads only) -> each mutation through `cloud.plan.apply_mutation` under the hand-written retries, with a
fresh token per attempt -> wait until desired capacity is healthy where the plan asks -> the operation's result
object. A dry run stops after the plan. Task history gets Clouddriver-style lines under the operation's phase.

Compensation: a plan with `compensate_on_failure` (a deploy's `rollback.onFailure`) has the server groups it
created destroyed when a later step fails, as the deploy's rollback would; saga-backed (Titus) operations skip it
when the failure is retryable, because a saga resumes forward and never rolls back.

Saga-backed operations record an event log (snapshot, plan, each completed step) so `:resume` continues from the
step that failed with the plan it had, instead of planning again.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cloud.catalogue import capacity_reached, compensation_plan
from cloud.errors import CloudRejection, TransientCloudError
from cloud.model import JSON, Capacity
from cloud.plan import Mutation, MutationKind, Plan, apply_mutation
from cloud.provider import CloudProvider
from legacy_clouddriver.operations import ResolvedOperation
from legacy_clouddriver.repository import TaskRepository
from legacy_clouddriver.results import plan_object
from legacy_clouddriver.retries import RetryPolicy
from legacy_clouddriver.task import SagaId

__all__ = ["HealthTimeout", "OperationExecutor", "OperationFailed", "SagaProgress"]

log = logging.getLogger(__name__)


class HealthTimeout(Exception):
    """Desired capacity did not become healthy in time (not retryable: waiting again is the caller's call)."""


class OperationFailed(Exception):
    """An operation failed; `cause` is what broke, `plan` what it was executing (None if planning failed)."""

    def __init__(self, cause: BaseException, plan: Plan | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.plan = plan


@dataclass(frozen=True, slots=True)
class SagaProgress:
    """What a saga's event log says: its id, the plan it prepared and the results of the steps it completed."""

    saga_id: SagaId
    plan: Plan | None = None
    done: tuple[Mapping[str, JSON], ...] = ()

    @classmethod
    def from_events(cls, saga_id: SagaId, events: Sequence[Mapping[str, JSON]]) -> SagaProgress:
        plan: Plan | None = None
        done: list[Mapping[str, JSON]] = []
        for event in events:
            if event.get("type") == "PlanPrepared":
                plan = Plan.from_json(event["plan"])
            elif event.get("type") == "SagaCommandCompleted":
                done.append(event.get("result") or {})
        return cls(saga_id, plan, tuple(done))


def _where(m: Mutation) -> str:
    return f"{m.region}:{m.target}"


_VERBS = {
    MutationKind.CREATE_SERVER_GROUP: "Creating server group",
    MutationKind.RESIZE_SERVER_GROUP: "Resizing",
    MutationKind.ENABLE_SERVER_GROUP: "Enabling",
    MutationKind.DISABLE_SERVER_GROUP: "Disabling",
    MutationKind.DESTROY_SERVER_GROUP: "Destroying",
    MutationKind.TERMINATE_INSTANCES: "Terminating instances of",
    MutationKind.UPSERT_LOAD_BALANCER: "Upserting load balancer",
    MutationKind.DELETE_LOAD_BALANCER: "Deleting load balancer",
}


def _describe(m: Mutation) -> str:
    text = f"{_VERBS[m.kind]} {_where(m)} in {m.account}"
    if "capacity" in m.params:
        text += f" to {m.params['capacity']}"
    if "instanceIds" in m.params:
        text += f": {', '.join(map(str, m.params['instanceIds']))}"
    return text + "..."


def _wanted_capacity(m: Mutation, answer: Mapping[str, JSON]) -> Capacity:
    if "capacity" in m.params:
        return Capacity.from_json(m.params["capacity"])
    spec = m.params.get("spec")
    if isinstance(spec, Mapping) and "capacity" in spec:
        return Capacity.from_json(spec["capacity"])
    return Capacity.from_json(answer["capacity"])


class OperationExecutor:
    """Runs operations against `provider`, writing history to `repository`."""

    def __init__(
        self,
        provider: CloudProvider,
        repository: TaskRepository,
        *,
        retry: RetryPolicy,
        health_timeout_s: float,
        health_poll_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._provider = provider
        self._repo = repository
        self._retry = retry
        self._health_timeout = health_timeout_s
        self._health_poll = health_poll_s
        self._clock = clock
        self._sleep = sleep

    def operate(
        self,
        task_id: str,
        op: ResolvedOperation,
        prior: Sequence[Mapping[str, JSON]],
        progress: SagaProgress | None = None,
    ) -> list[dict[str, JSON]]:
        """Run `op`; return its result objects (its own, if any, then the plan object). Raises OperationFailed."""
        phase = op.description.phase
        saga = progress.saga_id if progress else self._start_saga(task_id, op, prior)
        plan: Plan | None = progress.plan if progress else None
        applied = len(progress.done) if progress else 0
        results: list[Mapping[str, JSON]] = list(progress.done) if progress else []
        try:
            if plan is None:
                plan = self._retry.call(lambda _token: op.operation.plan(self._provider), "plan")
                if saga:
                    self._repo.append_saga_event(saga, {"type": "PlanPrepared", "plan": plan.to_json()})
            targets = ", ".join(_where(m) for m in plan.mutations) or ", ".join(op.operation.regions)
            if op.dry_run:
                self._status(
                    task_id,
                    phase,
                    f"Dry run of {op.description.label} operation for [{targets}]: "
                    f"{len(plan.mutations)} mutation(s) planned, nothing changed.",
                )
                return [plan_object(plan, dry_run=True)]
            if progress:
                self._status(task_id, phase, f"Resuming saga {saga.name if saga else ''} at step {applied + 1}.")
            else:
                self._status(task_id, phase, f"Initializing {op.description.label} operation for [{targets}]...")
            for m in plan.mutations[applied:]:
                results.append(self._apply(task_id, phase, m))
                applied += 1
                if saga:
                    self._repo.append_saga_event(
                        saga, {"type": "SagaCommandCompleted", "step": m.step, "result": dict(results[-1])}
                    )
            outputs = op.operation.outputs(plan, results)
            self._status(task_id, phase, f"Finished {op.description.label} operation for [{targets}].")
        except Exception as e:
            retryable = op.saga_backed and isinstance(e, TransientCloudError)
            if saga:
                self._repo.append_saga_event(
                    saga,
                    {
                        "type": "SagaActionErrorOccurred",
                        "step": applied,
                        "error": f"{type(e).__name__}: {e}",
                        "retryable": retryable,
                    },
                )
            if plan is not None and plan.compensate_on_failure and applied and not retryable:
                self._compensate(task_id, plan, applied)
            raise OperationFailed(e, plan) from e
        if saga:
            self._repo.append_saga_event(saga, {"type": "SagaCompleted"})
        own = [dict(outputs)] if outputs else []
        return [*own, plan_object(plan, dry_run=False)]

    def _start_saga(self, task_id: str, op: ResolvedOperation, prior: Sequence[Mapping[str, JSON]]) -> SagaId | None:
        if not op.saga_backed or op.description.saga_name is None:
            return None
        saga = SagaId(op.description.saga_name, str(uuid.uuid4()))
        self._repo.add_saga_id(task_id, saga)
        snapshot = {
            "type": "SnapshotAtomicOperationInput",
            "descriptionName": op.name,
            "cloudProvider": op.provider,
            "descriptionInput": dict(op.context),
            "priorOutputs": [dict(p) for p in prior],
        }
        self._repo.append_saga_event(saga, snapshot)
        return saga

    def _status(self, task_id: str, phase: str, status: str) -> None:
        self._repo.update_status(task_id, phase, status)

    def _apply(self, task_id: str, phase: str, m: Mutation) -> Mapping[str, JSON]:
        self._status(task_id, phase, _describe(m))
        answer = self._retry.call(lambda token: apply_mutation(self._provider, m, token), f"{m.kind.value} {_where(m)}")
        if m.wait_for_healthy:
            self._wait_healthy(task_id, phase, m, answer)
        return answer

    def _wait_healthy(self, task_id: str, phase: str, m: Mutation, answer: Mapping[str, JSON]) -> None:
        wanted = _wanted_capacity(m, answer)
        name = str(answer.get("name") or m.target)
        self._status(task_id, phase, f"Waiting for {wanted.desired} healthy instance(s) in {m.region}:{name}...")
        deadline = self._clock() + self._health_timeout
        healthy = 0
        while True:
            try:
                group = self._provider.describe_server_group(m.account, m.region, name)
            except TransientCloudError as e:
                log.info("health check of %s:%s failed (%s); polling again", m.region, name, e.code)
                group = None
            if group is not None:
                healthy = group.healthy_count
                if capacity_reached(group, wanted):
                    self._status(task_id, phase, f"{healthy} healthy instance(s) in {m.region}:{name}.")
                    return
            if self._clock() >= deadline:
                raise HealthTimeout(
                    f"timed out after {self._health_timeout:g}s waiting for {wanted.desired} healthy instance(s) "
                    f"in {m.region}:{name} ({healthy} healthy)"
                )
            self._sleep(self._health_poll)

    def _compensate(self, task_id: str, plan: Plan, applied: int) -> None:
        rollback = compensation_plan(plan, applied)
        for m in rollback.mutations:
            try:
                self._status(task_id, "ROLLBACK", f"Rolling back: {_describe(m)}")
                self._retry.call(functools.partial(apply_mutation, self._provider, m), "rollback")
            except CloudRejection as e:
                if m.kind is not MutationKind.DESTROY_SERVER_GROUP or e.code != "NotFound":
                    self._status(task_id, "ROLLBACK", f"Rollback of {_where(m)} failed: {type(e).__name__}: {e}")
            except Exception as e:  # the original failure is what the task reports; this one is only logged
                self._status(task_id, "ROLLBACK", f"Rollback of {_where(m)} failed: {type(e).__name__}: {e}")
