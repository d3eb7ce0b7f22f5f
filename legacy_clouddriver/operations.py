"""Resolving a Clouddriver `/ops` body into typed operations, synchronously, before any task exists.

Clouddriver converts each `{opName: input}` by name and provider, runs its validators and the account check, and
answers 400 with every error when one fails. Here the catalogue parses and validates, `check_world` checks
accounts and regions against the cloud's account list, and each resolved operation carries the Clouddriver class
name and history phase its provider's implementation uses, and whether it is saga-backed (Titus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloud.catalogue import CloudOperation, FieldError, check_world, parse_operation, parse_operation_list
from cloud.model import JSON, Account
from clouddriver_wire.errors import ValidationFailed

__all__ = ["Description", "ResolvedOperation", "describe", "resolve_operations", "resolve_single"]

DRY_RUN_KEY = "dryRun"


@dataclass(frozen=True, slots=True)
class Description:
    """How Clouddriver names one operation on one provider: the AtomicOperation class, its history phase, the
    label of its history lines ("Initializing Resize ASG operation for [...]...") and, for saga-backed
    operations, the saga's name."""

    class_name: str
    phase: str
    label: str
    saga_name: str | None = None


_AWS: dict[str, Description] = {
    "createServerGroup": Description("DeployAtomicOperation", "DEPLOY", "Deploy"),
    "cloneServerGroup": Description("CopyLastAsgAtomicOperation", "COPY_LAST_ASG", "Copy Last ASG"),
    "resizeServerGroup": Description("ResizeAsgAtomicOperation", "RESIZE", "Resize ASG"),
    "enableServerGroup": Description("EnableAsgAtomicOperation", "ENABLE_ASG", "Enable ASG"),
    "disableServerGroup": Description("DisableAsgAtomicOperation", "DISABLE_ASG", "Disable ASG"),
    "destroyServerGroup": Description("DestroyAsgAtomicOperation", "DESTROY_ASG", "Destroy ASG"),
    "terminateInstances": Description(
        "TerminateInstancesAtomicOperation", "TERMINATE_INSTANCES", "Terminate Instances"
    ),
    "upsertLoadBalancer": Description("UpsertAmazonLoadBalancerAtomicOperation", "CREATE_ELB", "Upsert Load Balancer"),
    "deleteLoadBalancer": Description(
        "DeleteAmazonLoadBalancerClassicAtomicOperation", "DELETE_ELB", "Delete Load Balancer"
    ),
    "allowLaunchDescription": Description("AllowLaunchAtomicOperation", "ALLOW_LAUNCH", "Allow Launch"),
}

_TITUS: dict[str, tuple[str, str]] = {
    "createServerGroup": ("DeployAtomicOperation", "Titus Deploy"),
    "cloneServerGroup": ("CloneTitusServerGroupAtomicOperation", "Clone Titus Server Group"),
    "resizeServerGroup": ("ResizeTitusServerGroupAtomicOperation", "Resize Titus Server Group"),
    "enableServerGroup": ("EnableTitusServerGroupAtomicOperation", "Enable Titus Server Group"),
    "disableServerGroup": ("DisableTitusServerGroupAtomicOperation", "Disable Titus Server Group"),
    "destroyServerGroup": ("DestroyTitusServerGroupAtomicOperation", "Destroy Titus Server Group"),
    "terminateInstances": ("TerminateTitusInstancesAtomicOperation", "Terminate Titus Instances"),
    "upsertLoadBalancer": ("UpsertTitusLoadBalancerAtomicOperation", "Upsert Load Balancer"),
    "deleteLoadBalancer": ("DeleteTitusLoadBalancerAtomicOperation", "Delete Load Balancer"),
}


def describe(provider: str, operation: str) -> Description:
    """Clouddriver's naming of `operation` on `provider`. Titus operations are sagas: the deploy's saga is named
    after its handler, the others after their class (AbstractSagaAtomicOperation uses the class's simple name),
    and their history lines carry the saga's name as phase."""
    fallback = f"{operation[:1].upper()}{operation[1:]}AtomicOperation"
    if provider == "titus":
        class_name, label = _TITUS.get(operation, (fallback, operation))
        if operation == "createServerGroup":
            return Description(class_name, "DEPLOY", label, "TitusDeployHandler")
        return Description(class_name, class_name, label, class_name)
    return _AWS.get(operation, Description(fallback, "ORCHESTRATION", operation))


@dataclass(frozen=True, slots=True)
class ResolvedOperation:
    """One validated operation of a request, with the raw op map (the whole stage context, extra keys kept)."""

    name: str
    provider: str
    operation: CloudOperation
    context: Mapping[str, JSON]
    dry_run: bool
    description: Description

    @property
    def saga_backed(self) -> bool:
        return self.description.saga_name is not None and not self.dry_run

    def to_json(self) -> dict[str, JSON]:
        """The op map as submitted, `{name: context}`: what a task keeps for reconstruction."""
        return {self.name: dict(self.context)}


def _dry_run_errors(body: Sequence[Any]) -> list[FieldError]:
    errors = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping):
            continue
        for name, context in item.items():
            if isinstance(context, Mapping) and DRY_RUN_KEY in context and not isinstance(context[DRY_RUN_KEY], bool):
                errors.append(
                    FieldError(f"[{i}].{name}.{DRY_RUN_KEY}", "dryRun must be true or false (a JSON boolean)", "type")
                )
    return errors


def _credentials_message(error: FieldError) -> FieldError:
    # Clouddriver's AbstractAtomicOperationsCredentialsConverter says "credentials not found" and names the account.
    if error.code != "unknown_account":
        return error
    return FieldError(error.path, f"credentials not found: {error.message}", error.code)


def resolve_operations(body: Any, provider: str | None, accounts: Sequence[Account]) -> tuple[ResolvedOperation, ...]:
    """Every operation of a `/ops` body, validated against the cloud's accounts; raises
    ValidationFailed listing every error (paths like `[0].resizeServerGroup.capacity.min`)."""
    operations, parse_errors = parse_operation_list(body, provider=provider)
    errors = list(parse_errors)
    if isinstance(body, list):
        errors.extend(_dry_run_errors(body))
    if errors or not operations:
        raise ValidationFailed([e.to_json() for e in errors] or [_empty_error()])
    resolved = []
    for i, (item, operation) in enumerate(zip(body, operations, strict=True)):
        ((name, context),) = item.items()
        prefix = f"[{i}].{name}"
        for error in check_world(operation, accounts):
            error = _credentials_message(error)
            path = f"{prefix}.{error.path}" if error.path else prefix
            errors.append(FieldError(path, error.message, error.code))
        resolved.append(
            ResolvedOperation(
                name=str(operation.name),
                provider=operation.provider,
                operation=operation,
                context=dict(context),
                dry_run=bool(context.get(DRY_RUN_KEY, False)),
                description=describe(operation.provider, str(operation.name)),
            )
        )
    if errors:
        raise ValidationFailed([e.to_json() for e in errors])
    return tuple(resolved)


def _empty_error() -> dict[str, str]:
    return FieldError("", "the body must be a non-empty JSON list of {operationName: {...}} maps", "invalid").to_json()


def resolve_single(name: str, context: Mapping[str, JSON], provider: str | None) -> ResolvedOperation:
    """Rebuild one operation from a saga's snapshot (no account check: it passed when the task was created)."""
    parsed = parse_operation(name, dict(context), provider=provider)
    if parsed.operation is None or parsed.errors:
        raise ValidationFailed([e.to_json() for e in parsed.errors])
    operation = parsed.operation
    return ResolvedOperation(
        name=name,
        provider=operation.provider,
        operation=operation,
        context=dict(context),
        dry_run=False,
        description=describe(operation.provider, name),
    )
