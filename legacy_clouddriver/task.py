"""Clouddriver's task model: a four-value state, an append-only history of `{phase, status}` and result objects.

A task's `status` is its last history entry; Clouddriver has no separate phase enum, the phase and status are
free text. `TaskView` is an immutable snapshot that the repositories build and the API serialises exactly as
Clouddriver's Jackson mapping does (`GET /task/{id}`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cloud.model import JSON

__all__ = [
    "OWNER_ID",
    "ORCHESTRATION",
    "SagaId",
    "TaskState",
    "TaskStatus",
    "TaskView",
]

ORCHESTRATION = "ORCHESTRATION"
"""The phase of the orchestration processor's own history lines."""

OWNER_ID = f"{uuid.uuid4()}@{os.environ.get('HOSTNAME') or socket.gethostname()}"
"""`<random uuid>@<hostname>`, one per process, as Clouddriver's `ClouddriverHostname.ID`."""


class TaskState(StrEnum):
    """Clouddriver's `TaskState`. Anything but STARTED counts as completed, so a failed task is completed too."""

    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FAILED_RETRYABLE = "FAILED_RETRYABLE"

    @property
    def completed(self) -> bool:
        return self is not TaskState.STARTED

    @property
    def failed(self) -> bool:
        return self in (TaskState.FAILED, TaskState.FAILED_RETRYABLE)

    @property
    def retryable(self) -> bool:
        return self is TaskState.FAILED_RETRYABLE


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """One history entry: free-text phase and status, and the task state at that moment."""

    phase: str
    status: str
    state: TaskState = TaskState.STARTED

    def update(self, phase: str, status: str) -> TaskStatus:
        return TaskStatus(phase, status, self.state)

    def with_state(self, state: TaskState) -> TaskStatus:
        return TaskStatus(self.phase, self.status, state)

    def to_json(self) -> dict[str, JSON]:
        """Clouddriver's `DefaultTaskStatus` as the `status` field shows it (`state` itself is not serialised)."""
        return {
            "phase": self.phase,
            "status": self.status,
            "complete": self.state.completed,
            "completed": self.state.completed,
            "failed": self.state.failed,
            "retryable": self.state.retryable,
        }

    def to_history_json(self) -> dict[str, JSON]:
        """A history entry exposes only phase and status (`TaskDisplayStatus`)."""
        return {"phase": self.phase, "status": self.status}

    def to_record(self) -> dict[str, str]:
        """The stored form (Redis `taskHistory:{id}` entries)."""
        return {"phase": self.phase, "status": self.status, "state": self.state.value}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> TaskStatus:
        return cls(str(data["phase"]), str(data["status"]), TaskState(data["state"]))


@dataclass(frozen=True, slots=True)
class SagaId:
    """A saga attached to a task: `name` is the saga's type (e.g. `TitusDeployHandler`), `id` its instance."""

    name: str
    id: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SagaId:
        return cls(name=str(data["name"]), id=str(data["id"]))


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as one read saw it.

    `hide_terminal_entry` reproduces `JedisTask.getHistory`: Redis hides the final history entry when it is the
    terminal-state copy of the previous one; the in-memory task shows it (its history ends with the last message
    twice, as SQL's does). `request_id` is null whenever Clouddriver's repository would report null.
    """

    id: str
    status: TaskStatus
    history: tuple[TaskStatus, ...]
    result_objects: tuple[Mapping[str, JSON], ...] = ()
    saga_ids: tuple[SagaId, ...] = ()
    owner_id: str = OWNER_ID
    request_id: str | None = None
    start_time_ms: int = 0
    operations: tuple[Mapping[str, JSON], ...] = field(default=(), compare=False)
    hide_terminal_entry: bool = False

    @property
    def state(self) -> TaskState:
        return self.status.state

    @property
    def retryable(self) -> bool:
        return self.status.state.failed and self.status.state.retryable

    def visible_history(self) -> Sequence[TaskStatus]:
        if self.hide_terminal_entry and self.history and self.history[-1].state.completed:
            return self.history[:-1]
        return self.history

    def to_json(self) -> dict[str, JSON]:
        """Clouddriver's task JSON; `status` and `history` first, as `JedisTask`'s `@JsonPropertyOrder`."""
        return {
            "status": self.status.to_json(),
            "history": [h.to_history_json() for h in self.visible_history()],
            "id": self.id,
            "ownerId": self.owner_id,
            "requestId": self.request_id,
            "startTimeMs": self.start_time_ms,
            "sagaIds": [s.to_json() for s in self.saga_ids],
            "resultObjects": [dict(r) for r in self.result_objects],
            "outputs": [],
            "retryable": self.retryable,
        }
