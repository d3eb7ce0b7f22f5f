"""Pure translations between AWS descriptions and `cloud.model` values, and the naming and tagging rules.

No IO here: the functions take the dictionaries boto3 returns (typed by the boto3 stubs) and give back model
values, so the mapping of lifecycle states to health, of suspended processes to "disabled", and of listeners
to listener changes can be read and tested on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloud.model import Capacity, HealthState, Instance, Listener, LoadBalancer, LoadBalancerSpec, ServerGroup

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import AutoScalingGroupTypeDef, LaunchTemplateSpecificationTypeDef
    from mypy_boto3_elb.type_defs import ListenerTypeDef, LoadBalancerDescriptionTypeDef

__all__ = [
    "APPLICATION_TAG",
    "DISABLE_PROCESSES",
    "INTERNAL_TAG_PREFIX",
    "REQUEST_TAG",
    "TOKEN_TAG",
    "LaunchFacts",
    "application_of",
    "capacity_problem",
    "default_zones",
    "in_cluster",
    "instance_health",
    "is_deleting",
    "is_disabled",
    "launch_template_of",
    "listener_changes",
    "listener_to_aws",
    "load_balancer_from_description",
    "server_group_from_asg",
    "tags_of",
]

TOKEN_TAG = "cloudops:token"
REQUEST_TAG = "cloudops:request"
APPLICATION_TAG = "spinnaker:application"
INTERNAL_TAG_PREFIX = "cloudops:"
DISABLE_PROCESSES = ("AddToLoadBalancer", "Launch", "Terminate")
"""What disable suspends and enable resumes. AddToLoadBalancer suspended is what marks a group disabled."""

_DELETING = "Delete in progress"


@dataclass(frozen=True, slots=True)
class LaunchFacts:
    """What a group's launch template says, with ids already turned into names where people use names."""

    image: str = ""
    security_groups: tuple[str, ...] = ()
    instance_type: str = ""
    key_pair: str = ""
    iam_role: str = ""


def instance_health(lifecycle_state: str, health_status: str) -> HealthState:
    """Healthy only when Auto Scaling says InService and Healthy; Pending and warm-pool states are Starting."""
    if lifecycle_state.startswith("Terminat"):
        return HealthState.TERMINATED
    if health_status != "Healthy":
        return HealthState.UNHEALTHY
    if lifecycle_state.startswith(("Pending", "Warmed:")):
        return HealthState.STARTING
    if lifecycle_state == "InService":
        return HealthState.HEALTHY
    return HealthState.UNHEALTHY  # Standby, Detaching, Quarantined: alive but out of service


def tags_of(asg: AutoScalingGroupTypeDef) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in asg.get("Tags", []) if "Key" in t}


def is_disabled(asg: AutoScalingGroupTypeDef) -> bool:
    return any(p.get("ProcessName") == "AddToLoadBalancer" for p in asg.get("SuspendedProcesses", []))


def is_deleting(asg: AutoScalingGroupTypeDef) -> bool:
    """A group AWS is deleting (ForceDelete runs asynchronously) is gone for every caller."""
    return asg.get("Status", "") == _DELETING


def in_cluster(name: str, cluster: str) -> bool:
    """Whether server group `name` (`app-stack-detail-v003`) belongs to `cluster` (`app-stack-detail`)."""
    return name == cluster or re.fullmatch(re.escape(cluster) + r"-v\d{3,}", name) is not None


def application_of(name: str) -> str:
    return name.split("-", 1)[0]


def default_zones(region: str) -> tuple[str, ...]:
    return tuple(f"{region}{suffix}" for suffix in "abc")


def capacity_problem(capacity: Capacity) -> str | None:
    """Why `capacity` can never be applied, or None when it is fine."""
    if capacity.min < 0:
        return f"min must be 0 or more, got {capacity.min}"
    if not capacity.min <= capacity.desired <= capacity.max:
        return f"need min <= desired <= max, got min={capacity.min} desired={capacity.desired} max={capacity.max}"
    return None


def launch_template_of(asg: AutoScalingGroupTypeDef) -> LaunchTemplateSpecificationTypeDef | None:
    """The launch template a group launches from, directly or through a mixed-instances policy."""
    if "LaunchTemplate" in asg:
        return asg["LaunchTemplate"]
    policy = asg.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    return policy.get("LaunchTemplateSpecification")


def server_group_from_asg(asg: AutoScalingGroupTypeDef, account: str, region: str, facts: LaunchFacts) -> ServerGroup:
    name = asg["AutoScalingGroupName"]
    instances = tuple(
        Instance(
            id=i["InstanceId"],
            server_group=name,
            zone=i["AvailabilityZone"],
            health=instance_health(i["LifecycleState"], i["HealthStatus"]),
        )
        for i in asg.get("Instances", [])
    )
    tags = tags_of(asg)
    settings: dict[str, object] = {
        "healthCheckType": asg["HealthCheckType"],
        "healthCheckGracePeriod": asg.get("HealthCheckGracePeriod", 0),
    }
    template = launch_template_of(asg)
    if template is not None and "LaunchTemplateName" in template:
        settings["launchTemplate"] = template["LaunchTemplateName"]
    for key, value in (("instanceType", facts.instance_type), ("keyPair", facts.key_pair), ("iamRole", facts.iam_role)):
        if value:
            settings[key] = value
    return ServerGroup(
        name=name,
        account=account,
        region=region,
        capacity=Capacity(min=asg["MinSize"], max=asg["MaxSize"], desired=asg["DesiredCapacity"]),
        image=facts.image,
        disabled=is_disabled(asg),
        instances=instances,
        load_balancers=tuple(asg.get("LoadBalancerNames", [])),
        security_groups=facts.security_groups,
        zones=tuple(asg["AvailabilityZones"]),
        tags={k: v for k, v in tags.items() if not k.startswith(INTERNAL_TAG_PREFIX)},
        settings=settings,
        created_at=asg["CreatedTime"].timestamp(),
        created_by=tags.get(TOKEN_TAG, ""),
    )


def listener_to_aws(listener: Listener) -> ListenerTypeDef:
    return {
        "Protocol": listener.external_protocol.upper(),
        "LoadBalancerPort": listener.external_port,
        "InstanceProtocol": listener.internal_protocol.upper(),
        "InstancePort": listener.internal_port,
    }


def _listener_from_aws(listener: ListenerTypeDef) -> Listener:
    return Listener(
        external_protocol=listener["Protocol"].upper(),
        external_port=listener["LoadBalancerPort"],
        internal_protocol=listener.get("InstanceProtocol", listener["Protocol"]).upper(),
        internal_port=listener["InstancePort"],
    )


def listener_changes(current: tuple[Listener, ...], wanted: tuple[Listener, ...]) -> tuple[list[int], list[Listener]]:
    """(ports whose listener must go, listeners to create) to turn `current` into `wanted`.

    A classic ELB has one listener per external port and cannot edit one in place: a changed listener is
    deleted and created again.
    """
    normal = {_normalised(x) for x in wanted}
    have = {_normalised(x) for x in current}
    delete = sorted({x.external_port for x in current if _normalised(x) not in normal})
    create = [x for x in wanted if _normalised(x) not in have]
    return delete, create


def _normalised(listener: Listener) -> Listener:
    return Listener(
        listener.external_protocol.upper(),
        listener.external_port,
        listener.internal_protocol.upper(),
        listener.internal_port,
    )


def load_balancer_from_description(
    desc: LoadBalancerDescriptionTypeDef, account: str, region: str, security_groups: tuple[str, ...]
) -> LoadBalancer:
    name = desc.get("LoadBalancerName", "")
    spec = LoadBalancerSpec(
        name=name,
        listeners=tuple(
            _listener_from_aws(d["Listener"]) for d in desc.get("ListenerDescriptions", []) if "Listener" in d
        ),
        health_check=desc.get("HealthCheck", {}).get("Target", ""),
        internal=desc.get("Scheme", "") == "internal",
        zones=tuple(desc.get("AvailabilityZones", [])),
        security_groups=security_groups,
    )
    return LoadBalancer(name=name, account=account, region=region, dns_name=desc.get("DNSName", ""), spec=spec)
