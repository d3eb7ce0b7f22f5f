"""Whether the gateway takes a submitted `/ops` list itself or passes it to the upstream Clouddriver unchanged
(only with `--upstream`; pure but for the two callables it is given).

A list is taken only when every operation in it is one the catalogue knows, the list validates (the catalogue and
the upstream's accounts), and the router sends some operation of it to the durable path: as its authoritative
path, or as the dry-run shadow that compares the paths. Otherwise the whole list goes to the upstream, as it
came, and the upstream's answer (its own task id, its own 400) is the caller's. Every verdict carries its reason,
and every operation of the list its name, so the gateway can count what share of the traffic the durable path
could take at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cloud.catalogue import PROVIDERS, parse_server_group_name, supported_operations
from cloud.model import Account
from clouddriver_wire.errors import ServiceUnavailable, ValidationFailed
from gateway.model import OpSpec
from gateway.submission import resolve_operations
from router.contract import OperationRequest, Path
from router.policy import Route

__all__ = ["Admission", "Listed", "Reason", "admit", "listed_operations", "request_of"]

_MAX_LABEL = 200


class Reason(StrEnum):
    """Why a list was taken or passed through (the `reason` label of the gateway's counters)."""

    DURABLE = "durable"  # taken: the router runs an operation of it on the durable path
    SHADOW = "shadow"  # taken: legacy runs it, the durable path shadows it in dry run
    TAKEN_BEFORE = "taken_before"  # taken: this clientRequestId was taken before (a retried POST)
    UNKNOWN_OPERATION = "unknown_operation"  # passed: the catalogue does not know an operation of it
    INVALID = "invalid"  # passed: the catalogue or the accounts reject it; the upstream answers as it does
    LEGACY = "legacy"  # passed: the router keeps every operation of it on legacy, without a durable shadow
    UNREADABLE = "unreadable"  # passed: not a JSON list of one-key maps within the gateway's body limit
    PASSED_BEFORE = "passed_before"  # passed: this clientRequestId went to the upstream before; its retries follow
    ACCOUNTS_UNAVAILABLE = "accounts_unavailable"  # passed: no account list to validate it against

    @property
    def taken(self) -> bool:
        return self in (Reason.DURABLE, Reason.SHADOW, Reason.TAKEN_BEFORE)


@dataclass(frozen=True, slots=True)
class Listed:
    """One operation of a submitted list, as far as it can be read without validating it (for the records)."""

    position: int
    name: str
    provider: str
    account: str
    application: str
    known: bool  # whether the catalogue knows this operation for this provider


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one submitted list: taken (`reason.taken`) or passed through, and its operations."""

    reason: Reason
    operations: tuple[Listed, ...] = ()

    @property
    def taken(self) -> bool:
        return self.reason.taken


def _text(value: Any) -> str:
    return value[:_MAX_LABEL] if isinstance(value, str) else ""


def _application(context: Mapping[str, Any]) -> str:
    if _text(context.get("application")):
        return _text(context["application"])
    moniker = context.get("moniker")
    if isinstance(moniker, Mapping) and _text(moniker.get("app")):
        return _text(moniker["app"])
    for key in ("serverGroupName", "asgName"):
        name = context.get(key)
        if isinstance(name, str):
            try:
                return parse_server_group_name(name).app[:_MAX_LABEL]
            except ValueError:
                continue
    return ""


def listed_operations(body: Any, provider: str | None) -> tuple[Listed, ...] | None:
    """Each operation of a `/ops` body with what can be read of it; None when the body is not a non-empty list of
    one-key maps whose values are maps (the provider is the URL's, else each operation's `cloudProvider`)."""
    if not isinstance(body, list) or not body:
        return None
    found = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping) or len(item) != 1:
            return None
        ((name, context),) = item.items()
        if not isinstance(context, Mapping):
            return None
        op_provider = provider or _text(context.get("cloudProvider"))
        known = op_provider in PROVIDERS and name in supported_operations(op_provider)
        account = _text(context.get("credentials")) or _text(context.get("account"))
        found.append(Listed(i, str(name)[:_MAX_LABEL], op_provider, account, _application(context), known))
    return tuple(found)


def request_of(spec: OpSpec, execution_id: str | None) -> OperationRequest:
    """The router's request for a resolved operation, for its routing decision (its context as submitted)."""
    return OperationRequest(
        operation_id=spec.operation_id,
        operation=spec.name,
        stage_type=spec.stage_type,
        account=spec.account,
        application=spec.application,
        provider=spec.provider,
        context=dict(spec.context),
        execution_id=execution_id,
    )


def admit(
    body: Any,
    provider: str | None,
    *,
    accounts: Callable[[], Sequence[Account]],
    decide: Callable[[OperationRequest], Route],
    client_request_id: str,
    stage_type: str | None = None,
    execution_id: str | None = None,
) -> Admission:
    """The verdict on a parsed `/ops` body; see the module docstring. `accounts` may raise ServiceUnavailable;
    `decide` is the router's decision (`RoutingRunner.decide`), which never raises."""
    listed = listed_operations(body, provider)
    if listed is None:
        return Admission(Reason.UNREADABLE)
    if not all(op.known for op in listed):
        return Admission(Reason.UNKNOWN_OPERATION, listed)
    try:
        known_accounts = accounts()
    except ServiceUnavailable:
        return Admission(Reason.ACCOUNTS_UNAVAILABLE, listed)
    try:
        specs = resolve_operations(
            body, provider, known_accounts, client_request_id=client_request_id, stage_type=stage_type
        )
    except ValidationFailed:
        return Admission(Reason.INVALID, listed)
    routes = [decide(request_of(spec, execution_id)) for spec in specs]
    if any(r.primary is Path.DURABLE for r in routes):
        return Admission(Reason.DURABLE, listed)
    if any(r.shadow is Path.DURABLE for r in routes):
        return Admission(Reason.SHADOW, listed)
    return Admission(Reason.LEGACY, listed)
