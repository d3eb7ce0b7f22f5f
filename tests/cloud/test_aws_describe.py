"""The pure rules of the aws provider: health from lifecycle, cluster membership, capacity, listener changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.aws.describe import (
    LaunchFacts,
    application_of,
    capacity_problem,
    in_cluster,
    instance_health,
    listener_changes,
    load_balancer_from_description,
    server_group_from_asg,
)
from cloud.model import Capacity, HealthState, Listener


@pytest.mark.parametrize(
    ("lifecycle", "health", "expected"),
    [
        ("InService", "Healthy", HealthState.HEALTHY),
        ("InService", "Unhealthy", HealthState.UNHEALTHY),
        ("Pending", "Healthy", HealthState.STARTING),
        ("Pending:Wait", "Healthy", HealthState.STARTING),
        ("Pending:Proceed", "Healthy", HealthState.STARTING),
        ("Warmed:Pending", "Healthy", HealthState.STARTING),
        ("Pending", "Unhealthy", HealthState.UNHEALTHY),
        ("Standby", "Healthy", HealthState.UNHEALTHY),
        ("Detaching", "Healthy", HealthState.UNHEALTHY),
        ("Terminating", "Healthy", HealthState.TERMINATED),
        ("Terminating:Wait", "Unhealthy", HealthState.TERMINATED),
        ("Terminated", "Unhealthy", HealthState.TERMINATED),
    ],
)
def test_instance_health(lifecycle: str, health: str, expected: HealthState) -> None:
    assert instance_health(lifecycle, health) is expected


@pytest.mark.parametrize(
    ("name", "cluster", "member"),
    [
        ("app-main-v003", "app-main", True),
        ("app-main-v1234", "app-main", True),
        ("app-main", "app-main", True),
        ("app-main-canary-v003", "app-main", False),
        ("app-main-v03", "app-main", False),
        ("app-mainx-v003", "app-main", False),
        ("app.x-v001", "app.x", True),
        ("appZx-v001", "app.x", False),
    ],
)
def test_cluster_membership(name: str, cluster: str, member: bool) -> None:
    assert in_cluster(name, cluster) is member


def test_application_and_capacity_rules() -> None:
    assert application_of("myapp-main-v001") == "myapp" and application_of("solo") == "solo"
    assert capacity_problem(Capacity(0, 0, 0)) is None
    assert capacity_problem(Capacity(1, 3, 2)) is None
    assert "min <= desired <= max" in (capacity_problem(Capacity(2, 3, 1)) or "")
    assert "min <= desired <= max" in (capacity_problem(Capacity(1, 3, 4)) or "")
    assert "0 or more" in (capacity_problem(Capacity(-1, 3, 0)) or "")


def test_listener_changes_delete_and_recreate_what_differs() -> None:
    http = Listener("HTTP", 80, "HTTP", 7001)
    https = Listener("HTTPS", 443, "HTTP", 7001)
    moved = Listener("HTTP", 80, "HTTP", 8080)
    assert listener_changes((http,), (http,)) == ([], [])
    assert listener_changes((http,), (Listener("http", 80, "http", 7001),)) == ([], [])  # protocols ignore case
    assert listener_changes((http,), (moved, https)) == ([80], [moved, https])
    assert listener_changes((http, https), (https,)) == ([80], [])


def test_server_group_from_asg_keeps_internal_tags_out() -> None:
    asg: Any = {
        "AutoScalingGroupName": "app-main-v001",
        "MinSize": 1,
        "MaxSize": 3,
        "DesiredCapacity": 2,
        "AvailabilityZones": ["us-east-1a"],
        "HealthCheckType": "ELB",
        "CreatedTime": datetime(2024, 1, 1, tzinfo=UTC),
        "SuspendedProcesses": [{"ProcessName": "AddToLoadBalancer"}],
        "Tags": [{"Key": "cloudops:token", "Value": "t"}, {"Key": "owner", "Value": "me"}],
        "Instances": [
            {
                "InstanceId": "i-1",
                "AvailabilityZone": "us-east-1a",
                "LifecycleState": "InService",
                "HealthStatus": "Healthy",
            }
        ],
        "MixedInstancesPolicy": {"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateName": "lt-x"}}},
    }
    group = server_group_from_asg(asg, "prod", "us-east-1", LaunchFacts(image="app-ami", instance_type="m5.large"))
    assert group.disabled and group.tags == {"owner": "me"} and group.image == "app-ami"
    assert group.settings == {
        "healthCheckType": "ELB",
        "healthCheckGracePeriod": 0,
        "launchTemplate": "lt-x",
        "instanceType": "m5.large",
    }
    assert group.instances[0].health is HealthState.HEALTHY and group.created_at == 1704067200.0


def test_load_balancer_from_description() -> None:
    desc: Any = {
        "LoadBalancerName": "app-frontend",
        "DNSName": "app-frontend.elb.example",
        "ListenerDescriptions": [{"Listener": {"Protocol": "tcp", "LoadBalancerPort": 22, "InstancePort": 22}}],
        "HealthCheck": {"Target": "TCP:22"},
        "Scheme": "internal",
        "AvailabilityZones": ["us-east-1a"],
    }
    lb = load_balancer_from_description(desc, "prod", "us-east-1", ("app-elb",))
    assert lb.dns_name == "app-frontend.elb.example"
    assert lb.spec.listeners == (Listener("TCP", 22, "TCP", 22),)
    assert lb.spec.internal and lb.spec.health_check == "TCP:22" and lb.spec.security_groups == ("app-elb",)
