"""Operations on existing server groups: resize, enable, disable, destroy.

Which groups, in which regions, is read once for all four by `cloud.catalogue.targets` (Clouddriver's
`LegacyToAsgsDescriptionPreProcessor` and `ResizeAsgDescriptionPreProcessor`: `asgs`, else `serverGroupName` /
`asgName` in `region` or each of `regions`); the application from `application`, `moniker.app`, else the first
group's name. Planning reads each group and skips one that is missing, as Clouddriver does (the plan's facts name
it); a resize fills the capacity values
it does not name from the group's own, and refuses what AWS would (min above max, desired outside them) or what its
`constraints.capacity` forbids (`ResizeAsgAtomicOperation.validateConstraints`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cloud.catalogue.fields import Fields
from cloud.catalogue.operation import OperationName, WorldRef
from cloud.catalogue.outputs import check_results
from cloud.catalogue.readers import read_application
from cloud.catalogue.targets import CapacityChange, Target, read_targets
from cloud.errors import InvalidRequest
from cloud.model import JSON, Capacity, ServerGroup
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
    """One mutation per target: a server group in a region."""

    name: ClassVar[OperationName]
    expects_result: ClassVar[bool] = False
    replans_stably: ClassVar[bool] = False
    kind: ClassVar[MutationKind]
    waits: ClassVar[bool] = False

    provider: str
    account: str
    application: str
    targets: tuple[Target, ...]

    @property
    def server_group_name(self) -> str:
        """The first target's group (Orca's `serverGroupName`; every target's, unless `asgs` named several)."""
        return self.targets[0].server_group_name

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({t.region for t in self.targets}))

    def world_refs(self) -> tuple[WorldRef, ...]:
        return tuple(
            WorldRef(self.account, "credentials", self.provider, t.region, t.region_path) for t in self.targets
        )

    def params(self, target: Target, group: ServerGroup) -> dict[str, JSON] | None:
        """The mutation's parameters for `target`, or None to leave it alone."""
        return {}

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        mutations: list[Mutation] = []
        current: dict[str, JSON] = {}
        skipped: list[JSON] = []
        for target in self.targets:
            region, name = target.region, target.server_group_name
            group = reader.describe_server_group(self.account, region, name)
            if group is None:
                # Clouddriver skips a group that does not exist and succeeds (DestroyAsgAtomicOperation: "let's be
                # idempotent and not complain about that"; AbstractEnableDisableAtomicOperation and
                # ResizeAsgAtomicOperation: "Skipping ... server group does not exist"), so a pipeline that
                # re-runs a stage passes on both paths. The plan says which it skipped.
                skipped.append({"region": region, "serverGroupName": name, "reason": "not found"})
                continue
            state = {"capacity": group.capacity.to_json(), "disabled": group.disabled, "image": group.image}
            current[region if len(self.targets) == len(self.regions) else f"{region}:{name}"] = state
            params = self.params(target, group)
            if params is None:
                continue
            mutations.append(
                Mutation(
                    step=len(mutations),
                    kind=self.kind,
                    account=self.account,
                    region=region,
                    target=name,
                    params=params,
                    wait_for_healthy=self.waits,
                )
            )
        facts: dict[str, JSON] = {"current": current}
        if skipped:
            facts["skipped"] = skipped
        return Plan(self.name.value, tuple(mutations), False, facts)

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
            "targets": [t.to_json() for t in self.targets],
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
    """Set each target's capacity, then wait until its desired instances are healthy."""

    name: ClassVar[OperationName] = OperationName.RESIZE_SERVER_GROUP
    kind: ClassVar[MutationKind] = MutationKind.RESIZE_SERVER_GROUP
    waits: ClassVar[bool] = True

    @property
    def capacity(self) -> Capacity | None:
        """The first target's capacity when it names all of min, max and desired."""
        change = self.targets[0].capacity
        return change.complete() if change is not None else None

    def params(self, target: Target, group: ServerGroup) -> dict[str, JSON] | None:
        change = target.capacity or CapacityChange()
        if change.empty:
            return None  # ResizeAsgAtomicOperation: "Skipping resize ..., at least one field ... needs to be non-null"
        _check_constraints(target, group)
        wanted = change.applied_to(group.capacity)
        if not wanted.min <= wanted.desired <= wanted.max:
            raise InvalidRequest(
                f"resizing {target.server_group_name} in {self.account}/{target.region} to {change.to_json()} "
                f"from {group.capacity.to_json()} gives min {wanted.min}, desired {wanted.desired}, max {wanted.max}: "
                "desired must be within min..max (AWS refuses it); name all three values",
                account=self.account,
                region=target.region,
                target=target.server_group_name,
            )
        return {"capacity": wanted.to_json()}


def _check_constraints(target: Target, group: ServerGroup) -> None:
    """`constraints.capacity`: the values the group must have now, or the resize fails (as Clouddriver's does)."""
    if target.constraints is None or target.constraints.empty:
        return
    expected = target.constraints.to_json()
    was = group.capacity.to_json()
    if any(was.get(k) != v for k, v in expected.items()):
        raise InvalidRequest(
            f"Expected capacity constraint violated (expected: {expected}, was: {was}) for "
            f"{target.server_group_name} in {target.region}",
            region=target.region,
            target=target.server_group_name,
        )


_TARGETS: dict[OperationName, type[_TargetOperation]] = {
    OperationName.ENABLE_SERVER_GROUP: EnableServerGroup,
    OperationName.DISABLE_SERVER_GROUP: DisableServerGroup,
    OperationName.DESTROY_SERVER_GROUP: DestroyServerGroup,
}


def _read(f: Fields, provider: str, account: str | None, resize: bool) -> tuple[str, tuple[Target, ...]] | None:
    before = len(f.errors)
    targets = read_targets(f, provider, resize=resize)
    application = read_application(f, *([targets[0].server_group_name] if targets else []))
    if targets is None or application is None or len(f.errors) != before or not account:
        return None
    return application, targets


def parse_target(operation: OperationName, f: Fields, provider: str, account: str | None) -> _TargetOperation | None:
    """An enable/disable/destroy operation, or None with the problems in `f.errors`."""
    read = _read(f, provider, account, resize=False)
    if read is None or not account:
        return None
    return _TARGETS[operation](provider, account, *read)


def parse_resize(f: Fields, provider: str, account: str | None) -> ResizeServerGroup | None:
    """A ResizeServerGroup, or None with the problems in `f.errors`."""
    read = _read(f, provider, account, resize=True)
    if read is None or not account:
        return None
    return ResizeServerGroup(provider, account, *read)
