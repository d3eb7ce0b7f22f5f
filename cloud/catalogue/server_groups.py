"""Operations on an existing server group: resize, enable, disable, destroy.

Parsed as Clouddriver's AWS preprocessors read them (`ResizeAsgDescriptionPreProcessor`,
`LegacyToAsgsDescriptionPreProcessor`): `serverGroupName` (legacy `asgName`) in `region`, else in each of
`regions`; the application from `application`, `moniker.app`, else the name itself. Planning reads the group in
each region and raises NotFound when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cloud.catalogue.fields import Fields
from cloud.catalogue.operation import Location, OperationName, WorldRef
from cloud.catalogue.outputs import check_results
from cloud.catalogue.readers import (
    TARGET_LOCATION,
    read_application,
    read_capacity,
    read_location,
    read_server_group_name,
)
from cloud.errors import NotFound
from cloud.model import JSON, Capacity
from cloud.plan import Mutation, MutationKind, Plan
from cloud.provider import CloudReader

__all__ = [
    "DestroyServerGroup",
    "DisableServerGroup",
    "EnableServerGroup",
    "ResizeServerGroup",
    "parse_resize",
    "parse_target",
]


@dataclass(frozen=True, slots=True)
class _TargetOperation:
    """One mutation per region on the server group `server_group_name`."""

    name: ClassVar[OperationName]
    expects_result: ClassVar[bool] = False
    kind: ClassVar[MutationKind]
    waits: ClassVar[bool] = False

    provider: str
    account: str
    application: str
    server_group_name: str
    location: Location

    @property
    def regions(self) -> tuple[str, ...]:
        return self.location.regions

    def world_refs(self) -> tuple[WorldRef, ...]:
        return tuple(
            WorldRef(self.account, "credentials", self.provider, r, self.location.region_path(r)) for r in self.regions
        )

    def params(self) -> dict[str, JSON]:
        return {}

    def plan(self, reader: CloudReader) -> Plan:
        mutations: list[Mutation] = []
        current: dict[str, JSON] = {}
        for step, region in enumerate(self.regions):
            group = reader.describe_server_group(self.account, region, self.server_group_name)
            if group is None:
                raise NotFound(
                    f"server group {self.server_group_name} not found in {self.account}/{region}: "
                    f"{self.name.value} needs an existing group",
                    account=self.account,
                    region=region,
                    target=self.server_group_name,
                )
            current[region] = {"capacity": group.capacity.to_json(), "disabled": group.disabled, "image": group.image}
            mutations.append(
                Mutation(
                    step=step,
                    kind=self.kind,
                    account=self.account,
                    region=region,
                    target=self.server_group_name,
                    params=self.params(),
                    wait_for_healthy=self.waits,
                )
            )
        return Plan(self.name.value, tuple(mutations), False, {"current": current})

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        check_results(plan, results)
        return {}

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "serverGroupName": self.server_group_name,
            "regions": list(self.regions),
        }


@dataclass(frozen=True, slots=True)
class EnableServerGroup(_TargetOperation):
    name: ClassVar[OperationName] = OperationName.ENABLE_SERVER_GROUP
    kind: ClassVar[MutationKind] = MutationKind.ENABLE_SERVER_GROUP


@dataclass(frozen=True, slots=True)
class DisableServerGroup(_TargetOperation):
    name: ClassVar[OperationName] = OperationName.DISABLE_SERVER_GROUP
    kind: ClassVar[MutationKind] = MutationKind.DISABLE_SERVER_GROUP


@dataclass(frozen=True, slots=True)
class DestroyServerGroup(_TargetOperation):
    name: ClassVar[OperationName] = OperationName.DESTROY_SERVER_GROUP
    kind: ClassVar[MutationKind] = MutationKind.DESTROY_SERVER_GROUP


@dataclass(frozen=True, slots=True)
class ResizeServerGroup(_TargetOperation):
    """Set the group's capacity in each region, then wait until the desired instances are healthy."""

    name: ClassVar[OperationName] = OperationName.RESIZE_SERVER_GROUP
    kind: ClassVar[MutationKind] = MutationKind.RESIZE_SERVER_GROUP
    waits: ClassVar[bool] = True

    capacity: Capacity

    def params(self) -> dict[str, JSON]:
        return {"capacity": self.capacity.to_json()}

    def to_json(self) -> dict[str, JSON]:
        return {**_TargetOperation.to_json(self), "capacity": self.capacity.to_json()}


_TARGETS: dict[OperationName, type[_TargetOperation]] = {
    OperationName.ENABLE_SERVER_GROUP: EnableServerGroup,
    OperationName.DISABLE_SERVER_GROUP: DisableServerGroup,
    OperationName.DESTROY_SERVER_GROUP: DestroyServerGroup,
}


def _read_common(f: Fields, account: str | None) -> tuple[str, str, Location] | None:
    name = read_server_group_name(f)
    location = read_location(f, TARGET_LOCATION)
    application = read_application(f, *([name] if name else []))
    if not account or name is None or location is None or application is None:
        return None
    return application, name, location


def parse_target(operation: OperationName, f: Fields, provider: str, account: str | None) -> _TargetOperation | None:
    """An enable/disable/destroy operation, or None with the problems in `f.errors`."""
    before = len(f.errors)
    common = _read_common(f, account)
    if common is None or len(f.errors) != before or not account:
        return None
    application, name, location = common
    return _TARGETS[operation](provider, account, application, name, location)


def parse_resize(f: Fields, provider: str, account: str | None) -> ResizeServerGroup | None:
    """A ResizeServerGroup, or None with the problems in `f.errors`."""
    before = len(f.errors)
    common = _read_common(f, account)
    capacity = read_capacity(f)
    if common is None or capacity is None or len(f.errors) != before or not account:
        return None
    application, name, location = common
    return ResizeServerGroup(provider, account, application, name, location, capacity)
