"""AwsProvider against moto's server mode over HTTP: the real boto3 client code runs, only AWS is simulated.

Every test works on names of its own (a fresh application prefix), so they share one moto server.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from infra import Process, free_port, start_process

from cloud.aws import AssumeRoleSessions, AwsProvider, MemoryTokenLedger
from cloud.aws.describe import TOKEN_TAG
from cloud.aws.ledger import request_fingerprint
from cloud.errors import (
    AlreadyExists,
    CapacityOutOfBounds,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    UnknownAccount,
    UnknownRegion,
)
from cloud.factory import open_provider
from cloud.model import Account, Capacity, HealthState, Listener, LoadBalancerSpec, ServerGroupSpec
from cloud.provider import CloudProvider

REGION = "us-east-1"
ACCOUNT = "prod"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
IMAGE = "myapp-1.2.0-ami"
HTTP_80 = Listener("HTTP", 80, "HTTP", 7001)
_names = itertools.count(1)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Process]:
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = start_process(argv, port, env=CREDENTIALS, name="moto", timeout=30)
    yield proc
    proc.stop()


_CORE = botocore.session.Session()
_CORE.set_credentials("testing", "testing")


def _session(account: str = ACCOUNT, region: str = REGION) -> boto3.Session:
    # One botocore session behind every test's provider: service models load once, not in every test.
    return boto3.Session(botocore_session=_CORE, region_name=region)


FAST = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=15)


def make_provider(url: str) -> AwsProvider:
    accounts = [Account(ACCOUNT, "aws", (REGION, "us-west-2")), Account("test", "aws", (REGION,))]
    return AwsProvider(accounts, endpoint_url=url, session_factory=_session, client_config=FAST)


@dataclass
class Raw:
    """Plain boto3 clients on the moto server, to set the scene and to check what the provider did."""

    autoscaling: Any
    ec2: Any
    elb: Any

    def tags(self, group: str) -> dict[str, str]:
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        return {t["Key"]: t["Value"] for t in found[0]["Tags"]}

    def groups(self, *names: str) -> list[dict[str, Any]]:
        answer = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(names))
        return list(answer["AutoScalingGroups"])

    def templates(self, name: str) -> list[dict[str, Any]]:
        found = self.ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [name]}])
        return list(found["LaunchTemplates"])

    def elb_instances(self, name: str) -> set[str]:
        desc = self.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        return {i["InstanceId"] for i in desc["Instances"]}


@pytest.fixture(scope="session")
def raw(moto_server: Process) -> Raw:
    s = _session()
    url = moto_server.url
    return Raw(
        autoscaling=s.client("autoscaling", endpoint_url=url),
        ec2=s.client("ec2", endpoint_url=url),
        elb=s.client("elb", endpoint_url=url),
    )


@pytest.fixture(scope="session")
def world(raw: Raw) -> dict[str, str]:
    """An image and a security group the specs refer to by name, as Spinnaker users do."""
    image_id = raw.ec2.register_image(Name=IMAGE, RootDeviceName="/dev/sda1")["ImageId"]
    sg_id = raw.ec2.create_security_group(GroupName="myapp", Description="myapp instances")["GroupId"]
    return {"image_id": image_id, "sg_id": sg_id}


@pytest.fixture()
def aws(moto_server: Process, world: dict[str, str]) -> AwsProvider:
    return make_provider(moto_server.url)


@pytest.fixture()
def app() -> str:
    return f"app{next(_names)}"


def spec_for(app: str, *, seq: int = 0, lbs: tuple[str, ...] = (), **over: Any) -> ServerGroupSpec:
    base: dict[str, Any] = {
        "name": f"{app}-main-v{seq:03d}",
        "capacity": Capacity(min=1, max=4, desired=2),
        "image": IMAGE,
        "zones": (f"{REGION}a", f"{REGION}b"),
        "load_balancers": lbs,
        "security_groups": ("myapp",),
        "tags": {"owner": "team-a"},
        "settings": {"instanceType": "m5.large"},
    }
    base.update(over)
    return ServerGroupSpec(**base)


def lb_spec(name: str, **over: Any) -> LoadBalancerSpec:
    base: dict[str, Any] = {
        "name": name,
        "listeners": (HTTP_80,),
        "health_check": "HTTP:7001/healthcheck",
        "zones": (f"{REGION}a",),
        "security_groups": ("myapp",),
    }
    base.update(over)
    return LoadBalancerSpec(**base)


# accounts and scopes


def test_accounts_and_unknown_scopes(aws: AwsProvider) -> None:
    assert isinstance(aws, CloudProvider)
    assert [a.name for a in aws.accounts()] == [ACCOUNT, "test"]
    with pytest.raises(UnknownAccount) as unknown:
        aws.list_server_groups("nope", REGION)
    assert unknown.value.account == "nope"
    with pytest.raises(UnknownRegion):
        aws.describe_server_group("test", "us-west-2", "x-v000")
    with pytest.raises(UnknownRegion):
        aws.create_server_group(ACCOUNT, "eu-west-1", spec_for("x"), "t")


# create, describe, list


def test_create_describes_the_group_as_asked(aws: AwsProvider, raw: Raw, app: str, world: dict[str, str]) -> None:
    aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(f"{app}-frontend"), f"{app}-lb")
    spec = spec_for(app, lbs=(f"{app}-frontend",))
    group = aws.create_server_group(ACCOUNT, REGION, spec, f"{app}-create")

    assert (group.name, group.account, group.region) == (spec.name, ACCOUNT, REGION)
    assert group.capacity == spec.capacity
    assert group.image == IMAGE
    assert group.zones == spec.zones
    assert group.load_balancers == (f"{app}-frontend",)
    assert group.security_groups == ("myapp",)
    assert group.tags == {"spinnaker:application": app, "owner": "team-a"}
    assert group.settings["instanceType"] == "m5.large"
    assert group.settings["launchTemplate"] == spec.name
    assert not group.disabled
    assert len(group.instances) == 2 and group.healthy_count == 2
    assert {i.zone for i in group.instances} <= set(spec.zones)
    assert group.created_at > 0

    # What AWS holds: the token on the group, a launch template of the same name, instances behind the ELB.
    tags = raw.tags(spec.name)
    assert tags["cloudops:token"] == f"{app}-create"
    assert tags["spinnaker:application"] == app
    assert len(raw.templates(spec.name)) == 1
    assert raw.elb_instances(f"{app}-frontend") == {i.id for i in group.instances}

    assert aws.describe_server_group(ACCOUNT, REGION, spec.name) == group
    assert aws.describe_server_group(ACCOUNT, REGION, f"{app}-main-v999") is None
    assert [i.id for i in aws.describe_instances(ACCOUNT, REGION, spec.name)] == [i.id for i in group.instances]
    with pytest.raises(NotFound):
        aws.describe_instances(ACCOUNT, REGION, f"{app}-main-v999")


def test_list_filters_by_cluster(aws: AwsProvider, app: str) -> None:
    small = Capacity(0, 1, 0)
    for name in (f"{app}-main-v000", f"{app}-main-v001", f"{app}-main-canary-v000", f"{app}-main"):
        aws.create_server_group(ACCOUNT, REGION, spec_for(app, name=name, capacity=small), f"{name}-t")
    cluster = [g.name for g in aws.list_server_groups(ACCOUNT, REGION, f"{app}-main")]
    assert cluster == [f"{app}-main", f"{app}-main-v000", f"{app}-main-v001"]
    everything = {g.name for g in aws.list_server_groups(ACCOUNT, REGION)}
    assert f"{app}-main-canary-v000" in everything and set(cluster) <= everything


def test_list_pages_through_many_groups(aws: AwsProvider, raw: Raw, app: str, world: dict[str, str]) -> None:
    # Groups made outside cloudops, sharing one template: more than one DescribeAutoScalingGroups page (50).
    raw.ec2.create_launch_template(
        LaunchTemplateName=f"{app}-shared",
        LaunchTemplateData={"ImageId": world["image_id"], "InstanceType": "t3.micro"},
    )
    for n in range(55):
        raw.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"{app}-bulk-v{n:03d}",
            LaunchTemplate={"LaunchTemplateName": f"{app}-shared", "Version": "$Latest"},
            MinSize=0,
            MaxSize=1,
            DesiredCapacity=0,
            AvailabilityZones=[f"{REGION}a"],
        )
    groups = aws.list_server_groups(ACCOUNT, REGION, f"{app}-bulk")
    assert len(groups) == 55
    assert {g.image for g in groups} == {IMAGE} and {g.settings["instanceType"] for g in groups} == {"t3.micro"}


def test_group_made_elsewhere_is_described_and_never_taken_over(
    aws: AwsProvider, raw: Raw, app: str, world: dict[str, str]
) -> None:
    name = f"{app}-main-v000"
    raw.ec2.create_launch_template(
        LaunchTemplateName=f"{app}-shared",
        LaunchTemplateData={"ImageId": world["image_id"], "InstanceType": "t3.small", "KeyName": "ops"},
    )
    raw.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{app}-shared"},
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    found = aws.describe_server_group(ACCOUNT, REGION, name)
    assert found is not None and found.image == IMAGE and found.settings["keyPair"] == "ops"
    with pytest.raises(AlreadyExists, match="next sequence number"):
        aws.create_server_group(ACCOUNT, REGION, spec_for(app), "a-new-token")
    aws.destroy_server_group(ACCOUNT, REGION, name, f"{app}-destroy")
    assert raw.groups(name) == []
    assert len(raw.templates(f"{app}-shared")) == 1  # a template named for another group is not ours to delete


# create: idempotency


def test_create_retried_with_the_same_token_makes_nothing_new(
    aws: AwsProvider, raw: Raw, app: str, moto_server: Process
) -> None:
    spec, token = spec_for(app), f"{app}-create"
    first = aws.create_server_group(ACCOUNT, REGION, spec, token)
    again = aws.create_server_group(ACCOUNT, REGION, spec, token)
    assert again == first
    # Another process (an empty ledger) recognises the group by its tags.
    elsewhere = make_provider(moto_server.url)
    assert elsewhere.create_server_group(ACCOUNT, REGION, spec, token) == first
    assert len(raw.groups(spec.name)) == 1 and len(raw.templates(spec.name)) == 1

    with pytest.raises(AlreadyExists):
        aws.create_server_group(ACCOUNT, REGION, spec, f"{app}-other-token")
    changed = spec_for(app, capacity=Capacity(1, 5, 3))
    with pytest.raises(IdempotencyConflict):
        aws.create_server_group(ACCOUNT, REGION, changed, token)  # this process's ledger knows the token
    with pytest.raises(IdempotencyConflict):
        make_provider(moto_server.url).create_server_group(ACCOUNT, REGION, changed, token)  # the tags do
    assert raw.groups(spec.name)[0]["DesiredCapacity"] == 2


def test_every_process_reads_the_creating_token_back_as_created_by(
    aws: AwsProvider, app: str, moto_server: Process
) -> None:
    """What planning reads to recognise its own group after a worker restart (`cloud.catalogue.deploy.choose_name`):
    the token comes back from the group's tags, not from this process's ledger."""
    spec, token = spec_for(app), f"{app}-create"
    assert aws.create_server_group(ACCOUNT, REGION, spec, token).created_by == token
    elsewhere = make_provider(moto_server.url)
    described = elsewhere.describe_server_group(ACCOUNT, REGION, spec.name)
    assert described is not None and described.created_by == token
    assert [g.created_by for g in elsewhere.list_server_groups(ACCOUNT, REGION, spec.name)] == [token]
    assert TOKEN_TAG not in described.tags  # still kept out of the user's tags


def test_create_resumes_from_a_launch_template_an_earlier_attempt_made(
    aws: AwsProvider, raw: Raw, app: str, world: dict[str, str]
) -> None:
    spec, token = spec_for(app), f"{app}-create"
    fingerprint = request_fingerprint("createServerGroup", ACCOUNT, REGION, spec.to_json())
    raw.ec2.create_launch_template(
        LaunchTemplateName=spec.name,
        LaunchTemplateData={"ImageId": world["image_id"], "InstanceType": "m5.large"},
        TagSpecifications=[
            {
                "ResourceType": "launch-template",
                "Tags": [{"Key": "cloudops:token", "Value": token}, {"Key": "cloudops:request", "Value": fingerprint}],
            }
        ],
    )
    group = aws.create_server_group(ACCOUNT, REGION, spec, token)
    assert group.name == spec.name and len(raw.templates(spec.name)) == 1

    # A template under the name that another request made blocks the create, and nothing is made.
    other = spec_for(app, seq=1)
    raw.ec2.create_launch_template(
        LaunchTemplateName=other.name, LaunchTemplateData={"ImageId": world["image_id"], "InstanceType": "m5.large"}
    )
    with pytest.raises(AlreadyExists, match="launch template"):
        aws.create_server_group(ACCOUNT, REGION, other, f"{app}-create-1")
    assert raw.groups(other.name) == []


# create: rejections, before anything is made or with what was made cleaned up


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"image": "no-such-image"}, NotFound, "no image named no-such-image"),
        ({"image": "ami-00000000000000000"}, NotFound, "InvalidAMIID"),
        ({"load_balancers": ("no-such-elb",)}, NotFound, "no-such-elb"),
        ({"security_groups": ("no-such-sg",)}, NotFound, "no-such-sg"),
        ({"capacity": Capacity(min=1, max=2, desired=3)}, CapacityOutOfBounds, "min <= desired <= max"),
        ({"capacity": Capacity(min=-1, max=2, desired=0)}, CapacityOutOfBounds, "min must be 0 or more"),
        ({"settings": {"instanceType": 5}}, InvalidRequest, "instanceType"),
        ({"settings": {"healthCheckGracePeriod": "soon"}}, InvalidRequest, "healthCheckGracePeriod"),
        ({"zones": (f"{REGION}z",)}, InvalidRequest, "us-east-1z"),  # refused by CreateAutoScalingGroup itself
    ],
)
def test_create_rejections_leave_nothing_behind(
    aws: AwsProvider, raw: Raw, app: str, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    spec = spec_for(app, **change)
    with pytest.raises(error, match=message) as raised:
        aws.create_server_group(ACCOUNT, REGION, spec, f"{app}-create")
    assert getattr(raised.value, "account", None) == ACCOUNT
    assert raw.groups(spec.name) == []
    assert raw.templates(spec.name) == []


# resize


def test_resize_and_its_retries(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = aws.create_server_group(ACCOUNT, REGION, spec_for(app), f"{app}-create").name
    resized = aws.resize_server_group(ACCOUNT, REGION, name, Capacity(2, 6, 3), f"{app}-resize")
    assert resized.capacity == Capacity(2, 6, 3) and len(resized.instances) == 3

    # Someone resizes by hand; a late retry of the first resize must not undo that.
    raw.autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=1, MaxSize=6, DesiredCapacity=1)
    retried = aws.resize_server_group(ACCOUNT, REGION, name, Capacity(2, 6, 3), f"{app}-resize")
    assert retried.capacity == Capacity(1, 6, 1)
    with pytest.raises(IdempotencyConflict):
        aws.resize_server_group(ACCOUNT, REGION, name, Capacity(1, 2, 2), f"{app}-resize")
    with pytest.raises(CapacityOutOfBounds):
        aws.resize_server_group(ACCOUNT, REGION, name, Capacity(3, 2, 2), f"{app}-resize-bad")
    with pytest.raises(NotFound) as missing:
        aws.resize_server_group(ACCOUNT, REGION, f"{app}-main-v999", Capacity(1, 2, 1), f"{app}-resize-2")
    assert missing.value.target == f"{app}-main-v999"


# health


def test_health_follows_lifecycle_and_health_status(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = aws.create_server_group(ACCOUNT, REGION, spec_for(app, capacity=Capacity(3, 3, 3)), f"{app}-c").name
    first, second, third = (i.id for i in aws.describe_instances(ACCOUNT, REGION, name))
    raw.autoscaling.set_instance_health(InstanceId=first, HealthStatus="Unhealthy")
    raw.autoscaling.enter_standby(AutoScalingGroupName=name, InstanceIds=[second], ShouldDecrementDesiredCapacity=True)
    health = {i.id: i.health for i in aws.describe_instances(ACCOUNT, REGION, name)}
    assert health[first] is HealthState.UNHEALTHY
    assert health[second] is HealthState.UNHEALTHY  # Standby: alive, out of service
    assert health[third] is HealthState.HEALTHY


# disable and enable


def test_disable_and_enable_move_instances_out_of_and_into_the_elb(
    aws: AwsProvider, raw: Raw, app: str, world: dict[str, str]
) -> None:
    # moto keeps Auto Scaling's own ELB registrations apart from RegisterInstances/DeregisterInstances ones, and
    # deregistering removes only the latter (AWS removes either). So the group is attached to its ELB before
    # the ELB exists: Auto Scaling registers nothing, and every registration seen is the provider's doing.
    elb, name = f"{app}-frontend", f"{app}-main-v000"
    raw.ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": world["image_id"], "InstanceType": "m5.large"}
    )
    raw.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "1"},
        MinSize=2,
        MaxSize=2,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
        LoadBalancerNames=[elb],
    )
    aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(elb), f"{app}-lb")
    ids = {i.id for i in aws.describe_instances(ACCOUNT, REGION, name)}
    assert len(ids) == 2 and raw.elb_instances(elb) == set()

    enabled = aws.enable_server_group(ACCOUNT, REGION, name, f"{app}-enable")
    assert not enabled.disabled and enabled.load_balancers == (elb,)
    assert raw.elb_instances(elb) == ids

    disabled = aws.disable_server_group(ACCOUNT, REGION, name, f"{app}-disable")
    assert disabled.disabled
    suspended = {p["ProcessName"] for p in raw.groups(name)[0]["SuspendedProcesses"]}
    assert suspended == {"AddToLoadBalancer", "Launch", "Terminate"}
    assert raw.elb_instances(elb) == set()
    assert aws.disable_server_group(ACCOUNT, REGION, name, f"{app}-disable") == disabled
    assert aws.describe_server_group(ACCOUNT, REGION, name) == disabled

    again = aws.enable_server_group(ACCOUNT, REGION, name, f"{app}-enable-2")
    assert not again.disabled
    assert raw.groups(name)[0]["SuspendedProcesses"] == []
    assert raw.elb_instances(elb) == ids

    with pytest.raises(NotFound):
        aws.disable_server_group(ACCOUNT, REGION, f"{app}-main-v999", f"{app}-disable-2")
    with pytest.raises(IdempotencyConflict):
        aws.enable_server_group(ACCOUNT, REGION, name, f"{app}-disable")  # a disable's token


# destroy


def test_destroy_and_its_retries(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = aws.create_server_group(ACCOUNT, REGION, spec_for(app), f"{app}-create").name
    aws.destroy_server_group(ACCOUNT, REGION, name, f"{app}-destroy")
    assert aws.describe_server_group(ACCOUNT, REGION, name) is None
    assert raw.groups(name) == [] and raw.templates(name) == []

    aws.destroy_server_group(ACCOUNT, REGION, name, f"{app}-destroy")  # a retry: already done
    with pytest.raises(NotFound):
        aws.destroy_server_group(ACCOUNT, REGION, name, f"{app}-another-destroy")
    with pytest.raises(NotFound, match="no longer exists"):
        aws.create_server_group(ACCOUNT, REGION, spec_for(app), f"{app}-create")  # a late retry brings nothing back
    assert raw.groups(name) == []


def test_destroy_retry_after_an_unanswered_first_attempt_finishes_the_job(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = aws.create_server_group(ACCOUNT, REGION, spec_for(app), f"{app}-create").name
    token = f"{app}-destroy"
    # The first attempt claimed its token and deleted the group, then its answer was lost (a timeout).
    aws.ledger.claim(token, request_fingerprint("destroyServerGroup", ACCOUNT, REGION, {"name": name}))
    raw.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    aws.destroy_server_group(ACCOUNT, REGION, name, token)
    assert raw.templates(name) == []


# terminate instances


def test_terminate_instances_keeps_desired_and_is_safe_to_retry(aws: AwsProvider, raw: Raw, app: str) -> None:
    group = aws.create_server_group(ACCOUNT, REGION, spec_for(app), f"{app}-create")
    victim, survivor = (i.id for i in group.instances)

    with pytest.raises(NotFound, match="i-00000000000000000"):
        aws.terminate_instances(ACCOUNT, REGION, (survivor, "i-00000000000000000"), f"{app}-bad")
    assert survivor in {i.id for i in aws.describe_instances(ACCOUNT, REGION, group.name)}  # nothing applied

    aws.terminate_instances(ACCOUNT, REGION, (victim,), f"{app}-term")
    after = aws.describe_server_group(ACCOUNT, REGION, group.name)
    assert after is not None and after.capacity.desired == 2
    assert victim not in {i.id for i in after.instances} and survivor in {i.id for i in after.instances}

    aws.terminate_instances(ACCOUNT, REGION, (victim,), f"{app}-term")  # a retry: already done
    with pytest.raises(NotFound):
        aws.terminate_instances(ACCOUNT, REGION, (victim,), f"{app}-term-again")
    aws.terminate_instances(ACCOUNT, REGION, (), f"{app}-nothing")


# load balancers


def test_upsert_creates_then_converges_a_classic_elb(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = f"{app}-frontend"
    created = aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name), f"{app}-lb-1")
    assert created.dns_name and created.account == ACCOUNT
    assert created.spec == lb_spec(name)
    assert aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name), f"{app}-lb-1") == created

    wanted = lb_spec(
        name,
        listeners=(Listener("HTTP", 80, "HTTP", 8080), Listener("TCP", 443, "TCP", 7443)),
        health_check="HTTP:8080/health",
        zones=(f"{REGION}b", f"{REGION}c"),
    )
    updated = aws.upsert_load_balancer(ACCOUNT, REGION, wanted, f"{app}-lb-2")
    assert set(updated.spec.listeners) == set(wanted.listeners)
    assert updated.spec.health_check == "HTTP:8080/health"
    assert set(updated.spec.zones) == set(wanted.zones)
    assert aws.describe_load_balancer(ACCOUNT, REGION, name) == updated

    with pytest.raises(IdempotencyConflict):
        aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name), f"{app}-lb-2")
    with pytest.raises(InvalidRequest, match="scheme"):
        aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name, internal=True), f"{app}-lb-3")
    with pytest.raises(InvalidRequest, match="listener"):
        aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name, listeners=()), f"{app}-lb-4")
    with pytest.raises(NotFound, match="no-such-sg"):
        aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name, security_groups=("no-such-sg",)), f"{app}-lb-5")
    assert aws.describe_load_balancer(ACCOUNT, REGION, f"{app}-missing") is None


def test_internal_elb_without_security_groups(aws: AwsProvider, app: str) -> None:
    spec = lb_spec(f"{app}-internal", internal=True, security_groups=(), health_check="")
    made = aws.upsert_load_balancer(ACCOUNT, REGION, spec, f"{app}-lb")
    assert made.spec.internal and made.spec.listeners == (HTTP_80,)


def test_delete_load_balancer_and_its_retries(aws: AwsProvider, raw: Raw, app: str) -> None:
    name = f"{app}-frontend"
    aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(name), f"{app}-lb")
    aws.delete_load_balancer(ACCOUNT, REGION, name, f"{app}-delete")
    assert aws.describe_load_balancer(ACCOUNT, REGION, name) is None
    aws.delete_load_balancer(ACCOUNT, REGION, name, f"{app}-delete")  # a retry: already done
    with pytest.raises(NotFound):
        aws.delete_load_balancer(ACCOUNT, REGION, name, f"{app}-another-delete")


def test_a_token_is_never_reused_across_operations(aws: AwsProvider, app: str) -> None:
    aws.upsert_load_balancer(ACCOUNT, REGION, lb_spec(f"{app}-frontend"), f"{app}-token")
    with pytest.raises(IdempotencyConflict):
        aws.delete_load_balancer(ACCOUNT, REGION, f"{app}-frontend", f"{app}-token")


# from the environment, with a role assumed per account


def test_from_environment_assumes_each_accounts_role(
    moto_server: Process, world: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: str
) -> None:
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    role = "arn:aws:iam::123456789012:role/spinnaker"
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        f"- name: prod\n  regions: [{REGION}]\n  roleArn: {role}\n- name: test\n  regions: [{REGION}]\n"
    )
    monkeypatch.setenv("CLOUDOPS_AWS_ACCOUNTS", str(accounts))

    provider = open_provider(f"aws+{moto_server.url}")
    assert isinstance(provider, AwsProvider)
    assert [(a.name, a.provider, a.regions) for a in provider.accounts()] == [
        ("prod", "aws", (REGION,)),
        ("test", "aws", (REGION,)),
    ]
    made = provider.create_server_group("prod", REGION, spec_for(app, capacity=Capacity(0, 1, 0)), f"{app}-c")
    seen = provider.describe_server_group("test", REGION, made.name)  # one moto account behind both names
    assert seen is not None and seen.account == "test" and seen.capacity == made.capacity

    sessions = AssumeRoleSessions({"prod": role}, endpoint_url=moto_server.url)
    assumed = sessions("prod", REGION).client("sts", endpoint_url=moto_server.url).get_caller_identity()
    assert assumed["Arn"].endswith(":assumed-role/spinnaker/cloudops-prod")
    ambient = sessions("test", REGION).client("sts", endpoint_url=moto_server.url).get_caller_identity()
    assert "assumed-role" not in ambient["Arn"]


def test_an_injected_ledger_is_used(moto_server: Process, world: dict[str, str], app: str) -> None:
    ledger = MemoryTokenLedger(capacity=5)
    accounts = [Account(ACCOUNT, "aws", (REGION,))]
    provider = AwsProvider(accounts, endpoint_url=moto_server.url, session_factory=_session, ledger=ledger)
    provider.upsert_load_balancer(ACCOUNT, REGION, lb_spec(f"{app}-frontend"), f"{app}-lb")
    assert len(ledger) == 1
