"""Clouddriver's `RedisTaskRepository`: the same keys, TTLs and (non-)atomicity.

    task:{id}                     HASH id, startTimeMs, ownerId, sagaIds (JSON); EXPIRE ttl on create only
    taskHistory:{id}              LIST of {"phase","status","state"} JSON; RPUSH + EXPIRE ttl on every update
    taskResult:{id}               LIST of result-object JSON; EXPIRE ttl on every push
    kato:tasks                    SET of running task ids; SREM when a terminal state is pushed; no TTL
    kato:taskmap:{clientRequestId}  STRING -> task id, SETNX, no TTL

The status is `LINDEX taskHistory:{id} -1`, and a read is several commands, so a reader can see a status newer
than the results. `complete` writes the COMPLETED entry before the result objects (with an optional pause in
between, `result_delay_s`), which is the "completed without results" race Orca guards against.

Two additions, both outside Clouddriver's layout and named here so nobody mistakes them for it: the task hash
keeps the submitted operations (`operations`), and saga events live in `saga:{name}:{id}` lists (Clouddriver keeps
them in SQL or in memory), so `:resume` works with this repository. Unlike `JedisTask.addSagaId`, which only
updates the in-memory copy, saga ids are persisted. `requestId` is never written, as in Clouddriver, so tasks read
back report `requestId: null`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis

from cloud.model import JSON
from legacy_clouddriver.errors import TaskAlreadyCompleted, TaskLost
from legacy_clouddriver.task import OWNER_ID, SagaId, TaskState, TaskStatus, TaskView

__all__ = ["RUNNING_TASKS_KEY", "TASK_TTL_S", "RedisTaskRepository"]

RUNNING_TASKS_KEY = "kato:tasks"
TASK_MAP_PREFIX = "kato:taskmap:"
TASK_TTL_S = 12 * 3600

_T = TypeVar("_T")


class RedisTaskRepository:
    """Tasks in Redis. Each Redis call is retried 3 times, `retry_delay_s` apart, as Clouddriver's Failsafe policy."""

    def __init__(
        self,
        client: redis.Redis[str],
        *,
        ttl_s: int = TASK_TTL_S,
        result_delay_s: float = 0.0,
        retry_delay_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redis = client
        self._ttl = ttl_s
        self._result_delay = result_delay_s
        self._retry_delay = retry_delay_s
        self._sleep = sleep

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisTaskRepository:
        return cls(redis.Redis.from_url(url, decode_responses=True, socket_timeout=5.0), **kwargs)

    def _call(self, fn: Callable[[], _T]) -> _T:
        for attempt in range(4):
            try:
                return fn()
            except (redis.ConnectionError, redis.TimeoutError):
                if attempt == 3:
                    raise
                self._sleep(self._retry_delay)
        raise AssertionError("unreachable")

    # -- writes ---------------------------------------------------------------------------------------------

    def _push_history(self, task_id: str, status: TaskStatus) -> None:
        key = f"taskHistory:{task_id}"

        def push() -> None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.rpush(key, json.dumps(status.to_record()))
            pipe.expire(key, self._ttl)
            if status.state.completed:
                pipe.srem(RUNNING_TASKS_KEY, task_id)
            pipe.execute()

        self._call(push)

    def _write_hash(self, task_id: str, start_time_ms: int, saga_ids: Sequence[SagaId]) -> None:
        data: dict[str | bytes, bytes | float | int | str] = {
            "id": task_id,
            "startTimeMs": str(start_time_ms),
            "ownerId": OWNER_ID,
            "sagaIds": json.dumps([s.to_json() for s in saga_ids]),
        }

        def write() -> None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(f"task:{task_id}", mapping=data)
            pipe.expire(f"task:{task_id}", self._ttl)
            pipe.sadd(RUNNING_TASKS_KEY, task_id)
            pipe.execute()

        self._call(write)

    def create(self, phase: str, status: str, client_request_id: str) -> tuple[TaskView, bool]:
        task_id = str(uuid.uuid4())
        self._push_history(task_id, TaskStatus(phase, status, TaskState.STARTED))
        self._write_hash(task_id, int(time.time() * 1000), ())
        if self._call(lambda: self._redis.setnx(TASK_MAP_PREFIX + client_request_id, task_id)):
            view = self.get(task_id)
            assert view is not None, f"task {task_id} vanished right after it was written"
            return view, True
        # Another request registered this clientRequestId first: mark our copy a duplicate, return theirs.
        self._push_history(task_id, TaskStatus(phase, f"Duplicate of {client_request_id}", TaskState.FAILED))
        existing = self.get_by_client_request_id(client_request_id)
        if existing is None:
            raise TaskLost(client_request_id, "(index deleted)")
        return existing, False

    def _current(self, task_id: str) -> TaskStatus | None:
        raw = self._call(lambda: self._redis.lindex(f"taskHistory:{task_id}", -1))
        return TaskStatus.from_record(json.loads(str(raw))) if raw else None

    def _mutable(self, task_id: str) -> TaskStatus:
        current = self._current(task_id)
        if current is None or current.state.completed:
            raise TaskAlreadyCompleted(task_id)
        return current

    def update_status(self, task_id: str, phase: str, status: str) -> None:
        self._push_history(task_id, self._mutable(task_id).update(phase, status))

    def add_results(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None:
        if not results:
            return
        self._mutable(task_id)
        key = f"taskResult:{task_id}"
        values = [json.dumps(dict(r)) for r in results]

        def push() -> None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.rpush(key, *values)
            pipe.expire(key, self._ttl)
            pipe.execute()

        self._call(push)

    def complete(self, task_id: str, results: Sequence[Mapping[str, JSON]]) -> None:
        current = self._mutable(task_id)
        self._push_history(task_id, current.with_state(TaskState.COMPLETED))
        if results:
            if self._result_delay > 0:
                self._sleep(self._result_delay)
            key = f"taskResult:{task_id}"
            values = [json.dumps(dict(r)) for r in results]
            self._call(lambda: (self._redis.rpush(key, *values), self._redis.expire(key, self._ttl)))

    def fail(self, task_id: str, retryable: bool) -> None:
        state = TaskState.FAILED_RETRYABLE if retryable else TaskState.FAILED
        self._push_history(task_id, self._mutable(task_id).with_state(state))

    def retry(self, task_id: str, phase: str, status: str) -> None:
        self._push_history(task_id, TaskStatus(phase, status, TaskState.STARTED))
        self._call(lambda: self._redis.sadd(RUNNING_TASKS_KEY, task_id))

    def set_operations(self, task_id: str, operations: Sequence[Mapping[str, JSON]]) -> None:
        payload = json.dumps([dict(o) for o in operations])
        self._call(lambda: self._redis.hset(f"task:{task_id}", "operations", payload))

    def add_saga_id(self, task_id: str, saga_id: SagaId) -> None:
        view = self.get(task_id)
        saga_ids = list(view.saga_ids) if view else []
        if saga_id not in saga_ids:
            saga_ids.append(saga_id)
        payload = json.dumps([s.to_json() for s in saga_ids])
        self._call(lambda: self._redis.hset(f"task:{task_id}", "sagaIds", payload))

    def append_saga_event(self, saga_id: SagaId, event: Mapping[str, JSON]) -> None:
        key = f"saga:{saga_id.name}:{saga_id.id}"
        self._call(lambda: (self._redis.rpush(key, json.dumps(dict(event))), self._redis.expire(key, self._ttl)))

    # -- reads ----------------------------------------------------------------------------------------------

    def saga_events(self, saga_id: SagaId) -> list[dict[str, JSON]]:
        raw = self._call(lambda: self._redis.lrange(f"saga:{saga_id.name}:{saga_id.id}", 0, -1))
        return [json.loads(e) for e in raw]

    def get(self, task_id: str) -> TaskView | None:
        fields: dict[str, str] = self._call(lambda: self._redis.hgetall(f"task:{task_id}"))
        if "id" not in fields or "startTimeMs" not in fields:
            return None
        # Field by field, status first, as JedisTask serialises: a reader may see a newer status than results.
        status = self._current(task_id)
        if status is None:
            return None
        history = self._call(lambda: self._redis.lrange(f"taskHistory:{task_id}", 0, -1))
        results = self._call(lambda: self._redis.lrange(f"taskResult:{task_id}", 0, -1))
        return TaskView(
            id=fields["id"],
            status=status,
            history=tuple(TaskStatus.from_record(json.loads(h)) for h in history),
            result_objects=tuple(json.loads(r) for r in results),
            saga_ids=tuple(SagaId.from_json(s) for s in json.loads(fields.get("sagaIds") or "[]")),
            owner_id=fields.get("ownerId", ""),
            request_id=None,
            start_time_ms=int(fields["startTimeMs"]),
            operations=tuple(json.loads(fields.get("operations") or "[]")),
            hide_terminal_entry=True,
        )

    def get_by_client_request_id(self, client_request_id: str) -> TaskView | None:
        task_id = self._call(lambda: self._redis.get(TASK_MAP_PREFIX + client_request_id))
        if task_id is None:
            return None
        view = self.get(str(task_id))
        if view is None:
            raise TaskLost(client_request_id, str(task_id))
        return view

    def list_running(self) -> list[TaskView]:
        ids = self._call(lambda: self._redis.smembers(RUNNING_TASKS_KEY))
        # Ids of zombies whose keys expired linger in kato:tasks; Clouddriver lists them as nulls, we skip them.
        return [v for v in (self.get(str(i)) for i in sorted(ids)) if v is not None]
