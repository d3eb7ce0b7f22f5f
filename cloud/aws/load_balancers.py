"""Classic ELB upsert and delete, as Spinnaker's AWS upsertLoadBalancer with loadBalancerType classic.

An upsert converges the balancer on the spec: CreateLoadBalancer when it is missing; otherwise listeners are
deleted and created where they differ, zones enabled and disabled, security groups applied. The health check
is configured whenever the spec names one. A classic ELB's scheme cannot change, so asking for that is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cloud.aws.describe import default_zones, listener_changes, listener_to_aws, load_balancer_from_description
from cloud.aws.ledger import TokenLedger, TokenState, claim_token, request_fingerprint
from cloud.aws.region import RegionApi
from cloud.errors import AlreadyExists, InvalidRequest, NotFound
from cloud.model import LoadBalancer, LoadBalancerSpec

if TYPE_CHECKING:
    from mypy_boto3_elb.type_defs import CreateAccessPointInputTypeDef, LoadBalancerDescriptionTypeDef

__all__ = ["delete_load_balancer", "describe_load_balancer", "upsert_load_balancer"]

# Spinnaker's defaults for a classic ELB health check.
_HEALTH_INTERVAL, _HEALTH_TIMEOUT, _UNHEALTHY_THRESHOLD, _HEALTHY_THRESHOLD = 10, 5, 2, 10


def describe_load_balancer(api: RegionApi, name: str) -> LoadBalancer | None:
    desc = api.load_balancer(name)
    return None if desc is None else _to_model(api, desc)


def _to_model(api: RegionApi, desc: LoadBalancerDescriptionTypeDef) -> LoadBalancer:
    ids = desc.get("SecurityGroups", [])
    names = api.security_group_names(set(ids))
    return load_balancer_from_description(desc, api.account, api.region, tuple(names.get(i, i) for i in ids))


def upsert_load_balancer(api: RegionApi, ledger: TokenLedger, spec: LoadBalancerSpec, token: str) -> LoadBalancer:
    name = spec.name
    if not spec.listeners:
        raise api.error(InvalidRequest, f"load balancer {name} needs at least one listener", name)
    fingerprint = request_fingerprint("upsertLoadBalancer", api.account, api.region, spec.to_json())
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    if prior is None or prior.state is not TokenState.DONE:
        sg_ids = api.security_group_ids(spec.security_groups)
        current = api.load_balancer(name)
        if current is None:
            current = _create(api, spec, sg_ids)
        else:
            _update(api, current, spec, sg_ids)
        if spec.health_check and current.get("HealthCheck", {}).get("Target") != spec.health_check:
            with api.guard(name):
                api.elb.configure_health_check(
                    LoadBalancerName=name,
                    HealthCheck={
                        "Target": spec.health_check,
                        "Interval": _HEALTH_INTERVAL,
                        "Timeout": _HEALTH_TIMEOUT,
                        "UnhealthyThreshold": _UNHEALTHY_THRESHOLD,
                        "HealthyThreshold": _HEALTHY_THRESHOLD,
                    },
                )
        ledger.finish(token)
    desc = api.load_balancer(name)
    if desc is None:
        raise api.error(NotFound, f"load balancer {name} was deleted while it was being upserted", name)
    return _to_model(api, desc)


def _create(api: RegionApi, spec: LoadBalancerSpec, sg_ids: list[str]) -> LoadBalancerDescriptionTypeDef:
    """Create the balancer; when another request created it first, converge that one instead."""
    request: CreateAccessPointInputTypeDef = {
        "LoadBalancerName": spec.name,
        "Listeners": [listener_to_aws(x) for x in spec.listeners],
        "AvailabilityZones": list(spec.zones or default_zones(api.region)),
    }
    if sg_ids:
        request["SecurityGroups"] = sg_ids
    if spec.internal:
        request["Scheme"] = "internal"
    try:
        with api.guard(spec.name):
            api.elb.create_load_balancer(**request)
    except AlreadyExists:
        current = api.load_balancer(spec.name)
        if current is None:
            raise
        _update(api, current, spec, sg_ids)
        return current
    created = api.load_balancer(spec.name)
    if created is None:
        raise api.error(NotFound, f"load balancer {spec.name} vanished right after it was created", spec.name)
    return created


def _update(api: RegionApi, current: LoadBalancerDescriptionTypeDef, spec: LoadBalancerSpec, sg_ids: list[str]) -> None:
    name = spec.name
    model = load_balancer_from_description(current, api.account, api.region, ())
    if model.spec.internal != spec.internal:
        scheme = "internal" if model.spec.internal else "internet-facing"
        raise api.error(
            InvalidRequest,
            f"load balancer {name} is {scheme} and a classic ELB's scheme cannot change: delete it and upsert again",
            name,
        )
    delete_ports, create = listener_changes(model.spec.listeners, spec.listeners)
    with api.guard(name):
        if delete_ports:
            api.elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=delete_ports)
        if create:
            api.elb.create_load_balancer_listeners(
                LoadBalancerName=name, Listeners=[listener_to_aws(x) for x in create]
            )
        have = set(model.spec.zones)
        if spec.zones and set(spec.zones) != have:
            # Enable before disabling, so the balancer never has no zone at all.
            if add := [z for z in spec.zones if z not in have]:
                api.elb.enable_availability_zones_for_load_balancer(LoadBalancerName=name, AvailabilityZones=add)
            if drop := sorted(have - set(spec.zones)):
                api.elb.disable_availability_zones_for_load_balancer(LoadBalancerName=name, AvailabilityZones=drop)
        if sg_ids and set(sg_ids) != set(current.get("SecurityGroups", [])):
            api.elb.apply_security_groups_to_load_balancer(LoadBalancerName=name, SecurityGroups=sg_ids)


def delete_load_balancer(api: RegionApi, ledger: TokenLedger, name: str, token: str) -> None:
    fingerprint = request_fingerprint("deleteLoadBalancer", api.account, api.region, {"name": name})
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    if prior is not None and prior.state is TokenState.DONE:
        return
    # DeleteLoadBalancer succeeds for a missing balancer, so look first: only a retry may find it gone.
    if api.load_balancer(name) is None:
        if prior is None:
            raise api.error(NotFound, f"no load balancer {name} in {api.account}/{api.region}", name)
    else:
        with api.guard(name):
            api.elb.delete_load_balancer(LoadBalancerName=name)
    ledger.finish(token)
