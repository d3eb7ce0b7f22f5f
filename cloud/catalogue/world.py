"""check_world: does an operation name accounts and regions that the cloud actually has?

Clouddriver checks this while validating (`credentials not found`, `region.not.configured`), before it accepts
an operation; both paths call this with `provider.accounts()` right after parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from cloud.catalogue.errors import ErrorCode, FieldError
from cloud.catalogue.operation import CloudOperation, WorldRef
from cloud.model import Account

__all__ = ["check_world"]


@runtime_checkable
class _NamesItsWorld(Protocol):
    def world_refs(self) -> tuple[WorldRef, ...]: ...


def check_world(operation: CloudOperation, accounts: Sequence[Account]) -> tuple[FieldError, ...]:
    """Unknown accounts (path "credentials"), accounts of another provider, regions an account does not have."""
    by_name = {a.name: a for a in accounts}
    errors: dict[tuple[str, str], FieldError] = {}
    for ref in _refs(operation):
        account = by_name.get(ref.account)
        same_provider = sorted(a.name for a in accounts if a.provider == ref.provider)
        choices = ", ".join(same_provider) or f"(there are no {ref.provider} accounts)"
        if account is None:
            message = f"unknown account {ref.account!r}: use one of the {ref.provider} accounts: {choices}"
            errors.setdefault(
                (ref.account_path, ErrorCode.UNKNOWN_ACCOUNT),
                FieldError(ref.account_path, message, ErrorCode.UNKNOWN_ACCOUNT),
            )
            continue
        if account.provider != ref.provider:
            message = (
                f"account {ref.account!r} is a {account.provider} account, but this is a {ref.provider} operation: "
                f"use one of the {ref.provider} accounts: {choices}"
            )
            errors.setdefault(
                (ref.account_path, ErrorCode.WRONG_PROVIDER),
                FieldError(ref.account_path, message, ErrorCode.WRONG_PROVIDER),
            )
            continue
        if ref.region and ref.region not in account.regions:
            message = (
                f"account {ref.account!r} has no region {ref.region!r}: "
                f"use one of its regions: {', '.join(account.regions) or '(none)'}"
            )
            key = (ref.region_path, ErrorCode.UNKNOWN_REGION)
            errors.setdefault(key, FieldError(ref.region_path, message, ErrorCode.UNKNOWN_REGION))
    return tuple(errors.values())


def _refs(operation: CloudOperation) -> tuple[WorldRef, ...]:
    if isinstance(operation, _NamesItsWorld):
        return operation.world_refs()
    return tuple(
        WorldRef(operation.account, "credentials", operation.provider, region, "region") for region in operation.regions
    ) or (WorldRef(operation.account, "credentials", operation.provider),)
