"""The legacy service's own errors, beside the shared tree of clouddriver_wire.errors (the HTTP errors both
Clouddriver-speaking services answer with: InvalidRequest, ValidationFailed, TaskNotFound, TaskNotRetryable,
ServiceUnavailable, under ClouddriverError).

    ClouddriverError (clouddriver_wire)
    ├── TaskLost                        500: the repository maps a clientRequestId to a task that is gone
    └── AccountNotFound                 404: `GET /credentials/{name}` of an account this service does not have
    TaskAlreadyCompleted                (internal, not an HTTP error) a write to a completed task, as Clouddriver's
                                        "Task is already completed! No further updates allowed!"
"""

from __future__ import annotations

from clouddriver_wire.errors import ClouddriverError

__all__ = ["AccountNotFound", "TaskAlreadyCompleted", "TaskLost"]


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


class AccountNotFound(ClouddriverError):
    """As Clouddriver's CredentialsController: `NotFoundException("Account does not exist (name: X)")`."""

    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"Account does not exist (name: {name})")
        self.name = name
