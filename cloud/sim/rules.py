"""What the sim cloud accepts: names, capacity bounds, zones and listeners, checked before anything changes.

Pure functions over a `World`; each raises the `cloud.errors` class a real cloud would (InvalidRequest,
CapacityOutOfBounds) with the account, region and target it concerns, and a message saying what to send instead.
"""

from __future__ import annotations

import re

from cloud.errors import CapacityOutOfBounds, InvalidRequest
from cloud.model import Capacity, LoadBalancerSpec, ServerGroupSpec
from cloud.sim.world import World

__all__ = ["check_capacity", "check_load_balancer_spec", "check_name", "check_server_group_spec", "resolve_zones"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~^-]{0,254}")


def check_name(what: str, name: str, account: str, region: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest(
            f"invalid {what} name {name!r}: use 1-255 letters, digits and . _ ~ ^ -, starting with a letter or digit",
            account=account,
            region=region,
            target=str(name),
        )


def check_capacity(world: World, capacity: Capacity, account: str, region: str, name: str) -> None:
    """0 <= min <= desired <= max <= the world's per-group limit, all integers."""
    limit = world.max_instances_per_group
    c = capacity
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (c.min, c.max, c.desired)):
        raise InvalidRequest(f"capacity values must be integers: {c}", account=account, region=region, target=name)
    if not 0 <= c.min <= c.desired <= c.max or c.max > limit:
        raise CapacityOutOfBounds(
            f"capacity min={c.min} desired={c.desired} max={c.max} must satisfy 0 <= min <= desired <= max <= "
            f"{limit} (this world's per-group limit)",
            account=account,
            region=region,
            target=name,
        )


def resolve_zones(world: World, zones: tuple[str, ...], account: str, region: str, name: str) -> tuple[str, ...]:
    """The zones asked for (deduplicated), or all of the region's when none are; InvalidRequest for unknown ones."""
    known = world.zones_of(region)
    unknown = [z for z in zones if z not in known]
    if unknown:
        raise InvalidRequest(
            f"unknown zone(s) {unknown} in {region}; its zones: {list(known)}",
            account=account,
            region=region,
            target=name,
        )
    return tuple(dict.fromkeys(zones)) or known


def check_server_group_spec(world: World, spec: ServerGroupSpec, account: str, region: str) -> tuple[str, ...]:
    """Check a create request; return the zones the group will use."""
    check_name("server group", spec.name, account, region)
    check_capacity(world, spec.capacity, account, region, spec.name)
    if not spec.image:
        raise InvalidRequest("an image is required", account=account, region=region, target=spec.name)
    return resolve_zones(world, spec.zones, account, region, spec.name)


def check_load_balancer_spec(world: World, spec: LoadBalancerSpec, account: str, region: str) -> tuple[str, ...]:
    """Check an upsert request; return the zones the load balancer will use."""
    check_name("load balancer", spec.name, account, region)
    if not spec.listeners:
        raise InvalidRequest(
            "a load balancer needs at least one listener", account=account, region=region, target=spec.name
        )
    for listener in spec.listeners:
        if not all(1 <= port <= 65535 for port in (listener.external_port, listener.internal_port)):
            raise InvalidRequest(
                f"listener ports must be 1-65535: {listener}", account=account, region=region, target=spec.name
            )
    return resolve_zones(world, spec.zones, account, region, spec.name)
