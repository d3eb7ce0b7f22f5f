"""The legacy_clouddriver exception tree, each mapped to an HTTP status and a Spring-style JSON error body.

    ClouddriverError                    base: 500, `{timestamp, status, error, message, errors}`
    ├── InvalidRequest                  400: the request is wrong; `errors` says each thing to fix
    │   └── DescriptionValidationError  400 "Validation Failed" (Clouddriver's DescriptionValidationException);
    │                                   also unknown operation, provider or account
    ├── TaskNotFound                    404 "Task not found (id: X)"; `task_id`
    ├── TaskNotRetryable                409: `:resume` on a task that is not FAILED_RETRYABLE; `task_id`
    ├── ServiceUnavailable              503: a dependency (the cloud's account list) cannot be reached
    └── TaskLost                        500: the repository maps a clientRequestId to a task that is gone
    TaskAlreadyCompleted                (internal, not an HTTP error) a write to a completed task, as Clouddriver's
                                        "Task is already completed! No further updates allowed!"

Clouddriver answers `:resume` on a non-retryable task with a 500 (a ConstraintViolationException without a
response status); this service answers 409, because a client mistake must never look like a server fault. Orca
treats both the same way (it swallows any resume error but 404).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

__all__ = [
    "ClouddriverError",
    "DescriptionValidationError",
    "InvalidRequest",
    "ServiceUnavailable",
    "TaskAlreadyCompleted",
    "TaskLost",
    "TaskNotFound",
    "TaskNotRetryable",
    "error_body",
]


def error_body(
    status: int,
    message: str,
    errors: Sequence[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Spring Boot's error map as kork's handlers return it; `extra` adds keys Orca ignores."""
    body: dict[str, Any] = {
        "timestamp": int(time.time() * 1000),
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
        "errors": list(errors),
    }
    body.update(extra or {})
    return body


class ClouddriverError(Exception):
    """Base of every error this service raises; `status` is the HTTP status it answers with."""

    status: int = 500

    def __init__(self, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors = tuple(errors)

    def extra(self) -> dict[str, Any]:
        return {}

    def to_json(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.errors, self.extra())


class InvalidRequest(ClouddriverError):
    status = 400


class DescriptionValidationError(InvalidRequest):
    """Validation of the operation list failed. `field_errors` keeps each error's path, message and code."""

    def __init__(self, field_errors: Sequence[Mapping[str, str]]) -> None:
        self.field_errors = tuple(dict(e) for e in field_errors)
        messages = [f"{e['path']}: {e['message']}" if e.get("path") else e["message"] for e in self.field_errors]
        super().__init__("Validation Failed", errors=messages)

    def extra(self) -> dict[str, Any]:
        return {"fieldErrors": [dict(e) for e in self.field_errors]}


class TaskNotFound(ClouddriverError):
    status = 404

    def __init__(self, task_id: str, message: str | None = None) -> None:
        super().__init__(message or f"Task not found (id: {task_id})")
        self.task_id = task_id


class TaskNotRetryable(ClouddriverError):
    status = 409

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task is not retryable (id: {task_id}): only a FAILED_RETRYABLE task can be resumed")
        self.task_id = task_id


class ServiceUnavailable(ClouddriverError):
    status = 503


class TaskLost(ClouddriverError):
    """`kato:taskmap:{clientRequestId}` names a task whose keys expired: Clouddriver fails this POST too."""

    status = 500

    def __init__(self, client_request_id: str, task_id: str) -> None:
        super().__init__(
            f"clientRequestId {client_request_id} maps to task {task_id}, which no longer exists (expired); "
            "submit with a new clientRequestId"
        )
        self.client_request_id = client_request_id
        self.task_id = task_id


class TaskAlreadyCompleted(Exception):
    """A status update on a completed task (Clouddriver's IllegalStateException from `ensureUpdateable`)."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Task is already completed! No further updates allowed! (id: {task_id})")
        self.task_id = task_id
