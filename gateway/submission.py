"""Resolving a submitted `/ops` body into operation specs, synchronously, before any task exists (pure).

Validation is Clouddriver's and the legacy service's: the catalogue parses the list (`parse_operation_list`) and
`check_world` checks each operation's accounts and regions against the cloud's, and every problem comes back at
once as a `ValidationFailed` (400) whose paths read `[i].opName.field`. Each valid operation then gets its
routing dimensions and its stable operation id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from cloud.catalogue import CloudOperation, FieldError, check_world, parse_operation_list, parse_server_group_name
from cloud.model import Account
from clouddriver_wire.errors import ValidationFailed
from gateway.model import OpSpec

__all__ = ["MAX_DIMENSION", "application_of", "operation_id_for", "resolve_operations"]

MAX_DIMENSION = 200
_DRY_RUN = "dryRun"
_STAGE_TYPE = "stageType"


def operation_id_for(client_request_id: str, position: int) -> str:
    """The operation id of the operation at `position` of the list submitted under `client_request_id`.

    Deterministic, so a retried POST and a restarted gateway name the same operation, and both paths (which are
    idempotent on the operation id) never run it twice. Hashed, so any clientRequestId fits a workflow id.
    """
    digest = hashlib.sha256(client_request_id.encode()).hexdigest()[:40]
    return f"gw-{digest}-{position}"


def application_of(context: Mapping[str, Any], operation: CloudOperation) -> str:
    """The application: `application`, else `moniker.app`, else parsed from `serverGroupName` / `asgName`."""
    app = context.get("application")
    if isinstance(app, str) and app:
        return app
    moniker = context.get("moniker")
    if isinstance(moniker, Mapping) and isinstance(moniker.get("app"), str) and moniker["app"]:
        return str(moniker["app"])
    for key in ("serverGroupName", "asgName"):
        name = context.get(key)
        if isinstance(name, str):
            try:
                return parse_server_group_name(name).app
            except ValueError:
                continue
    return operation.application


def _own_key_errors(body: Sequence[Any]) -> list[FieldError]:
    """What the catalogue does not check: `dryRun` (the gateway runs operations for real) and `stageType`."""
    errors = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping) or len(item) != 1:
            continue
        ((name, context),) = item.items()
        if not isinstance(context, Mapping):
            continue
        prefix = f"[{i}].{name}"
        dry_run = context.get(_DRY_RUN, False)
        if not isinstance(dry_run, bool):
            errors.append(FieldError(f"{prefix}.{_DRY_RUN}", "dryRun must be true or false (a JSON boolean)", "type"))
        elif dry_run:
            message = (
                "the gateway runs operations for real and does not take dry runs: send dry runs to the legacy "
                "service, or compare the paths with the router's shadow stage"
            )
            errors.append(FieldError(f"{prefix}.{_DRY_RUN}", message, "invalid"))
        stage_type = context.get(_STAGE_TYPE)
        if stage_type is not None and (not isinstance(stage_type, str) or not stage_type):
            message = "stageType must be a non-empty string naming the pipeline stage type (or be left out)"
            errors.append(FieldError(f"{prefix}.{_STAGE_TYPE}", message, "type"))
    return errors


def _credentials_message(error: FieldError) -> FieldError:
    # Clouddriver's AbstractAtomicOperationsCredentialsConverter says "credentials not found"; so does the legacy
    # service, so a caller sees the same 400 whichever path would have run the operation.
    if error.code != "unknown_account":
        return error
    return FieldError(error.path, f"credentials not found: {error.message}", error.code)


def resolve_operations(
    body: Any,
    provider: str | None,
    accounts: Sequence[Account],
    *,
    client_request_id: str,
    stage_type: str | None = None,
) -> tuple[OpSpec, ...]:
    """Every operation of a `/ops` body with its routing dimensions; raises ValidationFailed listing every error.

    `provider` is the URL's (`/{provider}/ops`), or None for `/ops` (then each operation's `cloudProvider`).
    `stage_type` is the request's stage type header; an operation's own `stageType` wins over it.
    """
    operations, parse_errors = parse_operation_list(body, provider=provider)
    errors = list(parse_errors)
    if isinstance(body, list):
        errors.extend(_own_key_errors(body))
    if errors or not operations:
        raise ValidationFailed([e.to_json() for e in errors])
    specs = []
    for i, (item, operation) in enumerate(zip(body, operations, strict=True)):
        ((name, context),) = item.items()
        prefix = f"[{i}].{name}"
        for error in check_world(operation, accounts):
            error = _credentials_message(error)
            errors.append(FieldError(f"{prefix}.{error.path}" if error.path else prefix, error.message, error.code))
        credentials = context.get("credentials")
        specs.append(
            OpSpec(
                position=i,
                operation_id=operation_id_for(client_request_id, i),
                name=str(operation.name),
                provider=operation.provider,
                account=credentials if isinstance(credentials, str) and credentials else operation.account,
                application=application_of(context, operation),
                stage_type=context.get(_STAGE_TYPE) or stage_type or str(operation.name),
                class_name=type(operation).__name__,
                context=dict(context),
            )
        )
    errors.extend(_dimension_errors(specs, body))
    if errors:
        raise ValidationFailed([e.to_json() for e in errors])
    return tuple(specs)


def _dimension_errors(specs: Sequence[OpSpec], body: Sequence[Any]) -> list[FieldError]:
    """Flag dimensions are at most 200 characters: a longer application or stage type could match no scope."""
    errors = []
    for spec in specs:
        prefix = f"[{spec.position}].{spec.name}"
        context = body[spec.position][spec.name]
        for dimension, value in (("application", spec.application), ("stageType", spec.stage_type)):
            if len(value) > MAX_DIMENSION:
                key = dimension if dimension in context else ""
                message = f"the {dimension} {value[:40]!r}... is {len(value)} characters long: at most {MAX_DIMENSION}"
                errors.append(FieldError(f"{prefix}.{key}" if key else prefix, message, "range"))
    return errors
