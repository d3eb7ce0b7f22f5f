"""Parse Clouddriver operation bodies into typed operations: one `{name: context}` or the `/ops` list.

Pure and total: for any JSON value these return values, never raise, and report every problem at once.
The provider is the one in Clouddriver's URL path (`/{provider}/ops`) when given, else the context's
`cloudProvider`, as Clouddriver's `OperationsService` resolves it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cloud.catalogue.allow_launch import parse_allow_launch
from cloud.catalogue.clone import parse_clone
from cloud.catalogue.deploy import parse_create
from cloud.catalogue.errors import ErrorCode, FieldError, ParseResult, prefix_errors
from cloud.catalogue.fields import Fields, describe
from cloud.catalogue.instances import parse_terminate
from cloud.catalogue.load_balancers import parse_delete_load_balancer, parse_upsert_load_balancer
from cloud.catalogue.operation import PROVIDERS, CloudOperation, OperationName
from cloud.catalogue.readers import read_account
from cloud.catalogue.server_groups import parse_resize, parse_target

__all__ = ["parse_operation", "parse_operation_list", "supported_operations"]

_Parser = Callable[[Fields, str, str | None], CloudOperation | None]
_N = OperationName
_PARSERS: dict[OperationName, _Parser] = {
    _N.CREATE_SERVER_GROUP: parse_create,
    _N.CLONE_SERVER_GROUP: parse_clone,
    _N.RESIZE_SERVER_GROUP: parse_resize,
    _N.ENABLE_SERVER_GROUP: lambda f, p, a: parse_target(_N.ENABLE_SERVER_GROUP, f, p, a),
    _N.DISABLE_SERVER_GROUP: lambda f, p, a: parse_target(_N.DISABLE_SERVER_GROUP, f, p, a),
    _N.DESTROY_SERVER_GROUP: lambda f, p, a: parse_target(_N.DESTROY_SERVER_GROUP, f, p, a),
    _N.TERMINATE_INSTANCES: parse_terminate,
    _N.UPSERT_LOAD_BALANCER: parse_upsert_load_balancer,
    _N.DELETE_LOAD_BALANCER: parse_delete_load_balancer,
    _N.ALLOW_LAUNCH: lambda f, p, a: parse_allow_launch(f, p),
}
# Titus has no load balancer or AMI operations of its own (it attaches to AWS target groups).
_NOT_ON = {"titus": {_N.UPSERT_LOAD_BALANCER, _N.DELETE_LOAD_BALANCER, _N.ALLOW_LAUNCH}}


def supported_operations(provider: str) -> tuple[OperationName, ...]:
    """The operations the catalogue parses for `provider` (none for an unknown provider)."""
    if provider not in PROVIDERS:
        return ()
    return tuple(op for op in OperationName if op not in _NOT_ON.get(provider, set()))


def parse_operation(name: str, context: Any, *, provider: str | None = None) -> ParseResult:
    """The typed operation `name` from its untyped `context`, or every problem with it. Never raises."""
    try:
        return _parse(name, context, provider)
    except Exception as exc:  # the contract is to never raise: a bug here becomes an error value, not a 500
        message = f"could not parse this operation ({type(exc).__name__}: {exc}); this is a catalogue bug: report it"
        return ParseResult(None, (FieldError("", message, ErrorCode.INTERNAL),))


def parse_operation_list(
    body: Any, *, provider: str | None = None
) -> tuple[tuple[CloudOperation, ...], tuple[FieldError, ...]]:
    """Clouddriver's `/ops` body, a non-empty list of one-key maps `{opName: context}`, in run order.

    Returns the operations and no errors, or no operations and every error, paths prefixed `[i].opName`.
    """
    example = 'such as [{"resizeServerGroup": {...}}]'
    if not isinstance(body, list):
        message = f"the body must be a JSON list of {{operationName: context}} objects {example}, got {describe(body)}"
        return (), (FieldError("", message, ErrorCode.TYPE),)
    if not body:
        return (), (FieldError("", f"the body lists no operations: send at least one, {example}", ErrorCode.REQUIRED),)
    operations: list[CloudOperation] = []
    errors: list[FieldError] = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping) or len(item) != 1:
            message = f"item {i} must be an object with exactly one key, the operation name, got {describe(item)}"
            if isinstance(item, Mapping):
                message += f" with {len(item)} keys"
            errors.append(FieldError(f"[{i}]", message, ErrorCode.INVALID))
            continue
        ((name, context),) = item.items()
        result = parse_operation(name, context, provider=provider)
        errors.extend(prefix_errors(f"[{i}].{name}", result.errors))
        if result.operation is not None:
            operations.append(result.operation)
    return (() if errors else tuple(operations)), tuple(errors)


def _parse(name: Any, context: Any, provider: Any) -> ParseResult:
    errors: list[FieldError] = []
    operation = _operation_name(name, errors)
    if not isinstance(context, Mapping):
        message = f"the context of an operation must be a JSON object, got {describe(context)}"
        errors.append(FieldError("", message, ErrorCode.TYPE))
        return ParseResult(None, tuple(errors))
    f = Fields(context, "", errors)
    cloud = _provider(f, provider)
    if operation is None or cloud is None:
        return ParseResult(None, tuple(errors))
    if operation in _NOT_ON.get(cloud, set()):
        supported = ", ".join(supported_operations(cloud))
        message = f"{cloud} has no {operation.value} operation: {cloud} supports {supported}"
        return ParseResult(None, (*errors, FieldError("", message, ErrorCode.UNKNOWN_OPERATION)))
    account = None if operation is _N.ALLOW_LAUNCH else read_account(f, cloud)
    parsed = _PARSERS[operation](f, cloud, account)
    if errors or parsed is None:
        if not errors:
            errors.append(FieldError("", f"{operation.value} could not be parsed", ErrorCode.INTERNAL))
        return ParseResult(None, tuple(errors))
    return ParseResult(parsed, ())


def _operation_name(name: Any, errors: list[FieldError]) -> OperationName | None:
    try:
        return OperationName(name)
    except (ValueError, TypeError):
        known = ", ".join(op.value for op in OperationName)
        shown = describe(name) if not isinstance(name, str) else repr(name)
        message = f"unknown operation {shown}: use one of {known}"
        errors.append(FieldError("", message, ErrorCode.UNKNOWN_OPERATION))
        return None


def _provider(f: Fields, provider: Any) -> str | None:
    declared = f.raw("cloudProvider")
    choices = " or ".join(repr(p) for p in PROVIDERS)
    if provider is not None:
        if provider not in PROVIDERS:
            f.fail(
                "", f"unknown cloud provider {provider!r}: post to /aws/ops or /titus/ops", ErrorCode.UNKNOWN_PROVIDER
            )
            return None
        if declared is not None and declared != provider:
            message = (
                f"'cloudProvider' is {describe(declared)} but the operation was sent for {provider!r}: make them agree"
            )
            f.fail("cloudProvider", message, ErrorCode.INVALID)
        return str(provider)
    if declared is None:
        f.missing("cloudProvider", f"say which cloud: set cloudProvider to {choices}, or post to /{{provider}}/ops")
        return None
    if not isinstance(declared, str):
        f.wrong_type("cloudProvider", f"a provider name ({choices})", declared)
        return None
    if declared not in PROVIDERS:
        f.fail(
            "cloudProvider",
            f"'cloudProvider' is {declared!r}, an unknown cloud provider: use {choices}",
            ErrorCode.UNKNOWN_PROVIDER,
        )
        return None
    return declared
