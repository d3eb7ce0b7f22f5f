"""`replans_stably`: an operation that claims it plans the same mutations again after its own steps landed.

The durable path leans on this claim (durable_runner/steps.py, `_may_try_locally`): such an operation's steps may
change the cloud before its plan is recorded, because a worker killed there leaves a replay that plans again, and
that plan must apply the same requests under the same tokens. Run on the sim cloud (a real provider: its ledger
and `created_by` are what planning reads), with a clock that moves so creation times differ.
"""

from __future__ import annotations

from typing import Any

import pytest

from cloud.catalogue import parse_operation
from cloud.catalogue.operation import CloudOperation
from cloud.model import Capacity, ServerGroupSpec
from cloud.plan import Plan, apply_mutation, idempotency_token
from cloud.sim import SimCloud

OPERATION_ID = "pipeline-7/stage-3/deploy"
ZONES = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2a"]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _cloud() -> SimCloud:
    cloud = SimCloud(health_delay_s=0.0, clock=Clock(), sleep=lambda _s: None)
    for region in ZONES:  # an existing cluster: the next name depends on what is there
        for sequence in (1, 2):
            _create(cloud, region, f"myapp-main-v00{sequence}", f"seed-{region}-{sequence}")
    return cloud


def _create(cloud: SimCloud, region: str, name: str, token: str) -> None:
    spec = ServerGroupSpec(name=name, capacity=Capacity(1, 4, 2), image="ami-seed", zones=(f"{region}a",))
    cloud.create_server_group("prod", region, spec, token)


def _operation(name: str, context: dict[str, Any]) -> CloudOperation:
    parsed = parse_operation(name, {"cloudProvider": "aws", "credentials": "prod", **context})
    assert parsed.operation is not None, parsed.errors
    return parsed.operation


DEPLOY = {
    "application": "myapp",
    "stack": "main",
    "capacity": {"min": 1, "max": 4, "desired": 2},
    "amiName": "myapp-1.3.0-ami",
    "instanceType": "m5.large",
}
CLAIMING = {
    "createServerGroup, one region": (
        "createServerGroup",
        {**DEPLOY, "availabilityZones": {"us-east-1": ["us-east-1a"]}},
    ),
    "createServerGroup, two regions": ("createServerGroup", {**DEPLOY, "availabilityZones": ZONES}),
    "cloneServerGroup of the cluster's latest": (
        "cloneServerGroup",
        {"application": "myapp", "stack": "main", "availabilityZones": ZONES, "amiName": "myapp-1.3.0-ami"},
    ),
    "cloneServerGroup of a named source": (
        "cloneServerGroup",
        {
            "application": "myapp",
            "stack": "main",
            "source": {"account": "prod", "region": "us-east-1", "serverGroupName": "myapp-main-v002"},
        },
    ),
}


def _apply(cloud: SimCloud, plan: Plan, steps: int) -> None:
    for mutation in plan.mutations[:steps]:
        apply_mutation(cloud, mutation, idempotency_token(OPERATION_ID, mutation.step))


@pytest.mark.parametrize("case", list(CLAIMING))
def test_planning_again_after_each_of_its_own_steps_gives_the_same_plan(case: str) -> None:
    name, context = CLAIMING[case]
    operation = _operation(name, context)
    assert operation.replans_stably
    for landed in range(1, len(operation.regions) + 1):
        cloud = _cloud()
        first = operation.plan(cloud, operation_id=OPERATION_ID)
        _apply(cloud, first, landed)
        again = operation.plan(cloud, operation_id=OPERATION_ID)
        assert again == first, f"after {landed} of its steps landed"
        _apply(cloud, again, len(again.mutations))  # the same requests under the same tokens: no conflict


@pytest.mark.parametrize("case", list(CLAIMING))
def test_another_operations_group_made_since_leaves_the_steps_as_planned(case: str) -> None:
    """A deploy to the same cluster between our create and our re-plan (a worker killed in between) changes the
    facts, not our mutations: each step keeps its own group's name."""
    name, context = CLAIMING[case]
    operation = _operation(name, context)
    cloud = _cloud()
    first = operation.plan(cloud, operation_id=OPERATION_ID)
    _apply(cloud, first, 1)
    _create(cloud, first.mutations[0].region, "myapp-main-v099", "another-operation")
    again = operation.plan(cloud, operation_id=OPERATION_ID)
    assert again.mutations[0] == first.mutations[0]
    _apply(cloud, again, len(again.mutations))


def test_without_its_operation_id_a_plan_takes_its_own_group_as_the_world() -> None:
    """What the claim rests on: without the id, planning after the create picks the next free name, which under
    the same token would be another request (the IdempotencyConflict that kept the one-task shape out before)."""
    operation = _operation(*CLAIMING["createServerGroup, one region"])
    cloud = _cloud()
    first = operation.plan(cloud)
    _apply(cloud, first, 1)
    assert first.mutations[0].target == "myapp-main-v003"
    assert operation.plan(cloud).mutations[0].target == "myapp-main-v004"
    assert operation.plan(cloud, operation_id="another-operation").mutations[0].target == "myapp-main-v004"


def test_a_destroy_does_not_claim_it_and_would_not_hold_it() -> None:
    """Why the target operations leave `replans_stably` false: planning a destroy again after it landed skips the
    group it no longer finds, a different plan."""
    operation = _operation(
        "destroyServerGroup", {"serverGroupName": "myapp-main-v001", "region": "us-east-1", "regions": ["us-east-1"]}
    )
    assert not operation.replans_stably
    cloud = _cloud()
    first = operation.plan(cloud, operation_id=OPERATION_ID)
    _apply(cloud, first, 1)
    assert operation.plan(cloud, operation_id=OPERATION_ID).mutations != first.mutations


def test_the_sim_cloud_and_its_wire_keep_the_creating_token() -> None:
    cloud = _cloud()
    group = cloud.describe_server_group("prod", "us-east-1", "myapp-main-v001")
    assert group is not None and group.created_by == "seed-us-east-1-1"
    assert type(group).from_json(group.to_json()) == group
