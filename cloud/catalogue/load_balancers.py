"""upsertLoadBalancer and deleteLoadBalancer for AWS classic load balancers.

Parsed from CD `UpsertAmazonLoadBalancerClassicDescription` / `DeleteAmazonLoadBalancerDescription` contexts:
`name` (delete: `loadBalancerName`), `availabilityZones` / `regions` / `region`, `listeners`
`[{externalProtocol, externalPort, internalProtocol, internalPort}]`, `healthCheck` ("HTTP:7001/healthcheck"),
`isInternal`, `securityGroups`. Names follow AWS's classic rules: at most 32 letters, digits and hyphens, not
starting or ending with a hyphen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from cloud.catalogue.errors import ErrorCode
from cloud.catalogue.fields import Fields, join_path
from cloud.catalogue.operation import Location, OperationName, WorldRef
from cloud.catalogue.outputs import check_results, load_balancer_result
from cloud.catalogue.readers import DEPLOY_LOCATION, read_application, read_location
from cloud.model import JSON, Listener, LoadBalancerSpec
from cloud.plan import Mutation, MutationKind, Plan
from cloud.provider import CloudReader

__all__ = ["DeleteLoadBalancer", "UpsertLoadBalancer", "parse_delete_load_balancer", "parse_upsert_load_balancer"]

DELETE_LOCATION = ("regions", "availabilityZones", "region")
"""A delete names `regions` (`DeleteAmazonLoadBalancerDescription.regions`), so a missing location is reported there."""

PROTOCOLS = ("HTTP", "HTTPS", "TCP", "SSL")
_LB_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?")
_HEALTH_CHECK = re.compile(r"(HTTP|HTTPS|TCP|SSL):([0-9]{1,5})(/\S*)?")


@dataclass(frozen=True, slots=True)
class _LoadBalancerOperation:
    provider: str
    account: str
    application: str
    load_balancer_name: str
    location: Location

    @property
    def regions(self) -> tuple[str, ...]:
        return self.location.regions

    def world_refs(self) -> tuple[WorldRef, ...]:
        return tuple(
            WorldRef(self.account, "credentials", self.provider, r, self.location.region_path(r)) for r in self.regions
        )

    def _existing(self, reader: CloudReader) -> dict[str, JSON]:
        return {
            r: reader.describe_load_balancer(self.account, r, self.load_balancer_name) is not None for r in self.regions
        }


@dataclass(frozen=True, slots=True)
class UpsertLoadBalancer(_LoadBalancerOperation):
    """Create or update a classic load balancer in each region."""

    name: ClassVar[OperationName] = OperationName.UPSERT_LOAD_BALANCER
    expects_result: ClassVar[bool] = True
    replans_stably: ClassVar[bool] = False

    listeners: tuple[Listener, ...] = ()
    health_check: str = ""
    internal: bool = False
    security_groups: tuple[str, ...] = ()

    def spec(self, region: str) -> LoadBalancerSpec:
        return LoadBalancerSpec(
            name=self.load_balancer_name,
            listeners=self.listeners,
            health_check=self.health_check,
            internal=self.internal,
            zones=self.location.zones.get(region, ()),
            security_groups=self.security_groups,
        )

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        existing = self._existing(reader)
        mutations = tuple(
            Mutation(
                step=step,
                kind=MutationKind.UPSERT_LOAD_BALANCER,
                account=self.account,
                region=region,
                target=self.load_balancer_name,
                params={"spec": self.spec(region).to_json()},
            )
            for step, region in enumerate(self.regions)
        )
        return Plan(self.name.value, mutations, False, {"existingLoadBalancers": existing})

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        return load_balancer_result(plan, results)

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "loadBalancerName": self.load_balancer_name,
            "location": self.location.to_json(),
            "listeners": [listener.to_json() for listener in self.listeners],
            "healthCheck": self.health_check,
            "internal": self.internal,
            "securityGroups": list(self.security_groups),
        }


@dataclass(frozen=True, slots=True)
class DeleteLoadBalancer(_LoadBalancerOperation):
    """Delete the load balancer in each region; deleting one that is already gone is not an error (as in AWS)."""

    name: ClassVar[OperationName] = OperationName.DELETE_LOAD_BALANCER
    expects_result: ClassVar[bool] = False
    replans_stably: ClassVar[bool] = False

    def plan(self, reader: CloudReader, operation_id: str = "") -> Plan:
        existing = self._existing(reader)
        mutations = tuple(
            Mutation(step, MutationKind.DELETE_LOAD_BALANCER, self.account, region, self.load_balancer_name)
            for step, region in enumerate(self.regions)
        )
        return Plan(self.name.value, mutations, False, {"existingLoadBalancers": existing})

    def outputs(self, plan: Plan, results: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
        check_results(plan, results)
        return {}

    def to_json(self) -> dict[str, JSON]:
        return {
            "operation": self.name.value,
            "provider": self.provider,
            "account": self.account,
            "application": self.application,
            "loadBalancerName": self.load_balancer_name,
            "regions": list(self.regions),
        }


def _read_name(f: Fields, key: str) -> str | None:
    name = f.string(key, required=True, hint="name the load balancer, such as myapp-main-frontend")
    if name is not None and not _LB_NAME.fullmatch(name):
        f.fail(
            key,
            f"'{f.path(key)}' {name!r} is not a valid load balancer name: use at most 32 letters, digits and "
            "hyphens, not starting or ending with a hyphen",
            ErrorCode.INVALID,
        )
        return None
    return name


def _read_listeners(f: Fields) -> tuple[Listener, ...] | None:
    raw = f.raw("listeners")
    if raw is None:
        f.missing("listeners", "add at least one {externalProtocol, externalPort, internalProtocol, internalPort}")
        return None
    if not isinstance(raw, list):
        f.wrong_type("listeners", "a list of listeners", raw)
        return None
    if not raw:
        f.fail("listeners", f"'{f.path('listeners')}' is empty: add at least one listener", ErrorCode.REQUIRED)
        return None
    listeners: list[Listener] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            f.wrong_type(join_path("listeners", i), "a listener object", item)
            continue
        listener = _read_listener(Fields(item, f.path(join_path("listeners", i)), f.errors))
        if listener is not None:
            listeners.append(listener)
    return tuple(listeners) if len(listeners) == len(raw) else None


def _read_listener(f: Fields) -> Listener | None:
    values: list[str | None] = []
    for key in ("externalProtocol", "internalProtocol"):
        protocol = f.string(key, required=True, hint=f"set one of {', '.join(PROTOCOLS)}")
        if protocol is not None and protocol.upper() not in PROTOCOLS:
            f.fail(key, f"'{f.path(key)}' is {protocol!r}: use one of {', '.join(PROTOCOLS)}", ErrorCode.INVALID)
            protocol = None
        values.append(protocol.upper() if protocol else None)
    external_port = f.integer("externalPort", required=True, minimum=1, maximum=65535)
    internal_port = f.integer("internalPort", required=True, minimum=1, maximum=65535)
    external, internal = values
    if external is None or internal is None or external_port is None or internal_port is None:
        return None
    return Listener(external, external_port, internal, internal_port)


def _read_health_check(f: Fields) -> str | None:
    check = f.string("healthCheck")
    if not check:
        return "" if check is not None or not f.has("healthCheck") else None
    match = _HEALTH_CHECK.fullmatch(check)
    problem = ""
    if match is None:
        problem = "use PROTOCOL:PORT[/path], such as HTTP:7001/healthcheck or TCP:7001"
    elif not 1 <= int(match.group(2)) <= 65535:
        problem = "its port must be between 1 and 65535"
    elif match.group(1) in ("HTTP", "HTTPS") and not match.group(3):
        problem = f"an {match.group(1)} check needs a path, such as {check}/healthcheck"
    elif match.group(1) in ("TCP", "SSL") and match.group(3):
        problem = f"a {match.group(1)} check takes no path: use {match.group(1)}:{match.group(2)}"
    if problem:
        f.fail("healthCheck", f"'{f.path('healthCheck')}' {check!r} is invalid: {problem}", ErrorCode.INVALID)
        return None
    return check


def parse_upsert_load_balancer(f: Fields, provider: str, account: str | None) -> UpsertLoadBalancer | None:
    """An UpsertLoadBalancer, or None with the problems in `f.errors`."""
    before = len(f.errors)
    name = _read_name(f, "name")
    load_balancer_type = f.string("loadBalancerType")
    if load_balancer_type not in (None, "", "classic"):
        f.fail(
            "loadBalancerType",
            f"'{f.path('loadBalancerType')}' is {load_balancer_type!r}: only classic load balancers are supported",
            ErrorCode.INVALID,
        )
    location = read_location(f, DEPLOY_LOCATION)
    listeners = _read_listeners(f)
    health_check = _read_health_check(f)
    internal = f.boolean("isInternal")
    security_groups = f.string_list("securityGroups")
    application = read_application(f, *([name] if name else []))
    if len(f.errors) != before or not account or name is None or location is None or listeners is None:
        return None
    if health_check is None or application is None:
        return None
    return UpsertLoadBalancer(
        provider, account, application, name, location, listeners, health_check, internal, security_groups or ()
    )


def parse_delete_load_balancer(f: Fields, provider: str, account: str | None) -> DeleteLoadBalancer | None:
    """A DeleteLoadBalancer, or None with the problems in `f.errors`."""
    before = len(f.errors)
    name = _read_name(f, "loadBalancerName" if f.has("loadBalancerName") or not f.has("name") else "name")
    location = read_location(f, DELETE_LOCATION)
    application = read_application(f, *([name] if name else []))
    if len(f.errors) != before or not account or name is None or location is None or application is None:
        return None
    return DeleteLoadBalancer(provider, account, application, name, location)
