"""Which server groups an operation on existing groups acts on, read as Clouddriver's AWS preprocessors read it.

This is the one place the older shapes Orca still sends become one list of targets (clouddriver @ 2f5e98f0,
`clouddriver-aws/.../deploy/preprocessors/LegacyToAsgsDescriptionPreProcessor.groovy` for enable, disable and
destroy, `ResizeAsgDescriptionPreProcessor.groovy` for resize):

- `asgs: [{serverGroupName | asgName, region, capacity?, constraints?}]`, when it is a non-empty list, wins over
  everything else (AWS only: Titus has no such preprocessor);
- else one target per region: the name is `serverGroupName`, else `asgName`, the region is `region`, else each of
  `regions`; with Groovy's truth, so an empty string or list counts as absent, as in the preprocessor specs;
- a resize takes `capacity` (and `constraints.capacity`) from the top level for each region, or each entry's own.

On AWS a resize capacity may name any of min, max and desired (`ServerGroup.Capacity`'s fields are nullable;
`ResizeAsgAtomicOperation` sends only those given, and skips a target that names none); the validator checks only
the values given (`AmazonDescriptionValidationSupport.validateCapacity`), with its keys in the messages here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields, join_path
from cloud.catalogue.readers import read_server_group_name
from cloud.model import JSON, Capacity

__all__ = ["CapacityChange", "Target", "read_capacity_change", "read_targets"]

TRANSPOSED = "resizeAsgDescription.capacity.transposed"
NOT_IN_RANGE = "resizeAsgDescription.desired.capacity.not.in.range"


@dataclass(frozen=True, slots=True)
class CapacityChange:
    """The capacity a resize asks for: any of min, max and desired (None: keep the group's own)."""

    min: int | None = None
    max: int | None = None
    desired: int | None = None

    @property
    def empty(self) -> bool:
        return self.min is None and self.max is None and self.desired is None

    def applied_to(self, current: Capacity) -> Capacity:
        return Capacity(
            min=current.min if self.min is None else self.min,
            max=current.max if self.max is None else self.max,
            desired=current.desired if self.desired is None else self.desired,
        )

    def complete(self) -> Capacity | None:
        if self.min is None or self.max is None or self.desired is None:
            return None
        return Capacity(min=self.min, max=self.max, desired=self.desired)

    def to_json(self) -> dict[str, JSON]:
        return {k: v for k, v in (("min", self.min), ("max", self.max), ("desired", self.desired)) if v is not None}


@dataclass(frozen=True, slots=True)
class Target:
    """One server group in one region, with the context paths that named them (and, for a resize, its capacity)."""

    region: str
    server_group_name: str
    region_path: str
    capacity: CapacityChange | None = None
    constraints: CapacityChange | None = None

    def to_json(self) -> dict[str, JSON]:
        data: dict[str, JSON] = {"region": self.region, "serverGroupName": self.server_group_name}
        if self.capacity is not None:
            data["capacity"] = self.capacity.to_json()
        if self.constraints is not None and not self.constraints.empty:
            data["constraints"] = {"capacity": self.constraints.to_json()}
        return data


def read_targets(f: Fields, provider: str, *, resize: bool) -> tuple[Target, ...] | None:
    """The targets, sorted by region and name so plans are deterministic; None with the problems in `f.errors`."""
    before = len(f.errors)
    if provider == "aws" and f.truthy("asgs"):
        targets = _read_asgs(f, resize)
    else:
        targets = _read_legacy(f, provider, resize)
    if targets is None or len(f.errors) != before:
        return None
    seen: set[tuple[str, str]] = set()
    for t in targets:
        if (t.region, t.server_group_name) in seen:
            message = f"'{f.path(t.region_path)}' names {t.server_group_name} in {t.region} twice: name it once"
            f.fail(t.region_path, message, ErrorCode.INVALID)
            return None
        seen.add((t.region, t.server_group_name))
    return tuple(sorted(targets, key=lambda t: (t.region, t.server_group_name)))


def _read_asgs(f: Fields, resize: bool) -> list[Target] | None:
    raw = f.raw("asgs")
    if not isinstance(raw, list):
        f.wrong_type("asgs", "a list of {serverGroupName, region} objects", raw)
        return None
    targets: list[Target] = []
    for i, item in enumerate(raw):
        path = join_path("asgs", i)
        if not isinstance(item, Mapping):
            f.wrong_type(path, "an object {serverGroupName, region}", item)
            continue
        entry = Fields(item, f.path(path), f.errors)
        name = read_server_group_name(entry)
        region = _read_region(entry, "region")
        change = _read_resize(entry) if resize else (None, None)
        if name is not None and region is not None:
            targets.append(Target(region, name, join_path(path, "region"), *change))
    return targets


def _read_legacy(f: Fields, provider: str, resize: bool) -> list[Target] | None:
    name = read_server_group_name(f)
    change = _read_resize(f, partial=provider == "aws") if resize else (None, None)
    if f.truthy("region") or not f.truthy("regions"):
        region = _read_region(f, "region")
        if name is None or region is None:
            return None
        return [Target(region, name, "region", *change)]
    regions = f.string_list("regions", non_empty=True, hint="name at least one region")
    if name is None or regions is None:
        return None
    return [Target(region, name, f"regions[{i}]", *change) for i, region in enumerate(regions)]


def _read_region(f: Fields, key: str) -> str | None:
    if not f.truthy(key):
        f.missing(key, "say where: set region, regions, or asgs [{serverGroupName, region}]")
        return None
    return f.string(key, required=True)


def _read_resize(f: Fields, *, partial: bool = True) -> tuple[CapacityChange | None, CapacityChange | None]:
    capacity = read_capacity_change(f, "capacity", partial=partial)
    constraints = f.obj("constraints")
    limit = read_capacity_change(constraints, "capacity", partial=True, required=False) if constraints else None
    return capacity, limit


def read_capacity_change(f: Fields, key: str, *, partial: bool = True, required: bool = True) -> CapacityChange | None:
    """`{min?, max?, desired?}` (all three unless `partial`): whole numbers, 0 or more, in order where given."""
    c = f.obj(key, required=required, hint="set it to {min, max, desired}")
    if c is None:
        return None
    before = len(f.errors)
    values = [c.integer(k, required=not partial, minimum=0) for k in ("min", "max", "desired")]
    if len(f.errors) != before:
        return None
    low, high, desired = values
    if low is not None and high is not None and low > high:
        message = f"'{c.path()}' has min {low} greater than max {high} ({TRANSPOSED}): lower min or raise max"
        c.fail("", message, ErrorCode.RANGE)
        return None
    if desired is not None and ((low is not None and desired < low) or (high is not None and desired > high)):
        message = (
            f"'{c.path('desired')}' is {desired}, outside min/max ({low}/{high}) ({NOT_IN_RANGE}): "
            "choose a value in that range"
        )
        c.fail("desired", message, ErrorCode.RANGE)
        return None
    return CapacityChange(low, high, desired)
