"""The gateway's tasks in SQL: nothing a gateway process alone holds, so a restarted one answers for every task
it ever issued and drives every unfinished one on.

Deduplication is the unique clientRequestId: of two concurrent POSTs with the same one, the second insert fails
and reads the first's task. A task is driven by one gateway process at a time, the holder of its lease; a lease
lapses when its holder stops renewing it (a crash), and another process (or the same one, restarted) takes it.
Moving a task on is a compare-and-set on the position in progress, so a process that lost its lease cannot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gateway.model import GatewayTask, OpRecord, OpSpec, OpState, OpView, TaskState
from gateway.tables import gateway_operations as ops_table, gateway_tasks as tasks_table

__all__ = ["GatewayStore"]

_ACTIVE = [TaskState.RUNNING.value, TaskState.RETRYABLE.value]


def _now() -> datetime:
    return datetime.now(UTC)


class GatewayStore:
    """Gateway tasks and their operations in the `gateway_tasks` / `gateway_operations` tables."""

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    # -- reads --------------------------------------------------------------------------------------------------

    def get(self, task_id: str) -> GatewayTask | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tasks_table).where(tasks_table.c.id == task_id)).mappings().first()
            if row is None:
                return None
            op_rows = conn.execute(
                sa.select(ops_table).where(ops_table.c.task_id == task_id).order_by(ops_table.c.position)
            ).mappings()
            return _task_of(row, [_op_of(r) for r in op_rows])

    def by_request_id(self, request_id: str) -> GatewayTask | None:
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(tasks_table.c.id).where(tasks_table.c.request_id == request_id)).scalar()
        return self.get(str(found)) if found is not None else None

    def running_ids(self) -> list[str]:
        """Ids of the tasks Clouddriver would list as running (not ended, not waiting for a resume)."""
        query = sa.select(tasks_table.c.id).where(tasks_table.c.state == TaskState.RUNNING.value)
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query.order_by(tasks_table.c.start_time_ms)).scalars()]

    # -- writes -------------------------------------------------------------------------------------------------

    def create(
        self,
        task_id: str,
        request_id: str,
        specs: Sequence[OpSpec],
        *,
        provider: str | None,
        execution_id: str | None,
        owner_id: str,
        lease_s: float,
    ) -> tuple[GatewayTask, bool]:
        """Insert a task and its operations; (the task, True), or (the existing one, False) if the
        clientRequestId is taken."""
        now, epoch = _now(), self._clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    tasks_table.insert().values(
                        id=task_id,
                        request_id=request_id,
                        provider=provider,
                        execution_id=execution_id,
                        state=TaskState.RUNNING.value,
                        position=0,
                        size=len(specs),
                        start_time_ms=int(epoch * 1000),
                        owner_id=owner_id,
                        lease_until=epoch + lease_s,
                        created_at=now,
                        updated_at=now,
                    )
                )
                conn.execute(ops_table.insert(), [_op_row(task_id, spec, now) for spec in specs])
        except sa.exc.IntegrityError:
            existing = self.by_request_id(request_id)
            if existing is None:  # the conflict was not the clientRequestId: a real error
                raise
            return existing, False
        created = self.get(task_id)
        assert created is not None
        return created, True

    def claim(self, owner_id: str, lease_s: float, limit: int = 200) -> list[str]:
        """Take or renew the lease of unfinished tasks this process holds or nobody holds; their ids."""
        now = self._clock()
        free = sa.or_(tasks_table.c.owner_id == owner_id, tasks_table.c.lease_until < now)
        with self.engine.connect() as conn:
            candidates = [
                str(r)
                for r in conn.execute(
                    sa.select(tasks_table.c.id)
                    .where(tasks_table.c.state.in_(_ACTIVE), free)
                    .order_by(tasks_table.c.start_time_ms)
                    .limit(limit)
                ).scalars()
            ]
        claimed = []
        for task_id in candidates:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    tasks_table.update()
                    .where(tasks_table.c.id == task_id, tasks_table.c.state.in_(_ACTIVE), free)
                    .values(owner_id=owner_id, lease_until=now + lease_s)
                )
            if taken.rowcount == 1:
                claimed.append(task_id)
        return claimed

    def release(self, owner_id: str) -> None:
        """Let go of every lease this process holds (a clean shutdown), so another process continues at once."""
        with self.engine.begin() as conn:
            conn.execute(tasks_table.update().where(tasks_table.c.owner_id == owner_id).values(lease_until=0.0))

    def note_attempt(self, task_id: str, position: int) -> float:
        """Record when the operation's first start attempt was (kept if already set); return it."""
        with self.engine.begin() as conn:
            conn.execute(
                ops_table.update()
                .where(_op(task_id, position), ops_table.c.first_attempt_at.is_(None))
                .values(first_attempt_at=self._clock(), updated_at=_now())
            )
            first = conn.execute(sa.select(ops_table.c.first_attempt_at).where(_op(task_id, position))).scalar()
        return float(first) if first is not None else self._clock()

    def set_handle(self, task_id: str, position: int, handle: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                ops_table.update()
                .where(_op(task_id, position))
                .values(handle=handle, state=OpState.RUNNING.value, updated_at=_now())
            )

    def mark(self, task_id: str, position: int, state: OpState) -> None:
        """An unfinished operation is running again, or waits for a resume; its task follows it."""
        task_state = TaskState.RETRYABLE if state is OpState.RETRYABLE else TaskState.RUNNING
        with self.engine.begin() as conn:
            conn.execute(ops_table.update().where(_op(task_id, position)).values(state=state.value, updated_at=_now()))
            conn.execute(
                tasks_table.update()
                .where(tasks_table.c.id == task_id, tasks_table.c.state.in_(_ACTIVE))
                .values(state=task_state.value, updated_at=_now())
            )

    def finish_op(self, task_id: str, position: int, view: OpView, owner_id: str) -> bool:
        """Record how the operation ended and move its task on: to the next operation, or to its end.

        False, and nothing written, when this process no longer holds the task or it has moved on already.
        """
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(tasks_table.c.size).where(tasks_table.c.id == task_id)).mappings().first()
            if row is None:
                return False
            values: dict[str, Any] = {"updated_at": _now()}
            if view.state is OpState.FAILED:
                values["state"] = TaskState.FAILED.value
            elif position + 1 >= int(row["size"]):
                values.update(state=TaskState.SUCCEEDED.value, position=position + 1)
            else:
                values.update(state=TaskState.RUNNING.value, position=position + 1)
            moved = conn.execute(
                tasks_table.update()
                .where(
                    tasks_table.c.id == task_id,
                    tasks_table.c.position == position,
                    tasks_table.c.owner_id == owner_id,
                    tasks_table.c.state.in_(_ACTIVE),
                )
                .values(**values)
            )
            if moved.rowcount != 1:  # nothing was written: lost the lease, or another process moved it on
                return False
            conn.execute(
                ops_table.update()
                .where(_op(task_id, position))
                .values(state=view.state.value, view=view.to_json(), updated_at=_now())
            )
        return True


def _op(task_id: str, position: int) -> sa.ColumnElement[bool]:
    return sa.and_(ops_table.c.task_id == task_id, ops_table.c.position == position)


def _op_row(task_id: str, spec: OpSpec, now: datetime) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "position": spec.position,
        "operation_id": spec.operation_id,
        "name": spec.name,
        "provider": spec.provider,
        "account": spec.account,
        "application": spec.application,
        "stage_type": spec.stage_type,
        "class_name": spec.class_name,
        "context": dict(spec.context),
        "state": OpState.PENDING.value,
        "handle": None,
        "first_attempt_at": None,
        "view": None,
        "updated_at": now,
    }


def _op_of(row: sa.RowMapping) -> OpRecord:
    spec = OpSpec(
        position=int(row["position"]),
        operation_id=str(row["operation_id"]),
        name=str(row["name"]),
        provider=str(row["provider"]),
        account=str(row["account"]),
        application=str(row["application"]),
        stage_type=str(row["stage_type"]),
        class_name=str(row["class_name"]),
        context=dict(row["context"] or {}),
    )
    return OpRecord(
        spec=spec,
        state=OpState(row["state"]),
        handle=row["handle"],
        first_attempt_at=row["first_attempt_at"],
        view=OpView.from_json(row["view"]) if row["view"] else None,
    )


def _task_of(row: sa.RowMapping, ops: list[OpRecord]) -> GatewayTask:
    return GatewayTask(
        id=str(row["id"]),
        request_id=str(row["request_id"]),
        state=TaskState(row["state"]),
        position=int(row["position"]),
        start_time_ms=int(row["start_time_ms"]),
        ops=tuple(ops),
        owner_id=row["owner_id"],
        execution_id=row["execution_id"],
        provider=row["provider"],
        lease_until=float(row["lease_until"]),
    )
