"""cloneServerGroup: copy an existing server group's settings into a new group, with the context's overrides.

As Clouddriver's AWS clone (`CopyLastAsgAtomicOperation`): the source is `source {account, region,
serverGroupName|asgName}`; application, stack and detail default to the source's (an empty value means "the
source's", as Groovy's elvis operator reads it); the new group goes to the target cluster's next sequence, in the
context's regions or else the source's region; `source.useSourceCapacity` keeps the source's capacity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from cloud.catalogue.deploy import choose_name, read_cluster_parts, read_rollback
from cloud.catalogue.fields import Fields
from cloud.catalogue.naming import parse_server_group_name
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

    provider: str
    account: str
    application: str
    source: CloneSource
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

    @property
    def regions(self) -> tuple[str, ...]:
        return self.location.regions if self.location is not None else (self.source.region,)

    def world_refs(self) -> tuple[WorldRef, ...]:
        source = WorldRef(self.source.account, "source.account", self.provider, self.source.region, "source.region")
        if self.location is None:
            return (source, WorldRef(self.account, "credentials", self.provider, self.source.region, "source.region"))
        location = self.location
        return (source,) + tuple(
            WorldRef(self.account, "credentials", self.provider, r, location.region_path(r)) for r in self.regions
        )

    def plan(self, reader: CloudReader) -> Plan:
        src = self.source
        group = reader.describe_server_group(src.account, src.region, src.server_group_name)
        if group is None:
            raise NotFound(
                f"clone source {src.server_group_name} not found in {src.account}/{src.region}",
                account=src.account,
                region=src.region,
                target=src.server_group_name,
            )
        names = parse_server_group_name(src.server_group_name)
        stack, detail = self.stack or names.stack, self.detail or names.detail
        mutations: list[Mutation] = []
        existing: dict[str, JSON] = {}
        latest: dict[str, JSON] = {}
        for step, region in enumerate(self.regions):
            chosen = choose_name(reader, self.account, region, self.application, stack, detail)
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
        facts: dict[str, JSON] = {
            "existingServerGroups": existing,
            "latestServerGroups": latest,
            "source": _source_facts(group),
        }
        return Plan(self.name.value, tuple(mutations), self.compensate_on_failure, facts)

    def _spec(self, name: str, region: str, group: ServerGroup) -> ServerGroupSpec:
        zones = self.location.zones.get(region, ()) if self.location is not None else ()
        if not zones and region == self.source.region:
            zones = group.zones
        use_source = self.source.use_source_capacity or self.capacity is None
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
            "source": self.source.to_json(),
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
    source = _read_source(f, account)
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
    if len(f.errors) != before or not account or source is None or not application:
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
    )


def _read_source(f: Fields, account: str | None) -> CloneSource | None:
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
