"""Plans, outputs, compensation, capacity and world checks of typed operations, over an in-memory reader.

The reader below is a fake of pure lookup logic (the catalogue only reads through it); what a real cloud does
with the mutations is tested with the sim cloud elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloud.catalogue import (
    CloudOperation,
    capacity_reached,
    check_world,
    compensation_plan,
    parse_operation,
)
from cloud.errors import InvalidRequest, NotFound, UnknownAccount, UnknownRegion
from cloud.model import (
    Account,
    Capacity,
    HealthState,
    Instance,
    Listener,
    LoadBalancer,
    LoadBalancerSpec,
    ServerGroup,
    ServerGroupSpec,
)
from cloud.plan import Mutation, MutationKind, Plan, idempotency_token

PAYLOADS = Path(__file__).parent / "payloads"
ACCOUNTS = [
    Account("prod", "aws", ("us-east-1", "us-west-2")),
    Account("test", "aws", ("us-east-1",)),
    Account("titustest", "titus", ("us-east-1",)),
]


class FakeReader:
    """An in-memory CloudReader: server groups and load balancers by account and region."""

    def __init__(self, groups: Iterable[ServerGroup] = (), lbs: Iterable[LoadBalancer] = ()) -> None:
        self.groups = list(groups)
        self.lbs = list(lbs)
        self.calls: list[str] = []

    def accounts(self) -> list[Account]:
        return list(ACCOUNTS)

    def _check(self, account: str, region: str) -> None:
        known = {a.name: a for a in ACCOUNTS}
        if account not in known:
            raise UnknownAccount(f"no account {account}", account=account)
        if region not in known[account].regions:
            raise UnknownRegion(f"no region {region}", account=account, region=region)

    def list_server_groups(self, account: str, region: str, cluster: str | None = None) -> list[ServerGroup]:
        self.calls.append(f"list {account}/{region}/{cluster}")
        self._check(account, region)
        pattern = re.compile(re.escape(cluster or "") + r"(-v[0-9]{3})?")
        found = [g for g in self.groups if (g.account, g.region) == (account, region)]
        # Newest first, as a cloud might answer: the catalogue must not rely on the order.
        return [g for g in reversed(found) if cluster is None or pattern.fullmatch(g.name)]

    def describe_server_group(self, account: str, region: str, name: str) -> ServerGroup | None:
        self.calls.append(f"describe {account}/{region}/{name}")
        self._check(account, region)
        return next((g for g in self.groups if (g.account, g.region, g.name) == (account, region, name)), None)

    def describe_instances(self, account: str, region: str, server_group: str) -> list[Instance]:
        group = self.describe_server_group(account, region, server_group)
        return list(group.instances) if group else []

    def describe_load_balancer(self, account: str, region: str, name: str) -> LoadBalancer | None:
        self._check(account, region)
        return next((b for b in self.lbs if (b.account, b.region, b.name) == (account, region, name)), None)


def group(
    name: str, region: str = "us-east-1", account: str = "prod", created_at: float = 0.0, **kw: Any
) -> ServerGroup:
    defaults: dict[str, Any] = {
        "capacity": Capacity(1, 4, 2),
        "image": "myapp-1.1.0-ami",
        "disabled": False,
        "instances": (),
        "zones": (f"{region}a", f"{region}b"),
    }
    return ServerGroup(name=name, account=account, region=region, created_at=created_at, **(defaults | kw))


def context(file: str, op: str) -> dict[str, Any]:
    body = json.loads((PAYLOADS / file).read_text())
    items = body if isinstance(body, list) else [body]
    return dict(next(item[op] for item in items if op in item))


def op_of(name: str, ctx: dict[str, Any], provider: str = "aws") -> CloudOperation:
    result = parse_operation(name, ctx, provider=provider)
    assert result.operation is not None, result.errors
    return result.operation


def assert_plain_data(plan: Plan) -> None:
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


# --- createServerGroup ---------------------------------------------------------------------------------------------


def test_create_plan_takes_the_next_sequence_and_records_what_it_saw() -> None:
    reader = FakeReader(
        [
            group("myapp-main-v011", created_at=1),
            group("myapp-main-v012", created_at=2),
            group("myapp-main-canary-v100"),
        ]
    )
    op = op_of("createServerGroup", context("aws_deploy.json", "createServerGroup"))
    plan = op.plan(reader)
    assert_plain_data(plan)
    (m,) = plan.mutations
    assert (m.step, m.kind, m.account, m.region, m.target) == (
        0,
        MutationKind.CREATE_SERVER_GROUP,
        "prod",
        "us-east-1",
        "myapp-main-v013",
    )
    assert m.wait_for_healthy is True
    assert ServerGroupSpec.from_json(m.params["spec"]) == ServerGroupSpec(
        name="myapp-main-v013",
        capacity=Capacity(1, 4, 2),
        image="myapp-1.2.0-ami",
        zones=("us-east-1a", "us-east-1c"),
        load_balancers=("myapp-main-frontend",),
        security_groups=("myapp", "nf-infrastructure"),
        tags={},
        settings={
            "instanceType": "m5.large",
            "subnetType": "internal",
            "iamRole": "myappInstanceProfile",
            "keyPair": "nf-prod-keypair",
            "healthCheckType": "EC2",
            "healthCheckGracePeriod": 600,
            "targetGroups": [],
        },
    )
    assert plan.facts == {
        "existingServerGroups": {"us-east-1": ["myapp-main-v011", "myapp-main-v012"]},
        "latestServerGroups": {"us-east-1": "myapp-main-v012"},
    }
    assert plan.operation == "createServerGroup" and plan.compensate_on_failure is False
    assert all(c.startswith(("list", "describe")) for c in reader.calls)


def test_create_in_several_regions_makes_one_create_per_region_in_sorted_order() -> None:
    ctx = context("aws_deploy.json", "createServerGroup")
    ctx["availabilityZones"] = {"us-west-2": ["us-west-2a"], "us-east-1": ["us-east-1a"]}
    ctx["rollback"] = {"onFailure": True}
    reader = FakeReader([group("myapp-main-v004", region="us-west-2")])
    plan = op_of("createServerGroup", ctx).plan(reader)
    assert [(m.step, m.region, m.target) for m in plan.mutations] == [
        (0, "us-east-1", "myapp-main-v000"),
        (1, "us-west-2", "myapp-main-v005"),
    ]
    assert [m.params["spec"]["zones"] for m in plan.mutations] == [["us-east-1a"], ["us-west-2a"]]
    assert plan.compensate_on_failure is True


def test_create_wraps_and_continues_after_the_most_recent_group() -> None:
    ctx = context("aws_deploy.json", "createServerGroup")
    wrapped = FakeReader([group("myapp-main-v998", created_at=1), group("myapp-main-v999", created_at=2)])
    assert op_of("createServerGroup", ctx).plan(wrapped).mutations[0].target == "myapp-main-v000"
    # v005 is the newest (made after a wrap); v006 and v007 are still in use; v999 is older.
    gaps = FakeReader(
        [
            group("myapp-main-v999", created_at=1),
            group("myapp-main-v006", created_at=2),
            group("myapp-main-v007", created_at=3),
            group("myapp-main-v005", created_at=4),
        ]
    )
    plan = op_of("createServerGroup", ctx).plan(gaps)
    assert plan.mutations[0].target == "myapp-main-v008"
    assert plan.facts["latestServerGroups"] == {"us-east-1": "myapp-main-v005"}


def test_create_fails_when_the_cluster_has_no_free_sequence() -> None:
    reader = FakeReader([group(f"myapp-main-v{i:03d}") for i in range(1000)])
    with pytest.raises(InvalidRequest, match="all 1000"):
        op_of("createServerGroup", context("aws_deploy.json", "createServerGroup")).plan(reader)


def test_titus_create_plan_carries_titus_settings() -> None:
    op = op_of("createServerGroup", context("titus_deploy.json", "createServerGroup"), "titus")
    (m,) = op.plan(FakeReader([group("helloworld-main-v001", account="titustest")])).mutations
    spec = ServerGroupSpec.from_json(m.params["spec"])
    assert (m.account, spec.name, spec.image, spec.zones) == (
        "titustest",
        "helloworld-main-v002",
        "titus/helloworld:latest",
        (),
    )
    assert spec.settings["resources"]["cpu"] == 2 and spec.settings["capacityGroup"] == "helloworld"


# --- cloneServerGroup ----------------------------------------------------------------------------------------------

SOURCE = group(
    "myapp-main-v012",
    created_at=5,
    capacity=Capacity(2, 6, 3),
    load_balancers=("myapp-main-frontend",),
    security_groups=("myapp",),
    tags={"team": "core"},
    settings={"instanceType": "m5.large", "keyPair": "k"},
)


def clone_context(**extra: Any) -> dict[str, Any]:
    base = {
        "cloudProvider": "aws",
        "credentials": "prod",
        "source": {"account": "prod", "region": "us-east-1", "asgName": "myapp-main-v012"},
        "type": "cloneServerGroup",
    }
    return base | extra


def test_clone_copies_the_source_and_applies_overrides() -> None:
    ctx = clone_context(
        capacity={"min": 1, "max": 2, "desired": 1}, instanceType="m5.xlarge", amiName="myapp-1.3.0-ami"
    )
    plan = op_of("cloneServerGroup", ctx).plan(FakeReader([group("myapp-main-v011", created_at=1), SOURCE]))
    assert_plain_data(plan)
    (m,) = plan.mutations
    assert (m.kind, m.region, m.target, m.wait_for_healthy) == (
        MutationKind.CREATE_SERVER_GROUP,
        "us-east-1",
        "myapp-main-v013",
        True,
    )
    assert ServerGroupSpec.from_json(m.params["spec"]) == ServerGroupSpec(
        name="myapp-main-v013",
        capacity=Capacity(1, 2, 1),
        image="myapp-1.3.0-ami",
        zones=("us-east-1a", "us-east-1b"),
        load_balancers=("myapp-main-frontend",),
        security_groups=("myapp",),
        tags={"team": "core"},
        settings={"instanceType": "m5.xlarge", "keyPair": "k"},
    )
    assert plan.facts["source"]["name"] == "myapp-main-v012"
    assert "instances" not in plan.facts["source"]


def test_clone_into_another_cluster_and_region_with_source_capacity() -> None:
    ctx = clone_context(stack="canary", regions=["us-west-2"], capacity={"min": 9, "max": 9, "desired": 9})
    ctx["source"]["useSourceCapacity"] = True
    reader = FakeReader([SOURCE, group("myapp-canary-v041", region="us-west-2")])
    (m,) = op_of("cloneServerGroup", ctx).plan(reader).mutations
    spec = m.params["spec"]
    assert (m.region, m.target, spec["capacity"], spec["zones"]) == (
        "us-west-2",
        "myapp-canary-v042",
        {"min": 2, "max": 6, "desired": 3},
        [],
    )


def test_clone_of_a_missing_source_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        op_of("cloneServerGroup", clone_context()).plan(FakeReader())
    assert caught.value.target == "myapp-main-v012"


# --- operations on existing groups ---------------------------------------------------------------------------------


def test_resize_plan() -> None:
    reader = FakeReader([group("myapp-main-v012")])
    plan = op_of("resizeServerGroup", context("aws_resize.json", "resizeServerGroup")).plan(reader)
    assert_plain_data(plan)
    assert plan.mutations == (
        Mutation(
            0,
            MutationKind.RESIZE_SERVER_GROUP,
            "prod",
            "us-east-1",
            "myapp-main-v012",
            {"capacity": {"min": 2, "max": 6, "desired": 4}},
            True,
        ),
    )
    assert plan.facts["current"]["us-east-1"]["capacity"] == {"min": 1, "max": 4, "desired": 2}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("enableServerGroup", MutationKind.ENABLE_SERVER_GROUP),
        ("disableServerGroup", MutationKind.DISABLE_SERVER_GROUP),
        ("destroyServerGroup", MutationKind.DESTROY_SERVER_GROUP),
    ],
)
def test_enable_disable_destroy_plans_one_call_per_region(name: str, kind: MutationKind) -> None:
    ctx = {
        "cloudProvider": "aws",
        "credentials": "prod",
        "regions": ["us-west-2", "us-east-1"],
        "serverGroupName": "myapp-main-v011",
    }
    reader = FakeReader([group("myapp-main-v011"), group("myapp-main-v011", region="us-west-2")])
    plan = op_of(name, ctx).plan(reader)
    assert [(m.step, m.kind, m.region, m.target, dict(m.params), m.wait_for_healthy) for m in plan.mutations] == [
        (0, kind, "us-east-1", "myapp-main-v011", {}, False),
        (1, kind, "us-west-2", "myapp-main-v011", {}, False),
    ]
    assert plan.operation == name


@pytest.mark.parametrize("name", ["resizeServerGroup", "enableServerGroup", "disableServerGroup", "destroyServerGroup"])
def test_operations_on_a_missing_group_skip_it_as_clouddriver_does(name: str) -> None:
    """Clouddriver skips a group that does not exist and succeeds: DestroyAsgAtomicOperation.groovy ("let's be
    idempotent and not complain about that"), AbstractEnableDisableAtomicOperation.groovy and
    ResizeAsgAtomicOperation.groovy ("Skipping ... server group does not exist"), clouddriver-aws deploy/ops."""
    ctx = context("aws_resize.json", "resizeServerGroup")
    plan = op_of(name, ctx).plan(FakeReader([group("myapp-main-v012", region="us-west-2")]))
    assert plan.mutations == ()
    assert plan.facts["skipped"] == [
        {"region": "us-east-1", "serverGroupName": "myapp-main-v012", "reason": "not found"}
    ]


def test_transient_reader_errors_pass_through() -> None:
    ctx = context("aws_resize.json", "resizeServerGroup") | {"credentials": "nobody"}
    with pytest.raises(UnknownAccount):
        op_of("resizeServerGroup", ctx).plan(FakeReader())


def test_terminate_plan() -> None:
    plan = op_of("terminateInstances", context("aws_terminate.json", "terminateInstances")).plan(FakeReader())
    assert plan.mutations == (
        Mutation(
            0,
            MutationKind.TERMINATE_INSTANCES,
            "prod",
            "us-east-1",
            "myapp-main-v012",
            {"instanceIds": ["i-0a1b2c3d4e5f6a7b8"]},
        ),
    )


# --- load balancers and allowLaunch -------------------------------------------------------------------------------


def test_upsert_load_balancer_plan_and_outputs() -> None:
    ctx = context("aws_upsert_load_balancer.json", "upsertLoadBalancer")
    ctx["availabilityZones"] = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2b"]}
    op = op_of("upsertLoadBalancer", ctx)
    existing = LoadBalancer(
        "myapp-main-frontend", "prod", "us-east-1", "old.elb", LoadBalancerSpec("myapp-main-frontend", ())
    )
    plan = op.plan(FakeReader(lbs=[existing]))
    assert_plain_data(plan)
    assert [(m.kind, m.region, m.target) for m in plan.mutations] == [
        (MutationKind.UPSERT_LOAD_BALANCER, "us-east-1", "myapp-main-frontend"),
        (MutationKind.UPSERT_LOAD_BALANCER, "us-west-2", "myapp-main-frontend"),
    ]
    assert LoadBalancerSpec.from_json(plan.mutations[1].params["spec"]) == LoadBalancerSpec(
        name="myapp-main-frontend",
        listeners=(Listener("HTTP", 80, "HTTP", 7001),),
        health_check="HTTP:7001/healthcheck",
        internal=True,
        zones=("us-west-2b",),
        security_groups=("myapp-elb",),
    )
    assert plan.facts == {"existingLoadBalancers": {"us-east-1": True, "us-west-2": False}}
    results = [
        LoadBalancer(
            "myapp-main-frontend", "prod", r, f"internal-myapp-{r}.elb.amazonaws.com", LoadBalancerSpec("x", ())
        ).to_json()
        for r in ("us-east-1", "us-west-2")
    ]
    assert op.outputs(plan, results) == {
        "loadBalancers": {
            "us-east-1": {"name": "myapp-main-frontend", "dnsName": "internal-myapp-us-east-1.elb.amazonaws.com"},
            "us-west-2": {"name": "myapp-main-frontend", "dnsName": "internal-myapp-us-west-2.elb.amazonaws.com"},
        }
    }


def test_delete_load_balancer_plan() -> None:
    ctx = {
        "cloudProvider": "aws",
        "credentials": "prod",
        "loadBalancerName": "myapp-main-frontend",
        "regions": ["us-east-1"],
    }
    op = op_of("deleteLoadBalancer", ctx)
    plan = op.plan(FakeReader())
    assert plan.mutations == (
        Mutation(0, MutationKind.DELETE_LOAD_BALANCER, "prod", "us-east-1", "myapp-main-frontend"),
    )
    assert op.outputs(plan, [{}]) == {}


def test_allow_launch_plans_nothing() -> None:
    op = op_of("allowLaunchDescription", context("aws_deploy.json", "allowLaunchDescription"))
    plan = op.plan(FakeReader())
    assert plan.mutations == () and plan.facts == {"image": "myapp-1.2.0-ami", "targetAccount": "prod"}
    assert op.outputs(plan, []) == {}


# --- outputs ------------------------------------------------------------------------------------------------------


def test_deploy_outputs_are_a_deployment_result() -> None:
    ctx = context("aws_deploy.json", "createServerGroup")
    ctx["availabilityZones"] = {"us-west-2": ["us-west-2a"], "us-east-1": ["us-east-1a"]}
    op = op_of("createServerGroup", ctx)
    reader = FakeReader([group("myapp-main-v012")])
    plan = op.plan(reader)
    results = [group(m.target, region=m.region).to_json() for m in plan.mutations]
    assert op.outputs(plan, results) == {
        "serverGroupNames": ["us-east-1:myapp-main-v013", "us-west-2:myapp-main-v000"],
        "serverGroupNameByRegion": {"us-east-1": "myapp-main-v013", "us-west-2": "myapp-main-v000"},
        "messages": [],
        "deployedNames": ["myapp-main-v013", "myapp-main-v000"],
        "deployedNamesByLocation": {"us-east-1": ["myapp-main-v013"], "us-west-2": ["myapp-main-v000"]},
        "createdArtifacts": [],
        "deployments": [
            {
                "location": "us-east-1",
                "serverGroupName": "myapp-main-v013",
                "account": "prod",
                "cloudProvider": "aws",
                "capacity": {"min": 1, "max": 4, "desired": 2},
            },
            {
                "location": "us-west-2",
                "serverGroupName": "myapp-main-v000",
                "account": "prod",
                "cloudProvider": "aws",
                "capacity": {"min": 1, "max": 4, "desired": 2},
            },
        ],
    }
    clone = op_of("cloneServerGroup", clone_context())
    clone_plan = clone.plan(FakeReader([SOURCE]))
    assert clone.outputs(clone_plan, [{}])["serverGroupNames"] == ["us-east-1:myapp-main-v013"]


def test_operations_that_return_nothing_and_result_count_mismatch() -> None:
    op = op_of("resizeServerGroup", context("aws_resize.json", "resizeServerGroup"))
    plan = op.plan(FakeReader([group("myapp-main-v012")]))
    assert op.outputs(plan, [group("myapp-main-v012").to_json()]) == {}
    with pytest.raises(ValueError, match="one result per mutation"):
        op.outputs(plan, [])


# --- compensation and capacity ------------------------------------------------------------------------------------


def two_region_create_plan() -> Plan:
    ctx = context("aws_deploy.json", "createServerGroup")
    ctx["availabilityZones"] = {"us-west-2": ["us-west-2a"], "us-east-1": ["us-east-1a"]}
    ctx["rollback"] = {"onFailure": True}
    return op_of("createServerGroup", ctx).plan(FakeReader())


def test_compensation_destroys_what_was_created_newest_first() -> None:
    plan = two_region_create_plan()
    undo = compensation_plan(plan, 2)
    assert [(m.step, m.kind, m.account, m.region, m.target) for m in undo.mutations] == [
        (2, MutationKind.DESTROY_SERVER_GROUP, "prod", "us-west-2", "myapp-main-v000"),
        (3, MutationKind.DESTROY_SERVER_GROUP, "prod", "us-east-1", "myapp-main-v000"),
    ]
    original_tokens = {idempotency_token("op-1", m.step) for m in plan.mutations}
    assert not original_tokens & {idempotency_token("op-1", m.step) for m in undo.mutations}
    assert undo.compensate_on_failure is False
    assert_plain_data(undo)


def test_compensation_only_covers_applied_creates() -> None:
    plan = two_region_create_plan()
    assert [(m.step, m.region) for m in compensation_plan(plan, 1).mutations] == [(2, "us-east-1")]
    assert compensation_plan(plan, 0).mutations == ()
    resize = op_of("resizeServerGroup", context("aws_resize.json", "resizeServerGroup")).plan(
        FakeReader([group("myapp-main-v012")])
    )
    assert compensation_plan(resize, 1).mutations == ()


def instances(*health: HealthState) -> tuple[Instance, ...]:
    return tuple(Instance(f"i-{n}", "g", "us-east-1a", h) for n, h in enumerate(health))


@pytest.mark.parametrize(
    ("health", "desired", "reached"),
    [
        ((HealthState.HEALTHY, HealthState.HEALTHY), 2, True),
        ((HealthState.HEALTHY, HealthState.STARTING), 2, False),
        ((HealthState.HEALTHY,), 2, False),
        ((HealthState.HEALTHY, HealthState.HEALTHY, HealthState.HEALTHY), 2, False),
        ((HealthState.HEALTHY, HealthState.HEALTHY, HealthState.TERMINATED), 2, True),
        ((), 0, True),
        ((HealthState.UNHEALTHY,), 0, False),
    ],
)
def test_capacity_reached(health: tuple[HealthState, ...], desired: int, reached: bool) -> None:
    sg = replace(group("myapp-main-v001"), instances=instances(*health))
    assert capacity_reached(sg, Capacity(0, 5, desired)) is reached


# --- check_world --------------------------------------------------------------------------------------------------


def world_errors(name: str, ctx: dict[str, Any], provider: str = "aws") -> set[tuple[str, str]]:
    return {(e.path, e.code) for e in check_world(op_of(name, ctx, provider), ACCOUNTS)}


def test_check_world_accepts_the_reference_payloads() -> None:
    assert world_errors("createServerGroup", context("aws_deploy.json", "createServerGroup")) == set()
    assert world_errors("allowLaunchDescription", context("aws_deploy.json", "allowLaunchDescription")) == set()
    assert world_errors("createServerGroup", context("titus_deploy.json", "createServerGroup"), "titus") == set()


def test_check_world_reports_unknown_account_wrong_provider_and_unknown_region() -> None:
    resize = context("aws_resize.json", "resizeServerGroup")
    errors = check_world(op_of("resizeServerGroup", resize | {"credentials": "nope"}), ACCOUNTS)
    assert [(e.path, e.code) for e in errors] == [("credentials", "unknown_account")]
    assert "prod, test" in errors[0].message
    assert world_errors("resizeServerGroup", resize | {"credentials": "titustest"}) == {
        ("credentials", "wrong_provider")
    }
    assert world_errors("resizeServerGroup", resize | {"region": "eu-west-1"}) == {("region", "unknown_region")}
    regions = resize | {"region": None, "regions": ["us-east-1", "eu-west-1"]}
    assert world_errors("resizeServerGroup", regions) == {("regions[1]", "unknown_region")}
    deploy = context("aws_deploy.json", "createServerGroup") | {"availabilityZones": {"ap-south-1": ["ap-south-1a"]}}
    assert world_errors("createServerGroup", deploy) == {("availabilityZones.ap-south-1", "unknown_region")}


def test_check_world_checks_clone_sources_and_allow_launch_targets() -> None:
    ctx = clone_context(source={"account": "gone", "region": "us-east-1", "serverGroupName": "myapp-main-v012"})
    assert world_errors("cloneServerGroup", ctx) == {("source.account", "unknown_account")}
    ctx = clone_context(credentials="test", regions=["us-west-2"])
    assert world_errors("cloneServerGroup", ctx) == {("regions[0]", "unknown_region")}
    allow = context("aws_deploy.json", "allowLaunchDescription") | {"account": "elsewhere"}
    assert world_errors("allowLaunchDescription", allow) == {("account", "unknown_account")}
