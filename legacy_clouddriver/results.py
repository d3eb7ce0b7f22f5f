"""The legacy service's plan and EXCEPTION result objects, from its own values (a `Plan`, a raised error).

The shapes are Clouddriver's wire format (`clouddriver_wire.results`); this module only says what of a cloud error
goes into them: its stable `code`, account, region and target, and whether it is a rejection.
"""

from __future__ import annotations

from typing import Any

from cloud.errors import CloudError, CloudRejection
from cloud.plan import Plan
from clouddriver_wire import results

__all__ = ["exception_summary", "plan_object"]


def plan_object(plan: Plan, dry_run: bool) -> dict[str, Any]:
    return results.plan_object(plan.to_json(), dry_run=dry_run)


def _category(error: BaseException) -> str:
    if isinstance(error, CloudRejection):
        return "rejection"
    if isinstance(error, CloudError):
        return "transient" if error.retryable else "cloud"
    return "internal"


def exception_summary(operation: str, error: BaseException) -> dict[str, Any]:
    """The EXCEPTION result object for `error`, raised by the operation whose class name is `operation`."""
    message = str(error) or type(error).__name__
    attributes: dict[str, Any] = {"exceptionClass": type(error).__name__, "category": _category(error)}
    retryable: bool | None = None
    if isinstance(error, CloudError):
        attributes.update(code=error.code, account=error.account, region=error.region, target=error.target)
        retryable = error.retryable
    return results.exception_summary(operation, message, retryable=retryable, attributes=attributes)
