"""Task repositories: the seam between the orchestration processor and where task state lives.

`InMemoryTaskRepository` is Clouddriver's default: two maps in this process, no eviction, everything lost on
restart (a task id polled after a restart answers 404). `RedisTaskRepository` (legacy_clouddriver.redis_repository)
keeps Clouddriver's key layout and TTLs. Neither reaps anything: a task whose process died stays STARTED.

Saga event logs live here too, so a saga-backed (Titus) task can be resumed from the step that failed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cloud.model import JSON
from legacy_clouddriver.errors import TaskAlreadyCompleted
from legacy_clouddriver.task import OWNER_ID, SagaId, TaskState, TaskStatus, TaskView

__all__ = ["InMemoryTaskRepository", "TaskRepository", "base36"]


class TaskRepository(Protocol):
    """Where tasks live. Every write to a completed task raises TaskAlreadyCompleted, except `retry`."""

    def create(self, phase: str, status: str, client_request_id: str) -> tuple[TaskView, bool]:
        """A new STARTED task, or the task already registered under `client_request_id` (then False)."""
        ...

    def get(self, task_id: str) -> TaskView | None: ...

    def get_by_client_request_id(self, client_request_id: str) -> TaskView | None:
        """The task registered under the id; raises TaskLost when the index names a task that is gone."""
        ...

    def list_running(self) -> list[TaskView]: ...

    def update_status(self, task_id: str, phase: str, status: str) -> None: ...

    def add_results(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None: ...

    def complete(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None:
        """Mark COMPLETED and append `results` (in Redis, the status is written first: see that module)."""
        ...

    def fail(self, task_id: str, retryable: bool) -> None: ...

    def retry(self, task_id: str, phase: str, status: str) -> None:
        """Re-open a FAILED_RETRYABLE task: append `status` in state STARTED."""
        ...

    def set_operations(self, task_id: str, operations: Sequence[Mapping[str, JSON]]) -> None:
        """Keep the submitted operation maps (whole stage contexts) with the task, for reconstruction."""
        ...

    def add_saga_id(self, task_id: str, saga_id: SagaId) -> None: ...

    def append_saga_event(self, saga_id: SagaId, event: Mapping[str, JSON]) -> None: ...

    def saga_events(self, saga_id: SagaId) -> list[dict[str, JSON]]: ...


def base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


@dataclass
class _MemTask:
    id: str
    history: list[TaskStatus]
    results: list[dict[str, JSON]] = field(default_factory=list)
    saga_ids: list[SagaId] = field(default_factory=list)
    operations: tuple[Mapping[str, JSON], ...] = ()
    start_time_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def view(self) -> TaskView:
        return TaskView(
            id=self.id,
            status=self.history[-1],
            history=tuple(self.history),
            result_objects=tuple(dict(r) for r in self.results),
            saga_ids=tuple(self.saga_ids),
            owner_id=OWNER_ID,
            request_id=None,  # DefaultTask never records it
            start_time_ms=self.start_time_ms,
            operations=self.operations,
        )


class InMemoryTaskRepository:
    """Clouddriver's `InMemoryTaskRepository`: ids are random base-36 integers, state dies with the process."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tasks: dict[str, _MemTask] = {}
        self._by_request: dict[str, str] = {}
        self._sagas: dict[SagaId, list[dict[str, JSON]]] = {}

    def create(self, phase: str, status: str, client_request_id: str) -> tuple[TaskView, bool]:
        with self._lock:
            existing = self._by_request.get(client_request_id)
            if existing is not None:
                return self._tasks[existing].view(), False
            task_id = self._next_id()
            task = _MemTask(id=task_id, history=[TaskStatus(phase, status, TaskState.STARTED)])
            self._tasks[task_id] = task
            self._by_request[client_request_id] = task_id
            return task.view(), True

    def _next_id(self) -> str:
        while True:
            candidate = base36(random.randrange(2**31 - 1))
            if candidate not in self._tasks:
                return candidate

    def get(self, task_id: str) -> TaskView | None:
        with self._lock:
            task = self._tasks.get(task_id)
            return task.view() if task else None

    def get_by_client_request_id(self, client_request_id: str) -> TaskView | None:
        with self._lock:
            task_id = self._by_request.get(client_request_id)
            return self._tasks[task_id].view() if task_id is not None else None

    def list_running(self) -> list[TaskView]:
        with self._lock:
            return [t.view() for t in self._tasks.values() if not t.history[-1].state.completed]

    def _mutable(self, task_id: str) -> _MemTask:
        task = self._tasks[task_id]
        if task.history[-1].state.completed:
            raise TaskAlreadyCompleted(task_id)
        return task

    def update_status(self, task_id: str, phase: str, status: str) -> None:
        with self._lock:
            task = self._mutable(task_id)
            task.history.append(task.history[-1].update(phase, status))

    def add_results(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None:
        if not results:
            return
        with self._lock:
            self._mutable(task_id).results.extend(dict(r) for r in results)

    def complete(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None:
        with self._lock:
            task = self._mutable(task_id)
            task.results.extend(dict(r) for r in results)
            task.history.append(task.history[-1].with_state(TaskState.COMPLETED))

    def fail(self, task_id: str, retryable: bool) -> None:
        with self._lock:
            task = self._mutable(task_id)
            state = TaskState.FAILED_RETRYABLE if retryable else TaskState.FAILED
            task.history.append(task.history[-1].with_state(state))

    def retry(self, task_id: str, phase: str, status: str) -> None:
        with self._lock:
            task = self._tasks[task_id]
            task.history.append(TaskStatus(phase, status, TaskState.STARTED))

    def set_operations(self, task_id: str, operations: Sequence[Mapping[str, JSON]]) -> None:
        with self._lock:
            self._tasks[task_id].operations = tuple(operations)

    def add_saga_id(self, task_id: str, saga_id: SagaId) -> None:
        with self._lock:
            task = self._tasks[task_id]
            if saga_id not in task.saga_ids:
                task.saga_ids.append(saga_id)

    def append_saga_event(self, saga_id: SagaId, event: Mapping[str, JSON]) -> None:
        with self._lock:
            self._sagas.setdefault(saga_id, []).append(dict(event))

    def saga_events(self, saga_id: SagaId) -> list[dict[str, JSON]]:
        with self._lock:
            return [dict(e) for e in self._sagas.get(saga_id, [])]
