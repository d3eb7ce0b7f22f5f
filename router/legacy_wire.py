"""What LegacyRunner sends to a Clouddriver-compatible service and how it reads the answers, without the HTTP calls.

The submit is Orca's: `POST /{provider}/ops?clientRequestId=<sha256 of the operation id>` with the body
`[{operation: description}]`, where the description is the stage context with `credentials` and `cloudProvider`
filled in. Two of `RunOptions` travel in it, as the legacy service has always received them: a dry run as
`"dryRun": true` (with its own clientRequestId, so a dry run and the real run never dedupe into each other), and
the routing decision as `"cloudops.decision"`, kept with the task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from clouddriver_wire.results import PLAN_TYPE, last_plan, own_results
from router.contract import ErrorKind, OperationError, OperationRequest, RunOptions
from router.legacy_monitor import message_of
from router.orca_outputs import orca_outputs

__all__ = [
    "DECISION_KEY",
    "DRY_RUN_KEY",
    "client_request_id",
    "context_dry_run_error",
    "description",
    "json_of",
    "outputs_from_results",
    "rejection_errors",
]

DRY_RUN_KEY = "dryRun"
"""The description's dry-run flag (legacy_clouddriver reads it): set from `RunOptions.dry_run`, never from a caller."""

DECISION_KEY = "cloudops.decision"
"""Where the routing decision travels in the description, so the legacy task keeps it."""


def client_request_id(operation_id: str, dry_run: bool = False) -> str:
    """Deterministic per operation (and distinct for its dry run), so a retried submit finds the same task."""
    return hashlib.sha256(f"{operation_id}{':dryRun' if dry_run else ''}".encode()).hexdigest()


def context_dry_run_error(request: OperationRequest, options: RunOptions) -> OperationError | None:
    """A context that asks for a dry run the options do not: refused, never run (for real or under the real run's
    clientRequestId, which would dedupe the real run into the plan)."""
    if request.context.get(DRY_RUN_KEY) is True and not options.dry_run:
        message = "dryRun in the stage context is not a run option: pass RunOptions(dry_run=True) to plan only"
        return OperationError(ErrorKind.VALIDATION, message, "invalid", DRY_RUN_KEY)
    return None


def description(request: OperationRequest, options: RunOptions) -> dict[str, Any]:
    """The operation's description as the legacy service receives it."""
    context = request.operation_context()
    if request.provider:
        context.setdefault("cloudProvider", request.provider)
    if options.dry_run:
        context[DRY_RUN_KEY] = True
    if options.decision is not None:
        context[DECISION_KEY] = options.decision.to_json()
    return context


def rejection_errors(operation: str, status: int, body: Any) -> tuple[OperationError, ...]:
    """The validation errors of a 400/422 answer to a submit: one per field when the body names them."""
    errors: list[OperationError] = []
    prefix = f"[0].{operation}"
    if isinstance(body, dict) and isinstance(body.get("fieldErrors"), list):
        for fe in body["fieldErrors"]:
            path = str(fe.get("path", ""))
            field = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else ("" if path == prefix else path)
            errors.append(
                OperationError(ErrorKind.VALIDATION, str(fe.get("message", "")), str(fe.get("code", "")), field)
            )
    elif isinstance(body, dict) and body.get("errors"):
        errors = [OperationError(ErrorKind.VALIDATION, str(m), f"http_{status}") for m in body["errors"]]
    if not errors:
        errors = [OperationError(ErrorKind.VALIDATION, f"HTTP {status}: {message_of(body)}", f"http_{status}")]
    return tuple(errors)


def outputs_from_results(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A finished task's outputs from its result objects: the operation's own, plus the keys Orca derives
    (`router.orca_outputs`, the one place both paths build them)."""
    dry_run = any(r.get("type") == PLAN_TYPE and r.get("dryRun") is True for r in results)
    return orca_outputs(own_results(results), last_plan(results), dry_run=dry_run)


def json_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
