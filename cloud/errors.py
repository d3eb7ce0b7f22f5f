"""The cloud package's exception tree, split by what the caller can do about each case.

    CloudError                      base; carries `code`, `account`, `region`, `target`
    ├── TransientCloudError         retry the same call with the same idempotency token
    │   ├── Throttled               the API rate-limited the call; nothing was applied
    │   ├── CloudServerError        a 5xx; nothing was applied
    │   ├── CloudTimeout            no answer: the call may or may not have been applied (retry with the same token)
    │   └── CloudUnavailable        the account or region is failing hard (an outage): retry later
    └── CloudRejection              a business failure: the same call would be refused again
        ├── UnknownAccount
        ├── UnknownRegion
        ├── NotFound
        ├── AlreadyExists
        ├── CapacityOutOfBounds
        ├── IdempotencyConflict     a token was reused for a different request
        └── InvalidRequest

Every error has a stable `code`, which is what travels over HTTP (`to_json` / `error_from_json`) and what the
durable path uses as the Temporal ApplicationError type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "CapacityOutOfBounds",
    "CloudError",
    "CloudRejection",
    "CloudServerError",
    "CloudTimeout",
    "CloudUnavailable",
    "IdempotencyConflict",
    "InvalidRequest",
    "NotFound",
    "Throttled",
    "TransientCloudError",
    "UnknownAccount",
    "UnknownRegion",
    "error_from_json",
]


class CloudError(Exception):
    """Base of every error a CloudProvider raises."""

    code: ClassVar[str] = "CloudError"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, account: str = "", region: str = "", target: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.account = account
        self.region = region
        self.target = target

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "account": self.account,
            "region": self.region,
            "target": self.target,
        }


class TransientCloudError(CloudError):
    """A failure that says nothing about the request itself: the same call may succeed later."""

    code = "TransientCloudError"
    retryable = True


class Throttled(TransientCloudError):
    code = "Throttling"


class CloudServerError(TransientCloudError):
    code = "ServiceUnavailable"


class CloudTimeout(TransientCloudError):
    """No response arrived. The mutation may have been applied: only a retry with the same token is safe."""

    code = "RequestTimeout"


class CloudUnavailable(TransientCloudError):
    code = "Unavailable"


class CloudRejection(CloudError):
    """The cloud refused the request: a business failure that retrying will not fix."""

    code = "Rejected"


class UnknownAccount(CloudRejection):
    code = "UnknownAccount"


class UnknownRegion(CloudRejection):
    code = "UnknownRegion"


class NotFound(CloudRejection):
    code = "NotFound"


class AlreadyExists(CloudRejection):
    code = "AlreadyExists"


class CapacityOutOfBounds(CloudRejection):
    code = "CapacityOutOfBounds"


class IdempotencyConflict(CloudRejection):
    code = "IdempotencyConflict"


class InvalidRequest(CloudRejection):
    code = "InvalidRequest"


_BY_CODE: dict[str, type[CloudError]] = {
    cls.code: cls
    for cls in (
        CloudError,
        TransientCloudError,
        Throttled,
        CloudServerError,
        CloudTimeout,
        CloudUnavailable,
        CloudRejection,
        UnknownAccount,
        UnknownRegion,
        NotFound,
        AlreadyExists,
        CapacityOutOfBounds,
        IdempotencyConflict,
        InvalidRequest,
    )
}


def error_from_json(data: Mapping[str, Any]) -> CloudError:
    """Rebuild the error `CloudError.to_json` produced; an unknown code becomes a plain CloudError."""
    cls = _BY_CODE.get(str(data.get("code", "")), CloudError)
    return cls(
        str(data.get("message", "")),
        account=str(data.get("account", "")),
        region=str(data.get("region", "")),
        target=str(data.get("target", "")),
    )
