"""Values that describe cloud resources, shared by every provider and both execution paths.

Everything here is a frozen dataclass with a JSON form (`to_json` / `from_json`), because these values cross
process boundaries: the sim cloud's HTTP API, Temporal activity payloads, Clouddriver task result objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "JSON",
    "Account",
    "Capacity",
    "HealthState",
    "Instance",
    "LoadBalancer",
    "LoadBalancerSpec",
    "Listener",
    "ServerGroup",
    "ServerGroupSpec",
]

JSON = Any
"""A value that `json.dumps` accepts. Kept as an alias so signatures say what they mean."""


@dataclass(frozen=True, slots=True)
class Capacity:
    """Auto-scaling bounds of a server group: min <= desired <= max."""

    min: int
    max: int
    desired: int

    def to_json(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max, "desired": self.desired}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capacity:
        return cls(min=int(data["min"]), max=int(data["max"]), desired=int(data["desired"]))


@dataclass(frozen=True, slots=True)
class Account:
    """A cloud account a provider can act in: its name, provider type and the regions it spans."""

    name: str
    provider: str
    regions: tuple[str, ...]

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "provider": self.provider, "regions": list(self.regions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Account:
        return cls(name=data["name"], provider=data["provider"], regions=tuple(data["regions"]))


class HealthState(StrEnum):
    """Health of one instance as the load balancer / discovery sees it."""

    STARTING = "Starting"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    TERMINATED = "Terminated"


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance (or container task) of a server group."""

    id: str
    server_group: str
    zone: str
    health: HealthState

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "serverGroup": self.server_group, "zone": self.zone, "health": self.health.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Instance:
        return cls(
            id=data["id"], server_group=data["serverGroup"], zone=data["zone"], health=HealthState(data["health"])
        )


@dataclass(frozen=True, slots=True)
class ServerGroupSpec:
    """What a create call asks for: everything a provider needs to make a server group named `name`.

    `image` is an AMI name on aws and a container image on titus. `settings` carries provider-specific extras
    (instance type, subnet type, iam role, titus resources, ...) as plain JSON so the spec stays comparable.
    """

    name: str
    capacity: Capacity
    image: str
    zones: tuple[str, ...] = ()
    load_balancers: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "capacity": self.capacity.to_json(),
            "image": self.image,
            "zones": list(self.zones),
            "loadBalancers": list(self.load_balancers),
            "securityGroups": list(self.security_groups),
            "tags": dict(self.tags),
            "settings": dict(self.settings),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerGroupSpec:
        return cls(
            name=data["name"],
            capacity=Capacity.from_json(data["capacity"]),
            image=data["image"],
            zones=tuple(data.get("zones", ())),
            load_balancers=tuple(data.get("loadBalancers", ())),
            security_groups=tuple(data.get("securityGroups", ())),
            tags=dict(data.get("tags", {})),
            settings=dict(data.get("settings", {})),
        )


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """A server group as a provider describes it now.

    `created_by` is the idempotency token of the create that made it, where the provider keeps one (the sim cloud
    remembers it, AWS reads it from the group's `cloudops:token` tag), else empty. Planning uses it to recognise
    a group an earlier attempt of the same operation made (see `cloud.catalogue.deploy.choose_name`).
    """

    name: str
    account: str
    region: str
    capacity: Capacity
    image: str
    disabled: bool
    instances: tuple[Instance, ...]
    load_balancers: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, JSON] = field(default_factory=dict)
    created_at: float = 0.0
    created_by: str = ""

    @property
    def healthy_count(self) -> int:
        return sum(1 for i in self.instances if i.health is HealthState.HEALTHY)

    def to_json(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "capacity": self.capacity.to_json(),
            "image": self.image,
            "disabled": self.disabled,
            "instances": [i.to_json() for i in self.instances],
            "loadBalancers": list(self.load_balancers),
            "securityGroups": list(self.security_groups),
            "zones": list(self.zones),
            "tags": dict(self.tags),
            "settings": dict(self.settings),
            "createdAt": self.created_at,
            "createdBy": self.created_by,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerGroup:
        return cls(
            name=data["name"],
            account=data["account"],
            region=data["region"],
            capacity=Capacity.from_json(data["capacity"]),
            image=data["image"],
            disabled=bool(data["disabled"]),
            instances=tuple(Instance.from_json(i) for i in data.get("instances", ())),
            load_balancers=tuple(data.get("loadBalancers", ())),
            security_groups=tuple(data.get("securityGroups", ())),
            zones=tuple(data.get("zones", ())),
            tags=dict(data.get("tags", {})),
            settings=dict(data.get("settings", {})),
            created_at=float(data.get("createdAt", 0.0)),
            created_by=str(data.get("createdBy", "")),
        )


@dataclass(frozen=True, slots=True)
class Listener:
    """One load balancer listener: external protocol/port forwarded to an instance protocol/port."""

    external_protocol: str
    external_port: int
    internal_protocol: str
    internal_port: int

    def to_json(self) -> dict[str, JSON]:
        return {
            "externalProtocol": self.external_protocol,
            "externalPort": self.external_port,
            "internalProtocol": self.internal_protocol,
            "internalPort": self.internal_port,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Listener:
        return cls(
            external_protocol=data["externalProtocol"],
            external_port=int(data["externalPort"]),
            internal_protocol=data["internalProtocol"],
            internal_port=int(data["internalPort"]),
        )


@dataclass(frozen=True, slots=True)
class LoadBalancerSpec:
    """What an upsert call asks for."""

    name: str
    listeners: tuple[Listener, ...]
    health_check: str = ""
    internal: bool = False
    zones: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "listeners": [listener.to_json() for listener in self.listeners],
            "healthCheck": self.health_check,
            "internal": self.internal,
            "zones": list(self.zones),
            "securityGroups": list(self.security_groups),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadBalancerSpec:
        return cls(
            name=data["name"],
            listeners=tuple(Listener.from_json(x) for x in data.get("listeners", ())),
            health_check=data.get("healthCheck", ""),
            internal=bool(data.get("internal", False)),
            zones=tuple(data.get("zones", ())),
            security_groups=tuple(data.get("securityGroups", ())),
        )


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    """A load balancer as a provider describes it now."""

    name: str
    account: str
    region: str
    dns_name: str
    spec: LoadBalancerSpec

    def to_json(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "dnsName": self.dns_name,
            "spec": self.spec.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadBalancer:
        return cls(
            name=data["name"],
            account=data["account"],
            region=data["region"],
            dns_name=data["dnsName"],
            spec=LoadBalancerSpec.from_json(data["spec"]),
        )
