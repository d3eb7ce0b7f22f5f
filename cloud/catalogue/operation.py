"""The shape every typed cloud operation has: its name, the `CloudOperation` protocol, and where it acts.

One frozen dataclass per operation satisfies `CloudOperation`. Besides the protocol, each carries `world_refs()`:
the (account, region) pairs it touches with the context paths they came from, which `check_world` checks
against the accounts a provider has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable

from cloud.model import JSON
from cloud.plan import Plan
from cloud.provider import CloudReader

__all__ = [
    "PROVIDERS",
    "CloudOperation",
    "Location",
    "OperationName",
    "WorldRef",
]

PROVIDERS = ("aws", "titus")
"""The cloud providers the catalogue parses operations for."""


class OperationName(StrEnum):
    """Clouddriver's operation names (its `AtomicOperations` constants) that the catalogue knows."""

    CREATE_SERVER_GROUP = "createServerGroup"
    CLONE_SERVER_GROUP = "cloneServerGroup"
    RESIZE_SERVER_GROUP = "resizeServerGroup"
    ENABLE_SERVER_GROUP = "enableServerGroup"
    DISABLE_SERVER_GROUP = "disableServerGroup"
    DESTROY_SERVER_GROUP = "destroyServerGroup"
    TERMINATE_INSTANCES = "terminateInstances"
    UPSERT_LOAD_BALANCER = "upsertLoadBalancer"
    DELETE_LOAD_BALANCER = "deleteLoadBalancer"
    # Orca sends this legacy bean-name operation before every AWS deploy (see the reference note, section 4).
    ALLOW_LAUNCH = "allowLaunchDescription"


@runtime_checkable
class CloudOperation(Protocol):
    """A typed, validated cloud operation: what both execution paths run.

    `plan` only reads (never mutates) and raises cloud.errors.CloudError subclasses. Given the operation's id, it
    takes what the operation's own steps already made (under their `cloud.plan.idempotency_token`s) as its own,
    not as the world it plans against: see `replans_stably`. `outputs` turns what `cloud.plan.apply_mutation`
    returned for each mutation into Clouddriver's result object.

    `replans_stably`: planning again, with the same operation id, after any of the plan's own steps landed gives
    the same mutations, so a step may change the cloud before the plan is recorded anywhere (the durable path does
    that, see `durable_runner.steps`). Checked for every operation that claims it by
    tests/cloud/test_catalogue_replans_stably.py. An operation whose plan reads what its own steps change (a
    destroy that finds its group gone, a resize relative to today's capacity) does not claim it.
    """

    name: ClassVar[OperationName]
    expects_result: ClassVar[bool]
    replans_stably: ClassVar[bool]

    @property
    def account(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def application(self) -> str: ...

    @property
    def regions(self) -> tuple[str, ...]: ...

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan: ...

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]: ...

    def to_json(self) -> dict[str, JSON]: ...


@dataclass(frozen=True, slots=True)
class WorldRef:
    """One account (and optionally a region in it) an operation names, with the context paths they came from."""

    account: str
    account_path: str
    provider: str
    region: str = ""
    region_path: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    """Where an operation acts: regions with their zones, remembering which context key gave them.

    `key` is "availabilityZones", "regions" or "region"; `zones` maps each region to its zones (empty when the
    context named only regions) in the context's order.
    """

    key: str
    zones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions, sorted, so plans built from them are deterministic."""
        return tuple(sorted(self.zones))

    def region_path(self, region: str) -> str:
        """The context path that named `region` ("region", "regions[1]", "availabilityZones.us-east-1")."""
        if self.key == "availabilityZones":
            return f"availabilityZones.{region}"
        if self.key == "regions":
            return f"regions[{list(self.zones).index(region)}]" if region in self.zones else "regions"
        return self.key

    def to_json(self) -> dict[str, JSON]:
        return {region: list(self.zones[region]) for region in self.regions}
