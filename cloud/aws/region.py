"""The AWS calls of one (account, region): paginated describes and name/id resolution, with errors translated.

`RegionApi` is the IO shell the operations in `server_groups` and `load_balancers` build on. Every AWS call
runs inside `guard`, so what leaves it is a `cloud.errors.CloudError` carrying the account, region and target.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from cloud.aws.describe import LaunchFacts, is_deleting, launch_template_of, server_group_from_asg
from cloud.aws.errors import aws_errors
from cloud.errors import CloudError, InvalidRequest, NotFound
from cloud.model import ServerGroup

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_autoscaling.type_defs import AutoScalingGroupTypeDef, AutoScalingInstanceDetailsTypeDef
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef, LaunchTemplateTypeDef, ResponseLaunchTemplateDataTypeDef
    from mypy_boto3_elb import ElasticLoadBalancingClient
    from mypy_boto3_elb.type_defs import LoadBalancerDescriptionTypeDef

__all__ = ["RegionApi"]

_INSTANCE_BATCH = 50  # DescribeAutoScalingInstances takes at most 50 ids per call


class RegionApi:
    """Typed, error-translated AWS calls for one account and region. Thread-safe (boto3 clients are)."""

    def __init__(
        self,
        account: str,
        region: str,
        *,
        autoscaling: AutoScalingClient,
        ec2: EC2Client,
        elb: ElasticLoadBalancingClient,
    ) -> None:
        self.account = account
        self.region = region
        self.autoscaling = autoscaling
        self.ec2 = ec2
        self.elb = elb

    def guard(self, target: str = "") -> AbstractContextManager[None]:
        """Translate botocore exceptions raised inside the block into CloudErrors about `target`."""
        return aws_errors(self.account, self.region, target)

    def error(self, cls: type[CloudError], message: str, target: str = "") -> CloudError:
        return cls(message, account=self.account, region=self.region, target=target)

    # Auto Scaling groups

    def groups(self, names: Sequence[str] | None = None) -> list[AutoScalingGroupTypeDef]:
        """Groups by name (all when `names` is None), leaving out groups AWS is deleting."""
        paginator = self.autoscaling.get_paginator("describe_auto_scaling_groups")
        found: list[AutoScalingGroupTypeDef] = []
        with self.guard(",".join(names or ())):
            pages = paginator.paginate(AutoScalingGroupNames=list(names)) if names else paginator.paginate()
            for page in pages:
                found.extend(g for g in page["AutoScalingGroups"] if not is_deleting(g))
        return found

    def group(self, name: str) -> AutoScalingGroupTypeDef | None:
        found = [g for g in self.groups([name]) if g["AutoScalingGroupName"] == name]
        return found[0] if found else None

    def require_group(self, name: str) -> AutoScalingGroupTypeDef:
        group = self.group(name)
        if group is None:
            raise self.error(NotFound, f"no server group {name} in {self.account}/{self.region}", name)
        return group

    def managed_instances(self, instance_ids: Sequence[str]) -> dict[str, AutoScalingInstanceDetailsTypeDef]:
        """The given instances that belong to an Auto Scaling group, by id; unknown ids are simply absent."""
        paginator = self.autoscaling.get_paginator("describe_auto_scaling_instances")
        found: dict[str, AutoScalingInstanceDetailsTypeDef] = {}
        with self.guard(",".join(instance_ids)):
            for start in range(0, len(instance_ids), _INSTANCE_BATCH):
                batch = list(instance_ids[start : start + _INSTANCE_BATCH])
                for page in paginator.paginate(InstanceIds=batch):
                    found.update((i["InstanceId"], i) for i in page["AutoScalingInstances"])
        return found

    def server_groups(self, groups: Iterable[AutoScalingGroupTypeDef]) -> list[ServerGroup]:
        """Model values for `groups`, reading their launch templates and naming their images and security groups."""
        groups = list(groups)
        data: dict[tuple[str, str], ResponseLaunchTemplateDataTypeDef] = {}
        keys: list[tuple[str, str] | None] = []
        for g in groups:
            ref = launch_template_of(g)
            key = None if ref is None else (ref.get("LaunchTemplateId", ""), ref.get("Version", "$Default"))
            if key is not None and key[0] and key not in data:
                data[key] = self._template_data(*key)
            keys.append(key if key is not None and key in data else None)
        images = self.image_names({d["ImageId"] for d in data.values() if "ImageId" in d})
        groups_by_id = self.security_group_names({s for d in data.values() for s in d.get("SecurityGroupIds", [])})
        result = []
        for g, key in zip(groups, keys, strict=True):
            facts = LaunchFacts()
            if key is not None:
                d = data[key]
                sgs = [groups_by_id.get(s, s) for s in d.get("SecurityGroupIds", [])] + d.get("SecurityGroups", [])
                facts = LaunchFacts(
                    image=images.get(d.get("ImageId", ""), d.get("ImageId", "")),
                    security_groups=tuple(sgs),
                    instance_type=str(d.get("InstanceType", "")),
                    key_pair=d.get("KeyName", ""),
                    iam_role=d.get("IamInstanceProfile", {}).get("Name", ""),
                )
            result.append(server_group_from_asg(g, self.account, self.region, facts))
        return result

    # EC2: launch templates, images, security groups

    def _template_data(self, template_id: str, version: str) -> ResponseLaunchTemplateDataTypeDef:
        try:
            with self.guard(template_id):
                answer = self.ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[version])
        except NotFound:
            return {}  # a template deleted under its group: the group still describes, without launch facts
        versions = answer["LaunchTemplateVersions"]
        return versions[0].get("LaunchTemplateData", {}) if versions else {}

    def launch_template(self, name: str) -> LaunchTemplateTypeDef | None:
        try:
            with self.guard(name):
                found = self.ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
        except NotFound:
            return None
        return found[0] if found else None

    def image_id(self, image: str) -> str:
        """The AMI id of `image`, an AMI id or the name of an image this account owns or may launch."""
        with self.guard(image):
            if image.startswith("ami-"):
                self.ec2.describe_images(ImageIds=[image])  # raises NotFound for an unknown id
                return image
            by_name: list[FilterTypeDef] = [{"Name": "name", "Values": [image]}]
            found = self.ec2.describe_images(Owners=["self"], Filters=by_name)["Images"]
            if not found:
                found = self.ec2.describe_images(ExecutableUsers=["self"], Filters=by_name)["Images"]
        if not found:
            raise self.error(
                NotFound,
                f"no image named {image} is owned by or shared with account {self.account} in {self.region}: "
                "bake it first, share it with the account, or pass its AMI id (ami-...)",
                image,
            )
        newest = max(found, key=lambda i: i.get("CreationDate", ""))
        return newest["ImageId"]

    def image_names(self, image_ids: set[str]) -> dict[str, str]:
        if not image_ids:
            return {}
        with self.guard(",".join(sorted(image_ids))):
            found = self.ec2.describe_images(Filters=[{"Name": "image-id", "Values": sorted(image_ids)}])["Images"]
        return {i["ImageId"]: i["Name"] for i in found if "ImageId" in i and "Name" in i}

    def security_group_ids(self, names_or_ids: Sequence[str]) -> list[str]:
        """Ids for security groups given by name (as Spinnaker users name them) or by id (sg-...)."""
        names = sorted({n for n in names_or_ids if not n.startswith("sg-")})
        by_name: dict[str, list[str]] = {n: [] for n in names}
        if names:
            paginator = self.ec2.get_paginator("describe_security_groups")
            with self.guard(",".join(names)):
                for page in paginator.paginate(Filters=[{"Name": "group-name", "Values": names}]):
                    for sg in page["SecurityGroups"]:
                        by_name.setdefault(sg.get("GroupName", ""), []).append(sg.get("GroupId", ""))
        missing = [n for n in names if not by_name[n]]
        if missing:
            raise self.error(NotFound, f"no security groups named {missing}: create them or pass their sg- ids")
        ambiguous = {n: ids for n, ids in by_name.items() if n in names and len(ids) > 1}
        if ambiguous:
            raise self.error(InvalidRequest, f"security group names match several groups {ambiguous}: pass sg- ids")
        return [n if n.startswith("sg-") else by_name[n][0] for n in names_or_ids]

    def security_group_names(self, ids: set[str]) -> dict[str, str]:
        if not ids:
            return {}
        paginator = self.ec2.get_paginator("describe_security_groups")
        names: dict[str, str] = {}
        with self.guard(",".join(sorted(ids))):
            for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": sorted(ids)}]):
                names.update((sg["GroupId"], sg["GroupName"]) for sg in page["SecurityGroups"] if "GroupName" in sg)
        return names

    # Classic load balancers

    def load_balancers(self, names: Sequence[str]) -> list[LoadBalancerDescriptionTypeDef]:
        """The named classic ELBs; NotFound when any is missing."""
        if not names:
            return []
        paginator = self.elb.get_paginator("describe_load_balancers")
        with self.guard(",".join(names)):
            return [
                d
                for page in paginator.paginate(LoadBalancerNames=list(names))
                for d in page["LoadBalancerDescriptions"]
            ]

    def load_balancer(self, name: str) -> LoadBalancerDescriptionTypeDef | None:
        try:
            found = self.load_balancers([name])
        except NotFound:
            return None
        return found[0] if found else None
