"""Clouddriver's `DefaultOrchestrationProcessor`: deduplicate on clientRequestId, create the task, run its
operations in order on a background pool, and record how it ended.

For each operation: `Processing op: <Class>`, the operation's own lines, `Orchestration completed.`; the next
operation receives the result objects of those before it. On a failure: `Orchestration failed: <Op> |
<Exception>: [<message>]`, the plan and EXCEPTION result objects, and `fail(retryable)`, where only saga-backed
operations failing transiently are retryable. Clouddriver's loop does not stop there, but with Redis and in-memory
tasks the next status update throws, so no later operation runs and the earlier results are never added; the
same happens here. Results are added at the end, then COMPLETED.

Re-POSTing a clientRequestId returns the existing task without running anything, unless it is FAILED_RETRYABLE:
then, as `POST /task/{id}:resume`, the incomplete sagas are rebuilt from their snapshots and resumed. (Clouddriver
only manages this with its SQL repository: the in-memory and Redis tasks report no requestId, so their resumes
start a new task. This service behaves as the SQL one, which is what Netflix ran.)
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from cloud.errors import TransientCloudError
from cloud.model import JSON
from clouddriver_wire.errors import TaskNotFound, TaskNotRetryable
from clouddriver_wire.tracing import internal_span
from legacy_clouddriver.errors import TaskAlreadyCompleted
from legacy_clouddriver.executor import OperationExecutor, OperationFailed, SagaProgress
from legacy_clouddriver.operations import ResolvedOperation, resolve_single
from legacy_clouddriver.repository import TaskRepository
from legacy_clouddriver.results import exception_summary, plan_object
from legacy_clouddriver.task import ORCHESTRATION, TaskView

__all__ = ["OrchestrationProcessor"]

log = logging.getLogger(__name__)

_REINITIALIZING = "Re-initializing Orchestration Task (failure is retryable)"


class OrchestrationProcessor:
    """Accepts validated operations and runs them asynchronously; `process` returns as soon as the task exists."""

    def __init__(self, repository: TaskRepository, executor: OperationExecutor, *, max_workers: int = 64) -> None:
        self._repo = repository
        self._executor = executor
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="DefaultOrchestrationProcessor")
        self._lock = threading.Lock()
        self._running: set[str] = set()

    def process(self, operations: Sequence[ResolvedOperation], client_request_id: str) -> TaskView:
        existing = self._repo.get_by_client_request_id(client_request_id)
        if existing is not None:
            return self.resume(existing.id) if existing.retryable else existing
        task, created = self._repo.create(ORCHESTRATION, "Initializing Orchestration Task", client_request_id)
        if not created:
            return task
        self._repo.set_operations(task.id, [op.to_json() for op in operations])
        self._submit(task.id, list(operations), {})
        return task

    def resume(self, task_id: str) -> TaskView:
        """Re-run the incomplete sagas of a FAILED_RETRYABLE task from the step that failed."""
        task = self._repo.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        if not task.retryable:
            raise TaskNotRetryable(task_id)
        operations: list[ResolvedOperation] = []
        progress: dict[int, SagaProgress] = {}
        for saga_id in task.saga_ids:
            events = self._repo.saga_events(saga_id)
            if not events or any(e.get("type") == "SagaCompleted" for e in events):
                continue
            snapshot = events[0]
            op = resolve_single(
                str(snapshot["descriptionName"]), snapshot["descriptionInput"], str(snapshot["cloudProvider"])
            )
            progress[len(operations)] = SagaProgress.from_events(saga_id, events)
            operations.append(op)
        if not operations:
            raise TaskNotFound(task_id, f"No saga was found for this task id: {task_id} - can't resume")
        self._repo.retry(task_id, ORCHESTRATION, _REINITIALIZING)
        self._submit(task_id, operations, progress)
        return self._repo.get(task_id) or task

    def running_here(self) -> set[str]:
        """Ids of the tasks this process is executing right now."""
        with self._lock:
            return set(self._running)

    def shutdown(self, wait_s: float) -> set[str]:
        """Wait up to `wait_s` for this process's tasks (Clouddriver's @PreDestroy); return those still running."""
        deadline = time.monotonic() + wait_s
        while self.running_here() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.running_here()
        if left:
            log.error("shutting down while tasks %s are still in progress", sorted(left))
        self._pool.shutdown(wait=False, cancel_futures=True)
        return left

    def _submit(self, task_id: str, operations: list[ResolvedOperation], progress: dict[int, SagaProgress]) -> None:
        with self._lock:
            self._running.add(task_id)
        # The task runs in the submit's context, so its spans stay in the trace of the request that submitted it.
        self._pool.submit(contextvars.copy_context().run, self._run, task_id, operations, progress)

    def _run(self, task_id: str, operations: list[ResolvedOperation], progress: dict[int, SagaProgress]) -> None:
        try:
            results: list[Mapping[str, JSON]] = []
            for index, op in enumerate(operations):
                self._repo.update_status(task_id, ORCHESTRATION, f"Processing op: {op.description.class_name}")
                try:
                    name = f"clouddriver.operate {op.description.class_name}"
                    with internal_span("legacy_clouddriver", name, {"cloudops.task_id": task_id}):
                        results.extend(self._executor.operate(task_id, op, results, progress.get(index)))
                except OperationFailed as failure:
                    self._fail(task_id, op, failure)
                    return
                self._repo.update_status(task_id, ORCHESTRATION, "Orchestration completed.")
            self._repo.complete(task_id, results)
        except TaskAlreadyCompleted as e:
            log.warning("task %s: %s", task_id, e)
        except Exception as e:  # the repository itself failed: record what we can; the task may stay a zombie
            log.exception("task %s failed outside any operation", task_id)
            try:
                self._repo.update_status(task_id, "INIT", f"Unknown failure -- {type(e).__name__}: {e}")
                self._repo.add_results(task_id, [exception_summary("", e) | {"message": "Failed for unknown reason."}])
                self._repo.fail(task_id, retryable=False)
            except Exception:
                log.exception("task %s could not be marked failed; it stays STARTED", task_id)
        finally:
            with self._lock:
                self._running.discard(task_id)

    def _fail(self, task_id: str, op: ResolvedOperation, failure: OperationFailed) -> None:
        cause = failure.cause
        name = op.description.class_name
        self._repo.update_status(
            task_id, ORCHESTRATION, f"Orchestration failed: {name} | {type(cause).__name__}: [{cause}]"
        )
        objects = [plan_object(failure.plan, dry_run=op.dry_run)] if failure.plan is not None else []
        self._repo.add_results(task_id, [*objects, exception_summary(name, cause)])
        self._repo.fail(task_id, retryable=op.saga_backed and isinstance(cause, TransientCloudError))
