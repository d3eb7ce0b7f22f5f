"""Result objects a task carries besides an operation's own: the executed plan, and the EXCEPTION summary.

The EXCEPTION object is kork's `ExceptionSummary` as Clouddriver's orchestration processor fills it
(`type`, `operation`, `message`, `cause`, `details`, `retryable`); `details[*].additionalAttributes` carries the
cloud error's stable `code` so a client can tell a rejection from an infrastructure failure. The plan object
(`type: cloudops.plan`) is this toolkit's: the router's shadow comparison reads it; Orca ignores types it does
not know.
"""

from __future__ import annotations

from cloud.errors import CloudError, CloudRejection
from cloud.model import JSON
from cloud.plan import Plan

__all__ = ["EXCEPTION_TYPE", "PLAN_TYPE", "exception_summary", "plan_object"]

EXCEPTION_TYPE = "EXCEPTION"
PLAN_TYPE = "cloudops.plan"


def plan_object(plan: Plan, dry_run: bool) -> dict[str, JSON]:
    return {"type": PLAN_TYPE, "plan": plan.to_json(), "dryRun": dry_run}


def _category(error: BaseException) -> str:
    if isinstance(error, CloudRejection):
        return "rejection"
    if isinstance(error, CloudError):
        return "transient" if error.retryable else "cloud"
    return "internal"


def exception_summary(operation: str, error: BaseException) -> dict[str, JSON]:
    """The EXCEPTION result object for `error`, raised by the operation whose class name is `operation`."""
    message = str(error) or type(error).__name__
    attributes: dict[str, JSON] = {"exceptionClass": type(error).__name__, "category": _category(error)}
    retryable: bool | None = None
    if isinstance(error, CloudError):
        attributes.update(code=error.code, account=error.account, region=error.region, target=error.target)
        retryable = error.retryable
    detail = {"message": message, "userMessage": message, "retryable": retryable, "additionalAttributes": attributes}
    return {
        "type": EXCEPTION_TYPE,
        "operation": operation,
        "message": message,
        "cause": message,
        "details": [detail],
        "retryable": retryable,
    }
