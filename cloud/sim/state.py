"""The sim cloud's resources and what each mutation does to them, with no locking, faults or tokens.

`CloudState` is the core that `SimCloud` wraps: server groups with instances, and load balancers, per account and
region. Time is passed in (`now`), so health is a pure function of it: an instance launched at `t` is Starting
until `t + health_delay_s`, then Healthy. Instance ids and DNS names are hashes of the seed and the resource's
identity (account, region, name, how many times that name was created, instance ordinal), so they are the same
on every run whatever the interleaving of calls on other resources.

AWS semantics kept: a disabled group's instances are deregistered from its load balancers (the group keeps the
load balancer names, as an ASG keeps LoadBalancerNames); resize launches or terminates instances to reach the
desired capacity (newest first when shrinking); terminated instances are replaced to keep the desired capacity.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from cloud.errors import AlreadyExists, InvalidRequest, NotFound
from cloud.model import (
    Capacity,
    HealthState,
    Instance,
    LoadBalancer,
    LoadBalancerSpec,
    ServerGroup,
    ServerGroupSpec,
)
from cloud.sim import rules
from cloud.sim.world import World

__all__ = ["CloudState"]


@dataclass(slots=True)
class _InstanceRecord:
    id: str
    zone: str
    launched_at: float


@dataclass(slots=True)
class _GroupRecord:
    spec: ServerGroupSpec
    capacity: Capacity
    created_at: float
    generation: int
    created_by: str = ""
    disabled: bool = False
    launched: int = 0
    instances: list[_InstanceRecord] = field(default_factory=list)


@dataclass(slots=True)
class _Region:
    groups: dict[str, _GroupRecord] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    generations: Counter[str] = field(default_factory=Counter)


class CloudState:
    """Every resource of one sim cloud. Not thread-safe: the caller holds a lock around each call."""

    def __init__(self, world: World, seed: int, health_delay_s: float) -> None:
        self.world = world
        self.seed = seed
        self.health_delay_s = health_delay_s
        self._regions: dict[tuple[str, str], _Region] = {}
        self._instance_ids: set[str] = set()

    # -- reads ---------------------------------------------------------------------------------------------------

    def list_server_groups(self, account: str, region: str, cluster: str | None, now: float) -> list[ServerGroup]:
        groups = self._region(account, region).groups
        names = sorted(n for n in groups if cluster is None or _in_cluster(n, cluster))
        return [self._view(account, region, n, groups[n], now) for n in names]

    def describe_server_group(self, account: str, region: str, name: str, now: float) -> ServerGroup | None:
        record = self._region(account, region).groups.get(name)
        return None if record is None else self._view(account, region, name, record, now)

    def describe_instances(self, account: str, region: str, server_group: str, now: float) -> list[Instance]:
        return list(
            self._view(account, region, server_group, self._group(account, region, server_group), now).instances
        )

    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None:
        return self._region(account, region).load_balancers.get(name)

    def load_balancer_instances(self, account: str, region: str, name: str) -> list[str]:
        """Ids of the instances registered with a load balancer: those of enabled groups that name it."""
        state = self._region(account, region)
        if name not in state.load_balancers:
            raise NotFound(f"load balancer {name!r} does not exist", account=account, region=region, target=name)
        return [
            i.id
            for group_name in sorted(state.groups)
            if not (g := state.groups[group_name]).disabled and name in g.spec.load_balancers
            for i in g.instances
        ]

    # -- mutations -----------------------------------------------------------------------------------------------

    def create_server_group(
        self, account: str, region: str, spec: ServerGroupSpec, now: float, created_by: str = ""
    ) -> ServerGroup:
        rules.check_name("server group", spec.name, account, region)
        state = self._region(account, region)
        if spec.name in state.groups:
            raise AlreadyExists(
                f"server group {spec.name!r} already exists; pick the next sequence or destroy it first",
                account=account,
                region=region,
                target=spec.name,
            )
        zones = rules.check_server_group_spec(self.world, spec, account, region)
        for lb in spec.load_balancers:
            if lb not in state.load_balancers:
                raise NotFound(
                    f"load balancer {lb!r} does not exist in {account}/{region}: upsert it before referencing it",
                    account=account,
                    region=region,
                    target=lb,
                )
        generation = state.generations[spec.name]
        state.generations[spec.name] += 1
        record = _GroupRecord(
            spec=replace(spec, zones=zones),
            capacity=spec.capacity,
            created_at=now,
            generation=generation,
            created_by=created_by,
        )
        state.groups[spec.name] = record
        self._scale(account, region, spec.name, record, now)
        return self._view(account, region, spec.name, record, now)

    def resize_server_group(self, account: str, region: str, name: str, capacity: Capacity, now: float) -> ServerGroup:
        record = self._group(account, region, name)
        rules.check_capacity(self.world, capacity, account, region, name)
        record.capacity = capacity
        self._scale(account, region, name, record, now)
        return self._view(account, region, name, record, now)

    def set_disabled(self, account: str, region: str, name: str, disabled: bool, now: float) -> ServerGroup:
        record = self._group(account, region, name)
        record.disabled = disabled
        return self._view(account, region, name, record, now)

    def destroy_server_group(self, account: str, region: str, name: str) -> None:
        self._group(account, region, name)
        record = self._region(account, region).groups.pop(name)
        self._instance_ids.difference_update(i.id for i in record.instances)

    def terminate_instances(self, account: str, region: str, instance_ids: tuple[str, ...], now: float) -> str:
        """Terminate instances and let their groups replace them; return the owning group name(s), joined by ','."""
        if not instance_ids:
            raise InvalidRequest("give at least one instance id", account=account, region=region)
        if len(set(instance_ids)) != len(instance_ids):
            raise InvalidRequest("an instance id is listed twice", account=account, region=region)
        state = self._region(account, region)
        owners: dict[str, str] = {}
        for instance_id in instance_ids:
            owner = next((n for n, g in state.groups.items() if any(i.id == instance_id for i in g.instances)), None)
            if owner is None:
                raise NotFound(
                    f"instance {instance_id!r} is not in any server group of {account}/{region}",
                    account=account,
                    region=region,
                    target=instance_id,
                )
            owners[instance_id] = owner
        for name in sorted(set(owners.values())):
            record = state.groups[name]
            record.instances = [i for i in record.instances if owners.get(i.id) != name]
            self._scale(account, region, name, record, now)
        self._instance_ids.difference_update(instance_ids)
        return ",".join(sorted(set(owners.values())))

    def upsert_load_balancer(self, account: str, region: str, spec: LoadBalancerSpec) -> LoadBalancer:
        zones = rules.check_load_balancer_spec(self.world, spec, account, region)
        state = self._region(account, region)
        existing = state.load_balancers.get(spec.name)
        if existing is None:
            generation = state.generations["lb:" + spec.name]
            state.generations["lb:" + spec.name] += 1
            digest = _hash(self.seed, "lb", account, region, spec.name, generation)
            prefix = "internal-" if spec.internal else ""
            dns_name = f"{prefix}{spec.name}-{int(digest[:10], 16)}.{region}.elb.amazonaws.com"
        else:
            dns_name = existing.dns_name
        lb = LoadBalancer(
            name=spec.name, account=account, region=region, dns_name=dns_name, spec=replace(spec, zones=zones)
        )
        state.load_balancers[spec.name] = lb
        return lb

    def delete_load_balancer(self, account: str, region: str, name: str) -> None:
        # Groups keep the name, as an ASG keeps a deleted ELB in LoadBalancerNames.
        if self._region(account, region).load_balancers.pop(name, None) is None:
            raise NotFound(f"load balancer {name!r} does not exist", account=account, region=region, target=name)

    # -- helpers -------------------------------------------------------------------------------------------------

    def _region(self, account: str, region: str) -> _Region:
        self.world.check(account, region)
        return self._regions.setdefault((account, region), _Region())

    def _group(self, account: str, region: str, name: str) -> _GroupRecord:
        record = self._region(account, region).groups.get(name)
        if record is None:
            raise NotFound(f"server group {name!r} does not exist", account=account, region=region, target=name)
        return record

    def _scale(self, account: str, region: str, name: str, record: _GroupRecord, now: float) -> None:
        """Launch or terminate instances until the group runs exactly its desired capacity."""
        desired = record.capacity.desired
        while len(record.instances) > desired:
            self._instance_ids.discard(record.instances.pop().id)
        while len(record.instances) < desired:
            ordinal = record.launched
            record.launched += 1
            instance_id = self._new_instance_id(account, region, name, record.generation, ordinal)
            zone = record.spec.zones[ordinal % len(record.spec.zones)]
            record.instances.append(_InstanceRecord(id=instance_id, zone=zone, launched_at=now))

    def _new_instance_id(self, account: str, region: str, name: str, generation: int, ordinal: int) -> str:
        salt = 0
        while True:
            instance_id = "i-" + _hash(self.seed, "instance", account, region, name, generation, ordinal, salt)[:17]
            if instance_id not in self._instance_ids:
                self._instance_ids.add(instance_id)
                return instance_id
            salt += 1

    def _view(self, account: str, region: str, name: str, record: _GroupRecord, now: float) -> ServerGroup:
        spec = record.spec
        instances = tuple(
            Instance(
                id=i.id,
                server_group=name,
                zone=i.zone,
                health=HealthState.HEALTHY if now >= i.launched_at + self.health_delay_s else HealthState.STARTING,
            )
            for i in record.instances
        )
        return ServerGroup(
            name=name,
            account=account,
            region=region,
            capacity=record.capacity,
            image=spec.image,
            disabled=record.disabled,
            instances=instances,
            load_balancers=spec.load_balancers,
            security_groups=spec.security_groups,
            zones=spec.zones,
            tags=dict(spec.tags),
            settings=dict(spec.settings),
            created_at=record.created_at,
            created_by=record.created_by,
        )


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _in_cluster(name: str, cluster: str) -> bool:
    """Whether a server group name belongs to a cluster: `cluster` itself or `cluster-vNNN`."""
    return name == cluster or re.fullmatch(re.escape(cluster) + r"-v\d{3,}", name) is not None
