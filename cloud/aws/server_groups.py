"""Server group mutations, as Spinnaker's AWS operations make them: Auto Scaling groups with launch templates.

create    CreateLaunchTemplate (ClientToken = token) + CreateAutoScalingGroup, tagged with the token
resize    UpdateAutoScalingGroup
disable   SuspendProcesses(AddToLoadBalancer, Launch, Terminate) + deregister the instances from the group's ELBs
enable    ResumeProcesses(the same) + register the InService instances with the group's ELBs
destroy   DeleteAutoScalingGroup(ForceDelete) + DeleteLaunchTemplate (the template named after the group)
terminate TerminateInstanceInAutoScalingGroup(ShouldDecrementDesiredCapacity=False): the group replaces them

Each claims its token in the ledger first (see `cloud.aws.ledger`); a create also writes the token and the
request fingerprint as tags, so any process recognises a group its token already made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from cloud.aws.describe import (
    APPLICATION_TAG,
    DISABLE_PROCESSES,
    REQUEST_TAG,
    TOKEN_TAG,
    LaunchFacts,
    application_of,
    capacity_problem,
    default_zones,
    launch_template_of,
    server_group_from_asg,
    tags_of,
)
from cloud.aws.ledger import TokenLedger, TokenState, claim_token, request_fingerprint
from cloud.aws.region import RegionApi
from cloud.errors import (
    AlreadyExists,
    CapacityOutOfBounds,
    CloudRejection,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
)
from cloud.model import JSON, Capacity, Instance, ServerGroup, ServerGroupSpec

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import AutoScalingGroupTypeDef, TagTypeDef
    from mypy_boto3_ec2.literals import InstanceTypeType
    from mypy_boto3_ec2.type_defs import RequestLaunchTemplateDataTypeDef
    from mypy_boto3_elb.type_defs import InstanceTypeDef as ElbInstanceTypeDef

__all__ = [
    "create_server_group",
    "destroy_server_group",
    "instances_of",
    "resize_server_group",
    "set_server_group_enabled",
    "terminate_instances",
]

_DEFAULT_INSTANCE_TYPE = "m5.large"
_DEFAULT_GRACE_PERIOD = 600


def create_server_group(api: RegionApi, ledger: TokenLedger, spec: ServerGroupSpec, token: str) -> ServerGroup:
    name = spec.name
    problem = capacity_problem(spec.capacity)
    if problem is not None:
        raise api.error(CapacityOutOfBounds, f"cannot create {name}: {problem}", name)
    health_check_type = _setting_str(api, spec, "healthCheckType", "EC2")
    grace_period = _setting_int(api, spec, "healthCheckGracePeriod", _DEFAULT_GRACE_PERIOD)
    fingerprint = request_fingerprint("createServerGroup", api.account, api.region, spec.to_json())
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    existing = api.group(name)
    if existing is None and prior is not None and prior.state is TokenState.DONE:
        # Made under this token and destroyed since: a late retry must not bring it back.
        raise api.error(NotFound, f"server group {name}, created under token {token}, no longer exists", name)
    if existing is None:
        api.load_balancers(spec.load_balancers)  # unknown names fail here, before anything is made
        image_id = api.image_id(spec.image)
        sg_ids = api.security_group_ids(spec.security_groups)
        template_id, version = _ensure_template(api, spec, token, fingerprint, image_id, sg_ids)
        try:
            with api.guard(name):
                api.autoscaling.create_auto_scaling_group(
                    AutoScalingGroupName=name,
                    LaunchTemplate={"LaunchTemplateId": template_id, "Version": version},
                    MinSize=spec.capacity.min,
                    MaxSize=spec.capacity.max,
                    DesiredCapacity=spec.capacity.desired,
                    AvailabilityZones=list(spec.zones or default_zones(api.region)),
                    LoadBalancerNames=list(spec.load_balancers),
                    HealthCheckType=health_check_type,
                    HealthCheckGracePeriod=grace_period,
                    Tags=_group_tags(spec, token, fingerprint),
                )
        except AlreadyExists as exc:
            # Another worker made it at the same moment (its tags say below whether it was this request), or
            # AWS is still deleting an older group of that name, which describes as gone.
            if api.group(name) is None:
                _delete_template(api, name)
                message = f"server group {name} is still being deleted: deploy the next sequence number"
                raise api.error(AlreadyExists, message, name) from exc
        except CloudRejection:
            # AWS will refuse this request every time: do not leave its launch template behind.
            _delete_template(api, name)
            raise
    group = api.require_group(name)
    _check_owner(api, group, token, fingerprint)
    ledger.finish(token)
    return api.server_groups([group])[0]


def _check_owner(api: RegionApi, group: AutoScalingGroupTypeDef, token: str, fingerprint: str) -> None:
    name = group["AutoScalingGroupName"]
    tags = tags_of(group)
    if tags.get(TOKEN_TAG) != token:
        raise api.error(
            AlreadyExists,
            f"server group {name} already exists and was not created by this request: "
            "deploy the next sequence number, or destroy the existing group first",
            name,
        )
    if tags.get(REQUEST_TAG) != fingerprint:
        raise api.error(IdempotencyConflict, f"token {token} already created {name} from a different spec", name)


def _ensure_template(
    api: RegionApi, spec: ServerGroupSpec, token: str, fingerprint: str, image_id: str, sg_ids: Sequence[str]
) -> tuple[str, str]:
    """The (id, version) of the group's launch template, created under `token` now or by an earlier attempt."""
    data: RequestLaunchTemplateDataTypeDef = {
        "ImageId": image_id,
        "InstanceType": cast("InstanceTypeType", _setting_str(api, spec, "instanceType", _DEFAULT_INSTANCE_TYPE)),
    }
    if sg_ids:
        data["SecurityGroupIds"] = list(sg_ids)
    if key_pair := _setting_str(api, spec, "keyPair", ""):
        data["KeyName"] = key_pair
    if iam_role := _setting_str(api, spec, "iamRole", ""):
        data["IamInstanceProfile"] = {"Name": iam_role}
    try:
        with api.guard(spec.name):
            made = api.ec2.create_launch_template(
                LaunchTemplateName=spec.name,
                ClientToken=_client_token(token),
                LaunchTemplateData=data,
                TagSpecifications=[
                    {
                        "ResourceType": "launch-template",
                        "Tags": [{"Key": TOKEN_TAG, "Value": token}, {"Key": REQUEST_TAG, "Value": fingerprint}],
                    }
                ],
            )["LaunchTemplate"]
        return made["LaunchTemplateId"], str(made["LatestVersionNumber"])
    except AlreadyExists:
        found = api.launch_template(spec.name)
        tags = {t["Key"]: t.get("Value", "") for t in (found or {}).get("Tags", [])}
        if found is None or tags.get(TOKEN_TAG) != token:
            raise api.error(
                AlreadyExists,
                f"launch template {spec.name} already exists and was not made by this request: "
                "delete it, or deploy the next sequence number",
                spec.name,
            ) from None
        if tags.get(REQUEST_TAG) != fingerprint:
            raise api.error(
                IdempotencyConflict, f"token {token} already made {spec.name} from a different spec"
            ) from None
        return found["LaunchTemplateId"], str(found["LatestVersionNumber"])


def _client_token(token: str) -> str:
    # EC2 ClientTokens are at most 64 ASCII characters; cloud.plan's tokens fit, arbitrary callers' may not.
    return token if len(token) <= 64 and token.isascii() else hashlib.sha256(token.encode()).hexdigest()


def _group_tags(spec: ServerGroupSpec, token: str, fingerprint: str) -> list[TagTypeDef]:
    user = {APPLICATION_TAG: application_of(spec.name), **spec.tags}
    tags: list[TagTypeDef] = [{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in user.items()]
    tags.append({"Key": TOKEN_TAG, "Value": token, "PropagateAtLaunch": False})
    tags.append({"Key": REQUEST_TAG, "Value": fingerprint, "PropagateAtLaunch": False})
    return tags


def _setting_str(api: RegionApi, spec: ServerGroupSpec, key: str, default: str) -> str:
    value: JSON = spec.settings.get(key, default)
    if not isinstance(value, str):
        raise api.error(InvalidRequest, f"setting {key!r} must be a string, got {value!r}", spec.name)
    return value


def _setting_int(api: RegionApi, spec: ServerGroupSpec, key: str, default: int) -> int:
    value: JSON = spec.settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise api.error(InvalidRequest, f"setting {key!r} must be a whole number of seconds, got {value!r}", spec.name)
    return int(value)


def resize_server_group(api: RegionApi, ledger: TokenLedger, name: str, capacity: Capacity, token: str) -> ServerGroup:
    problem = capacity_problem(capacity)
    if problem is not None:
        raise api.error(CapacityOutOfBounds, f"cannot resize {name}: {problem}", name)
    payload = {"name": name, "capacity": capacity.to_json()}
    fingerprint = request_fingerprint("resizeServerGroup", api.account, api.region, payload)
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    group = api.require_group(name)
    if prior is None or prior.state is not TokenState.DONE:
        with api.guard(name):
            api.autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=name,
                MinSize=capacity.min,
                MaxSize=capacity.max,
                DesiredCapacity=capacity.desired,
            )
        ledger.finish(token)
        group = api.require_group(name)
    return api.server_groups([group])[0]


def set_server_group_enabled(api: RegionApi, ledger: TokenLedger, name: str, enabled: bool, token: str) -> ServerGroup:
    kind = "enableServerGroup" if enabled else "disableServerGroup"
    fingerprint = request_fingerprint(kind, api.account, api.region, {"name": name})
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    group = api.require_group(name)
    if prior is None or prior.state is not TokenState.DONE:
        with api.guard(name):
            if enabled:
                api.autoscaling.resume_processes(AutoScalingGroupName=name, ScalingProcesses=list(DISABLE_PROCESSES))
            else:
                # Suspend first, so Auto Scaling does not add back what is deregistered next.
                api.autoscaling.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=list(DISABLE_PROCESSES))
        _set_registrations(api, group, register=enabled)
        ledger.finish(token)
        group = api.require_group(name)
    return api.server_groups([group])[0]


def _set_registrations(api: RegionApi, group: AutoScalingGroupTypeDef, *, register: bool) -> None:
    instances: list[ElbInstanceTypeDef] = [
        {"InstanceId": i["InstanceId"]}
        for i in group.get("Instances", [])
        if not register or i["LifecycleState"] == "InService"
    ]
    if not instances:
        return
    for lb in group.get("LoadBalancerNames", []):
        if register:
            with api.guard(lb):
                api.elb.register_instances_with_load_balancer(LoadBalancerName=lb, Instances=instances)
            continue
        try:
            with api.guard(lb):
                api.elb.deregister_instances_from_load_balancer(LoadBalancerName=lb, Instances=instances)
        except NotFound:
            continue  # the load balancer is gone: nothing is registered with it any more


def destroy_server_group(api: RegionApi, ledger: TokenLedger, name: str, token: str) -> None:
    fingerprint = request_fingerprint("destroyServerGroup", api.account, api.region, {"name": name})
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=name)
    if prior is not None and prior.state is TokenState.DONE:
        return  # already destroyed under this token; a group made since under the same name is not ours to touch
    group = api.group(name)
    if group is None and prior is None:
        raise api.error(NotFound, f"no server group {name} in {api.account}/{api.region}", name)
    if group is not None:
        try:
            with api.guard(name):
                api.autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        except NotFound:
            if prior is None:
                raise
        template = launch_template_of(group)
        if template is not None and template.get("LaunchTemplateName") != name:
            ledger.finish(token)
            return  # a shared template someone else made: leave it
    _delete_template(api, name)
    ledger.finish(token)


def _delete_template(api: RegionApi, name: str) -> None:
    found = api.launch_template(name)
    if found is None:
        return
    try:
        with api.guard(name):
            api.ec2.delete_launch_template(LaunchTemplateId=found["LaunchTemplateId"])
    except NotFound:
        pass


def terminate_instances(api: RegionApi, ledger: TokenLedger, instance_ids: Sequence[str], token: str) -> None:
    ids = list(dict.fromkeys(instance_ids))
    target = ",".join(ids)
    if not ids:
        return
    fingerprint = request_fingerprint("terminateInstances", api.account, api.region, {"instanceIds": sorted(ids)})
    prior = claim_token(ledger, token, fingerprint, account=api.account, region=api.region, target=target)
    if prior is not None and prior.state is TokenState.DONE:
        return
    managed = api.managed_instances(ids)
    missing = [i for i in ids if i not in managed]
    if missing and prior is None:
        raise api.error(NotFound, f"instances {missing} are not in any server group of {api.account}/{api.region}")
    for instance_id in ids:
        state = managed[instance_id]["LifecycleState"] if instance_id in managed else "Terminated"
        if state.startswith("Terminat"):
            continue  # gone already, or going: an earlier attempt under this token got that far
        try:
            with api.guard(instance_id):
                api.autoscaling.terminate_instance_in_auto_scaling_group(
                    InstanceId=instance_id, ShouldDecrementDesiredCapacity=False
                )
        except NotFound:
            if prior is None:
                raise
    ledger.finish(token)


def instances_of(api: RegionApi, name: str) -> list[Instance]:
    """The instances of one group; their health needs no launch-template lookups."""
    group = api.require_group(name)
    return list(server_group_from_asg(group, api.account, api.region, LaunchFacts()).instances)
