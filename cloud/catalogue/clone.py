"""cloneServerGroup: copy an existing server group's settings into a new group, with the context's overrides.

As Clouddriver's AWS clone (`CopyLastAsgAtomicOperation`): the source is `source {account, region,
serverGroupName|asgName}`; application, stack and detail default to the source's (an empty value means "the
source's", as Groovy's elvis operator reads it); the new group goes to the target cluster's next sequence, in the
context's regions or else the source's region; `source.useSourceCapacity` keeps the source's capacity.

Without a complete source (region and name) an AWS clone copies, in each region of `availabilityZones`, the latest
group of the target cluster there, as `CopyLastAsgAtomicOperation` does ("Looking up last ASG in <region> for
<cluster>"; its converter spec's input has no source at all). Clouddriver deploys from the description alone when
the cluster has no group in a region; the catalogue fails such a clone with NotFound instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from cloud.catalogue.deploy import choose_name, own_token, read_cluster_parts, read_rollback
from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields
from cloud.catalogue.naming import cluster_name, parse_server_group_name
from cloud.catalogue.operation import Location, OperationName, WorldRef
from cloud.catalogue.outputs import deployment_result
from cloud.catalogue.readers import (
    DEPLOY_LOCATION,
    read_capacity,
    read_location,
    read_name_part,
    read_server_group_name,
)
from cloud.catalogue.settings import IMAGE_KEYS, read_settings
from cloud.errors import NotFound
from cloud.model import JSON, Capacity, ServerGroup, ServerGroupSpec
from cloud.plan import Mutation, MutationKind, Plan
from cloud.provider import CloudReader

__all__ = ["CloneServerGroup", "CloneSource", "parse_clone"]


@dataclass(frozen=True, slots=True)
class CloneSource:
    """The server group a clone copies."""

    account: str
    region: str
    server_group_name: str
    use_source_capacity: bool = False

    def to_json(self) -> dict[str, JSON]:
        return {
            "account": self.account,
            "region": self.region,
            "serverGroupName": self.server_group_name,
            "useSourceCapacity": self.use_source_capacity,
        }


@dataclass(frozen=True, slots=True)
class CloneServerGroup:
    """Create a copy of `source` in the target cluster; None / "" fields mean "as the source has it"."""

    name: ClassVar[OperationName] = OperationName.CLONE_SERVER_GROUP
    expects_result: ClassVar[bool] = True
    # Each step's name is its own group's once made, and a copy never takes its own new group as its source.
    replans_stably: ClassVar[bool] = True

    provider: str
    account: str
    application: str
    source: CloneSource | None
    stack: str = ""
    detail: str = ""
    location: Location | None = None
    capacity: Capacity | None = None
    image: str | None = None
    load_balancers: tuple[str, ...] | None = None
    security_groups: tuple[str, ...] | None = None
    tags: Mapping[str, str] | None = None
    settings: Mapping[str, JSON] = field(default_factory=dict)
    compensate_on_failure: bool = False
    use_source_capacity: bool = False  # without a source: keep each copied group's capacity

    @property
    def regions(self) -> tuple[str, ...]:
        if self.location is not None:
            return self.location.regions
        return (self.source.region,) if self.source is not None else ()

    def world_refs(self) -> tuple[WorldRef, ...]:
        if self.source is None:
            location = self.location or Location("availabilityZones")
            account, provider = self.account, self.provider
            return tuple(WorldRef(account, "credentials", provider, r, location.region_path(r)) for r in self.regions)
        source = WorldRef(self.source.account, "source.account", self.provider, self.source.region, "source.region")
        if self.location is None:
            return (source, WorldRef(self.account, "credentials", self.provider, self.source.region, "source.region"))
        location = self.location
        return (source,) + tuple(
            WorldRef(self.account, "credentials", self.provider, r, location.region_path(r)) for r in self.regions
        )

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        own_tokens = [own_token(operation_id, step) for step in range(len(self.regions))]
        sources = self._sources(reader, own_tokens)
        mutations: list[Mutation] = []
        existing: dict[str, JSON] = {}
        latest: dict[str, JSON] = {}
        for step, region in enumerate(self.regions):
            group = sources[region]
            names = parse_server_group_name(group.name)
            stack, detail = self.stack or names.stack, self.detail or names.detail
            chosen = choose_name(reader, self.account, region, self.application, stack, detail, own_tokens[step])
            existing[region] = list(chosen.existing)
            if chosen.latest is not None:
                latest[region] = chosen.latest
            spec = self._spec(chosen.name, region, group)
            mutations.append(
                Mutation(
                    step=step,
                    kind=MutationKind.CREATE_SERVER_GROUP,
                    account=self.account,
                    region=region,
                    target=chosen.name,
                    params={"spec": spec.to_json()},
                    wait_for_healthy=True,
                )
            )
        facts: dict[str, JSON] = {"existingServerGroups": existing, "latestServerGroups": latest}
        if self.source is not None:
            facts["source"] = _source_facts(sources[self.regions[0]])
        else:
            facts["sources"] = {region: _source_facts(group) for region, group in sources.items()}
        return Plan(self.name.value, tuple(mutations), self.compensate_on_failure, facts)

    def _sources(self, reader: CloudReader, own_tokens: Sequence[str]) -> dict[str, ServerGroup]:
        """The group each region's copy is made from: the named source, else the target cluster's latest there
        that is not the copy itself (made under that region's step token, `own_tokens`, by an earlier attempt)."""
        src = self.source
        if src is not None:
            group = reader.describe_server_group(src.account, src.region, src.server_group_name)
            if group is None:
                raise NotFound(
                    f"clone source {src.server_group_name} not found in {src.account}/{src.region}",
                    account=src.account,
                    region=src.region,
                    target=src.server_group_name,
                )
            return dict.fromkeys(self.regions, group)
        found: dict[str, ServerGroup] = {}
        for step, region in enumerate(self.regions):
            chosen = choose_name(
                reader, self.account, region, self.application, self.stack, self.detail, own_tokens[step]
            )
            group = reader.describe_server_group(self.account, region, chosen.latest) if chosen.latest else None
            if group is None:
                cluster = cluster_name(self.application, self.stack, self.detail)
                raise NotFound(
                    f"cloneServerGroup names no source and cluster {cluster} has no server group in "
                    f"{self.account}/{region} to copy: name a source {{account, region, serverGroupName}}",
                    account=self.account,
                    region=region,
                    target=cluster,
                )
            found[region] = group
        return found

    def _spec(self, name: str, region: str, group: ServerGroup) -> ServerGroupSpec:
        zones = self.location.zones.get(region, ()) if self.location is not None else ()
        source_region = self.source.region if self.source is not None else region
        if not zones and region == source_region:
            zones = group.zones
        use_source = self.use_source_capacity if self.source is None else self.source.use_source_capacity
        return ServerGroupSpec(
            name=name,
            capacity=group.capacity if use_source or self.capacity is None else self.capacity,
            image=self.image or group.image,
            zones=zones,
            load_balancers=group.load_balancers if self.load_balancers is None else self.load_balancers,
            security_groups=group.security_groups if self.security_groups is None else self.security_groups,
            tags=dict(group.tags if self.tags is None else self.tags),
            settings={**group.settings, **self.settings},
        )

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        return deployment_result(plan, results, provider=self.provider)

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "source": self.source.to_json() if self.source is not None else None,
            "stack": self.stack,
            "detail": self.detail,
            "location": self.location.to_json() if self.location is not None else None,
            "capacity": self.capacity.to_json() if self.capacity is not None else None,
            "image": self.image,
            "loadBalancers": list(self.load_balancers) if self.load_balancers is not None else None,
            "securityGroups": list(self.security_groups) if self.security_groups is not None else None,
            "tags": dict(self.tags) if self.tags is not None else None,
            "settings": dict(self.settings),
            "compensateOnFailure": self.compensate_on_failure,
        }


def _source_facts(group: ServerGroup) -> dict[str, JSON]:
    """What the clone copied from, without the fields (instances, creation time) that change on their own."""
    data = group.to_json()
    return {k: v for k, v in data.items() if k not in ("instances", "createdAt")}


def parse_clone(f: Fields, provider: str, account: str | None) -> CloneServerGroup | None:
    """A CloneServerGroup from a clone context, or None with the problems in `f.errors`."""
    before = len(f.errors)
    source = _read_source(f, account, provider)
    moniker = f.obj("moniker")
    app_from, app_key = (moniker, "app") if moniker is not None and moniker.has("app") else (f, "application")
    application = read_name_part(app_from, app_key, "application")
    if application == "" and source is not None:
        application = parse_server_group_name(source.server_group_name).app
    stack, detail = read_cluster_parts(f, moniker)
    location = read_location(f, DEPLOY_LOCATION, required=False)
    capacity = read_capacity(f, required=False)
    image = f.string(IMAGE_KEYS[provider])
    load_balancers = f.string_list("loadBalancers")
    security_groups = f.string_list("securityGroups")
    tags = f.string_map("tags") if provider == "aws" else None
    settings = read_settings(f, provider)
    compensate = read_rollback(f)
    if _copies_latest(f, provider):
        if location is None or location.key != "availabilityZones":
            message = (
                f"'{f.path('availabilityZones')}' is required when there is no source {{region, serverGroupName}}: "
                "name the regions to copy the cluster's latest server group in"
            )
            f.fail("availabilityZones", message, ErrorCode.REQUIRED)
        if not application:
            f.missing("application", "name the application whose cluster's latest server group is copied")
    elif source is None:
        return None
    if len(f.errors) != before or not account or not application:
        return None
    return CloneServerGroup(
        provider=provider,
        account=account,
        application=application,
        source=source,
        stack=stack or "",
        detail=detail or "",
        location=location,
        capacity=capacity,
        image=image or None,
        load_balancers=load_balancers,
        security_groups=security_groups,
        tags=tags,
        settings=settings,
        compensate_on_failure=compensate,
        use_source_capacity=_source_capacity(f.raw("source")),
    )


def _copies_latest(f: Fields, provider: str) -> bool:
    """No source, or one without its region or name: CopyLastAsgAtomicOperation then copies the target cluster's
    latest group (AWS only)."""
    source = f.raw("source")
    if provider != "aws" or (source is not None and not isinstance(source, Mapping)):
        return False
    return source is None or not source.get("region") or not (source.get("serverGroupName") or source.get("asgName"))


def _source_capacity(source: object) -> bool:
    return isinstance(source, Mapping) and source.get("useSourceCapacity") is True


def _read_source(f: Fields, account: str | None, provider: str) -> CloneSource | None:
    if _copies_latest(f, provider):
        return None  # the cluster's latest group is copied (see the module doc)
    s = f.obj("source", required=True, hint="name the group to copy: {account, region, serverGroupName}")
    if s is None:
        return None
    source_account = s.string("account") or account
    region = s.string("region", required=True, hint="set the source server group's region")
    name = read_server_group_name(s)
    use_source_capacity = s.boolean("useSourceCapacity")
    if not source_account or region is None or name is None:
        return None
    return CloneSource(source_account, region, name, use_source_capacity)
