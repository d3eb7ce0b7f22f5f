"""The result objects a Clouddriver task carries besides an operation's own, written once for every side that builds
or reads them: the legacy service and the gateway build them, the router's LegacyRunner reads them.

- The EXCEPTION object is kork's `ExceptionSummary` as Clouddriver's orchestration processor fills it (`type`,
  `operation`, `message`, `cause`, `details`, `retryable`). `details[0].additionalAttributes` carries what a client
  needs to classify the failure: `category` (`rejection` when the caller must change something; `cloud`,
  `transient` or `internal` otherwise) and the cloud error's stable `code`.
- The plan object (`type: cloudops.plan`) is this toolkit's own: the shadow comparison reads the plan the
  authoritative path executed (or planned, in a dry run). Orca ignores result object types it does not know.

Everything else in `resultObjects` is the operation's own output, which Orca reads (`serverGroupNames`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "EXCEPTION_TYPE",
    "PLAN_TYPE",
    "exception_attributes",
    "exception_of",
    "exception_summary",
    "last_plan",
    "own_results",
    "plan_object",
]

EXCEPTION_TYPE = "EXCEPTION"
PLAN_TYPE = "cloudops.plan"
_NOT_OWN = (PLAN_TYPE, EXCEPTION_TYPE)


def plan_object(plan: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """The result object that carries an operation's plan (`cloud.plan.Plan.to_json()`)."""
    return {"type": PLAN_TYPE, "plan": dict(plan), "dryRun": dry_run}


def exception_summary(
    operation: str, message: str, *, retryable: bool | None, attributes: Mapping[str, Any]
) -> dict[str, Any]:
    """kork's ExceptionSummary for a failure raised by the operation whose class name is `operation`."""
    detail = {
        "message": message,
        "userMessage": message,
        "retryable": retryable,
        "additionalAttributes": dict(attributes),
    }
    return {
        "type": EXCEPTION_TYPE,
        "operation": operation,
        "message": message,
        "cause": message,
        "details": [detail],
        "retryable": retryable,
    }


def own_results(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The operations' own result objects, in order: what Orca reads, without plan or EXCEPTION objects."""
    return [dict(r) for r in results if r.get("type") not in _NOT_OWN]


def last_plan(results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The last plan among a task's result objects (what the task executed, or planned in a dry run)."""
    plans = [r.get("plan") for r in results if r.get("type") == PLAN_TYPE and isinstance(r.get("plan"), dict)]
    return plans[-1] if plans else None


def exception_of(results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The task's EXCEPTION object, if it has one."""
    return next((r for r in results if r.get("type") == EXCEPTION_TYPE), None)


def exception_attributes(exception: Mapping[str, Any]) -> Mapping[str, Any]:
    """`additionalAttributes` of an EXCEPTION object's first detail ({} when it has none)."""
    details = exception.get("details") or [{}]
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    attributes = first.get("additionalAttributes")
    return attributes if isinstance(attributes, dict) else {}
