"""The error tree both Clouddriver-speaking services answer with, each error mapped to an HTTP status and Spring's
error map, as Clouddriver (through kork's GenericExceptionHandlers and Spring Boot's DefaultErrorAttributes)
answers.

    ClouddriverError             base: 500, `{timestamp, status, error, message, errors}`
    ├── InvalidRequest           400: the request is wrong; `errors` says each thing to fix
    │   └── ValidationFailed     400 "Validation Failed", with `fieldErrors` (`[i].opName.field` paths), as
    │                            Clouddriver's DescriptionValidationException
    ├── TaskNotFound             404 "Task not found (id: X)"; `task_id`
    ├── TaskNotRetryable         409: `:resume` on a task that is not FAILED_RETRYABLE; `task_id`
    └── ServiceUnavailable       503: something the service depends on (the cloud's accounts, a service behind it)
                                 cannot be reached; retrying later can help

Clouddriver answers `:resume` on a non-retryable task with a 500 (a ConstraintViolationException without a
response status); these services answer 409, because a client mistake must never look like a server fault. Orca
treats both the same way (it swallows any resume error but 404).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

__all__ = [
    "ClouddriverError",
    "InvalidRequest",
    "ServiceUnavailable",
    "TaskNotFound",
    "TaskNotRetryable",
    "ValidationFailed",
    "error_body",
    "error_message",
]


def error_body(
    status: int, message: str, errors: Sequence[str] = (), extra: Mapping[str, Any] | None = None
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


def error_message(body: Any) -> str:
    """The message of an error map a Clouddriver answered (`message`, else `error`); "" when `body` is not one."""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return ""


class ClouddriverError(Exception):
    """Base of every error a Clouddriver-speaking service answers with; `status` is its HTTP status."""

    status: int = 500

    def __init__(self, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors = tuple(errors)

    def extra(self) -> dict[str, Any]:
        """Keys the error adds to Spring's error map (none by default)."""
        return {}

    def to_json(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.errors, self.extra())


class InvalidRequest(ClouddriverError):
    status = 400


class ValidationFailed(InvalidRequest):
    """The operation list did not validate; `field_errors` keeps each error's path, message and code."""

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

    def __init__(self, task_id: str, message: str | None = None) -> None:
        super().__init__(
            message or f"Task is not retryable (id: {task_id}): only a FAILED_RETRYABLE task can be resumed"
        )
        self.task_id = task_id


class ServiceUnavailable(ClouddriverError):
    status = 503
