"""createServerGroup: a new server group in the next free slot of its cluster, in each region asked for.

Parsed from the deploy context Orca sends (CD `BasicAmazonDeployDescription` / `TitusDeployDescription`): the
cluster from `application`, `stack`, `freeFormDetails` (or `moniker`), where from `availabilityZones` (AWS; Titus
also `regions` or `region`), the image from `amiName` (AWS) or `imageId` (Titus), provider-specific settings as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields
from cloud.catalogue.naming import cluster_name, next_sequence, parse_server_group_name, server_group_name
from cloud.catalogue.operation import Location, OperationName, WorldRef
from cloud.catalogue.outputs import deployment_result
from cloud.catalogue.readers import DEPLOY_LOCATION, read_capacity, read_location, read_name_part
from cloud.catalogue.settings import IMAGE_KEYS, read_settings
from cloud.errors import InvalidRequest
from cloud.model import JSON, Capacity, ServerGroupSpec
from cloud.plan import Mutation, MutationKind, Plan, idempotency_token
from cloud.provider import CloudReader

__all__ = [
    "CreateServerGroup",
    "NextName",
    "choose_name",
    "own_token",
    "parse_create",
    "read_cluster_parts",
    "read_rollback",
]


@dataclass(frozen=True, slots=True)
class NextName:
    """The name a new server group gets in one region, and the cluster's groups it was chosen from."""

    name: str
    existing: tuple[str, ...]
    latest: str | None


def own_token(operation_id: str, step: int) -> str:
    """The token step `step` of this operation's plan is applied under, or "" without an operation id (then no
    group is taken as the plan's own)."""
    return idempotency_token(operation_id, step) if operation_id else ""


def choose_name(
    reader: CloudReader, account: str, region: str, app: str, stack: str, detail: str, own_token: str = ""
) -> NextName:
    """The next free `app-stack-detail-vNNN` in `account`/`region`, after the most recently created group.

    A group created under `own_token` (the token of the step this name is for: an earlier attempt of it landed)
    is that step's own group: its name is chosen again, and it is left out of `existing` and `latest`, so
    planning again after the create gives the plan the first planning gave, even if another group was created
    in the cluster since.
    """
    cluster = cluster_name(app, stack, detail)
    groups = [g for g in reader.list_server_groups(account, region, cluster) if _cluster_of(g.name) == cluster]
    own = next((g for g in groups if own_token and g.created_by == own_token), None)
    groups = [g for g in groups if g is not own]
    existing = tuple(sorted(g.name for g in groups))
    latest = max(groups, key=lambda g: (g.created_at, _sequence_of(g.name))).name if groups else None
    if own is not None:
        return NextName(own.name, existing, latest)
    try:
        sequence = next_sequence(existing, latest=latest)
    except ValueError as exc:
        raise InvalidRequest(f"cluster {cluster} in {account}/{region}: {exc}", account=account, region=region) from exc
    return NextName(server_group_name(app, stack, detail, sequence), existing, latest)


def _cluster_of(name: str) -> str | None:
    try:
        return parse_server_group_name(name).cluster
    except ValueError:
        return None


def _sequence_of(name: str) -> int:
    try:
        sequence = parse_server_group_name(name).sequence
    except ValueError:
        return -1
    return -1 if sequence is None else sequence


def read_cluster_parts(f: Fields, moniker: Fields | None) -> tuple[str | None, str | None]:
    """(stack, detail) from `stack` / `freeFormDetails`, else `moniker.stack` / `moniker.detail`."""
    stack_from = moniker if moniker is not None and not f.has("stack") else f
    detail_from, detail_key = (
        (moniker, "detail") if moniker is not None and not f.has("freeFormDetails") else (f, "freeFormDetails")
    )
    return read_name_part(stack_from, "stack", "stack"), read_name_part(detail_from, detail_key, "detail")


def read_rollback(f: Fields) -> bool:
    """Spinnaker deploy stages' `rollback.onFailure`: destroy what was created when a later step fails."""
    rollback = f.obj("rollback")
    return rollback.boolean("onFailure") if rollback is not None else False


@dataclass(frozen=True, slots=True)
class CreateServerGroup:
    """Create one server group per region in the cluster `application-stack-detail`."""

    name: ClassVar[OperationName] = OperationName.CREATE_SERVER_GROUP
    expects_result: ClassVar[bool] = True
    replans_stably: ClassVar[bool] = True  # each step's name is its own group's, once made (`choose_name`)

    provider: str
    account: str
    application: str
    stack: str
    detail: str
    location: Location
    capacity: Capacity
    image: str
    load_balancers: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, JSON] = field(default_factory=dict)
    compensate_on_failure: bool = False

    @property
    def regions(self) -> tuple[str, ...]:
        return self.location.regions

    @property
    def cluster(self) -> str:
        return cluster_name(self.application, self.stack, self.detail)

    def world_refs(self) -> tuple[WorldRef, ...]:
        return tuple(
            WorldRef(self.account, "credentials", self.provider, r, self.location.region_path(r)) for r in self.regions
        )

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        mutations: list[Mutation] = []
        existing: dict[str, JSON] = {}
        latest: dict[str, JSON] = {}
        for step, region in enumerate(self.regions):
            mine = own_token(operation_id, step)
            chosen = choose_name(reader, self.account, region, self.application, self.stack, self.detail, mine)
            existing[region] = list(chosen.existing)
            if chosen.latest is not None:
                latest[region] = chosen.latest
            spec = ServerGroupSpec(
                name=chosen.name,
                capacity=self.capacity,
                image=self.image,
                zones=self.location.zones[region],
                load_balancers=self.load_balancers,
                security_groups=self.security_groups,
                tags=dict(self.tags),
                settings=dict(self.settings),
            )
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
        return Plan(self.name.value, tuple(mutations), self.compensate_on_failure, facts)

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        return deployment_result(plan, results, provider=self.provider)

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "stack": self.stack,
            "detail": self.detail,
            "location": self.location.to_json(),
            "capacity": self.capacity.to_json(),
            "image": self.image,
            "loadBalancers": list(self.load_balancers),
            "securityGroups": list(self.security_groups),
            "tags": dict(self.tags),
            "settings": dict(self.settings),
            "compensateOnFailure": self.compensate_on_failure,
        }


def _read_deploy_location(f: Fields, provider: str) -> Location | None:
    """Titus deploys name a `region` (or the other keys); an AWS deploy reads its regions from `availabilityZones`
    alone: `BasicAmazonDeployDescription` has no `region` or `regions` field, so its validator refuses a context
    without `availabilityZones` (`basicAmazonDeployDescription.availabilityZones.empty`)."""
    if provider != "aws" or f.has("availabilityZones"):
        return read_location(f, DEPLOY_LOCATION)
    named = [k for k in ("regions", "region") if f.has(k)]
    hint = f"(it has {' and '.join(repr(k) for k in named)}, which Clouddriver's AWS deploy ignores)" if named else ""
    message = (
        f"'{f.path('availabilityZones')}' is required {hint}: name the regions and their zones, such as "
        '{"us-east-1": ["us-east-1a"]}, or {"us-east-1": []} with a subnetType '
        "(basicAmazonDeployDescription.availabilityZones.empty)"
    )
    f.fail("availabilityZones", " ".join(message.split()), ErrorCode.REQUIRED)
    return None


def parse_create(f: Fields, provider: str, account: str | None) -> CreateServerGroup | None:
    """A CreateServerGroup from a deploy context, or None with the problems in `f.errors`."""
    before = len(f.errors)
    moniker = f.obj("moniker")
    app_from = moniker if moniker is not None and moniker.has("app") and not f.has("application") else f
    application = read_name_part(app_from, "application" if app_from is f else "app", "application", required=True)
    stack, detail = read_cluster_parts(f, moniker)
    location = _read_deploy_location(f, provider)
    capacity = read_capacity(f)
    image_key = IMAGE_KEYS[provider]
    image = f.string(image_key, required=True, hint=f"name the {'AMI' if provider == 'aws' else 'container image'}")
    load_balancers = f.string_list("loadBalancers")
    security_groups = f.string_list("securityGroups")
    tags = f.string_map("tags") if provider == "aws" else {}
    settings = read_settings(f, provider, require_resources=provider == "titus")
    if provider == "aws":
        if not f.has("instanceType") or isinstance(f.raw("instanceType"), str):  # else read_settings reported it
            f.string("instanceType", required=True, hint="set the EC2 instance type, such as m5.large")
        if location is not None and not any(location.zones.values()) and not settings.get("subnetType"):
            f.fail(
                location.key,
                f"'{f.path(location.key)}' names no zones and there is no subnetType: list zones per region "
                "or set subnetType",
                ErrorCode.REQUIRED,
            )
    compensate = read_rollback(f)
    if len(f.errors) != before or not account or not application or stack is None or detail is None:
        return None
    if location is None or capacity is None or image is None:
        return None
    return CreateServerGroup(
        provider=provider,
        account=account,
        application=application,
        stack=stack,
        detail=detail,
        location=location,
        capacity=capacity,
        image=image,
        load_balancers=load_balancers or (),
        security_groups=security_groups or (),
        tags=tags or {},
        settings=settings,
        compensate_on_failure=compensate,
    )
