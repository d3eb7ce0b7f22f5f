"""One result shape on both paths (issue 16 item 2): every catalogue operation, run through LegacyRunner (the
real legacy service over HTTP) and DurableRunner (a real worker on the Temporal dev server) on two identical sim
worlds, gives the same `outputs`, keys and values, and the gateway's task JSON built from either run has the same
`resultObjects`.

The keys compared are the ones Orca reads after an operation (orca @ 2fdb327a):
`orca-clouddriver/.../tasks/MonitorKatoTask.groovy` (`deploy.server.groups` from `serverGroupNames`, `deploy.jobs`
from `deployedNamesByLocation`), `.../tasks/servergroup/CreateServerGroupTask.groovy` and
`CloneServerGroupTask.groovy` (`deploy.account.name`), `.../tasks/servergroup/AbstractServerGroupTask.groovy`
(`serverGroupName`, `asgName`, `deploy.server.groups` for resize, enable, disable and destroy); the result object
shapes are Clouddriver's (clouddriver @ 2f5e98f0 `clouddriver-core/.../deploy/DeploymentResult.groovy`,
`clouddriver-aws/.../ops/loadbalancer/UpsertAmazonLoadBalancerResult.groovy`).

The gateway side builds the task JSON with `gateway.task_json` from each path's real record (the legacy task as
`GET /task/{id}` answers it; the workflow's result), which is what the gateway serves for a finished operation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from test_runner_contract import Durable, legacy_runner, legacy_service, worker_thread

from cloud.catalogue import parse_operation
from cloud.model import Capacity, ServerGroupSpec
from cloud.sim import SimCloud
from cloud.sim.faults import FaultConfig
from gateway.model import OpSpec
from gateway.task_json import durable_view, legacy_view
from router import DurableRunner, LegacyRunner, OperationRequest, OperationResult
from router.orca_outputs import ORCA_KEYS

pytestmark = pytest.mark.temporal

ACCOUNT, REGION = "test", "us-east-1"
SEEDED = "parity-main-v000"  # the group every operation on an existing group acts on, in both worlds


def world() -> SimCloud:
    """A sim cloud with the same seed and the same first calls as its twin, so instance ids agree too."""
    sim = SimCloud(faults=FaultConfig(seed=16), health_delay_s=0.02)
    spec = ServerGroupSpec(
        name=SEEDED,
        capacity=Capacity(min=2, max=2, desired=2),
        image="parity-ami",
        zones=(f"{REGION}a",),
        settings={"instanceType": "m5.large"},
    )
    sim.create_server_group(ACCOUNT, REGION, spec, token="seed-group")
    return sim


def _aws(**context: Any) -> dict[str, Any]:
    return {"cloudProvider": "aws", "credentials": ACCOUNT, **context}


def _instance(sim: SimCloud) -> str:
    return sim.describe_instances(ACCOUNT, REGION, SEEDED)[0].id


CASES: dict[str, dict[str, Any]] = {
    "createServerGroup": _aws(
        application="parity",
        stack="main",
        availabilityZones={REGION: [f"{REGION}a"]},
        capacity={"min": 1, "max": 1, "desired": 1},
        amiName="parity-ami",
        instanceType="m5.large",
    ),
    "cloneServerGroup": _aws(
        application="parity", source={"account": ACCOUNT, "region": REGION, "asgName": SEEDED}, region=REGION
    ),
    "resizeServerGroup": _aws(serverGroupName=SEEDED, region=REGION, capacity={"min": 1, "max": 3, "desired": 1}),
    "disableServerGroup": _aws(asgName=SEEDED, regions=[REGION]),
    "enableServerGroup": _aws(serverGroupName=SEEDED, region=REGION),
    "destroyServerGroup": _aws(asgs=[{"serverGroupName": SEEDED, "region": REGION}]),
    "terminateInstances": _aws(region=REGION, serverGroupName=SEEDED, instanceIds=["<first instance>"]),
    "upsertLoadBalancer": _aws(
        name="parity-frontend",
        availabilityZones={REGION: [f"{REGION}a"]},
        listeners=[{"externalProtocol": "HTTP", "externalPort": 80, "internalProtocol": "HTTP", "internalPort": 7001}],
    ),
    "deleteLoadBalancer": _aws(loadBalancerName="parity-frontend", regions=[REGION]),
    "allowLaunchDescription": _aws(account=ACCOUNT, amiName="parity-ami", region=REGION),
}


def test_the_cases_cover_every_catalogue_operation() -> None:
    from cloud.catalogue import supported_operations

    assert set(CASES) == {op.value for op in supported_operations("aws")}


@pytest.fixture(scope="module")
def legacy_sim() -> SimCloud:
    return world()


@pytest.fixture(scope="module")
def durable_sim() -> SimCloud:
    return world()


@pytest.fixture(scope="module")
def legacy(legacy_sim: SimCloud) -> Iterator[tuple[LegacyRunner, str]]:
    with legacy_service(legacy_sim) as url, legacy_runner(url) as runner:
        yield runner, url


@pytest.fixture(scope="module")
def durable(temporal_env: object, durable_sim: SimCloud) -> Iterator[DurableRunner]:
    client = cast(WorkflowEnvironment, temporal_env).client
    address = client.service_client.config.target_host
    with worker_thread(address, client.namespace, durable_sim) as task_queue:
        with Durable(address, task_queue).runner() as runner:
            yield runner


def _request(operation: str, sim: SimCloud) -> OperationRequest:
    context = dict(CASES[operation])
    if operation == "terminateInstances":
        context["instanceIds"] = [_instance(sim)]
    stage = "deploy" if operation == "createServerGroup" else operation
    return OperationRequest(
        f"parity-{operation}-{uuid.uuid4().hex[:8]}", operation, stage, ACCOUNT, "parity", "aws", context
    )


def _spec(request: OperationRequest) -> OpSpec:
    parsed = parse_operation(request.operation, request.context, provider="aws")
    assert parsed.operation is not None, parsed.errors
    class_name = type(parsed.operation).__name__
    return OpSpec(
        0,
        request.operation_id,
        request.operation,
        "aws",
        ACCOUNT,
        "parity",
        request.stage_type,
        class_name,
        request.context,
    )


def _legacy_objects(url: str, request: OperationRequest, result: OperationResult) -> list[dict[str, Any]]:
    task = httpx.get(f"{url}/task/{result.task_id}").json()
    return list(legacy_view(_spec(request), f"legacy:{result.task_id}", task).result_objects)


def _durable_objects(request: OperationRequest, result: OperationResult) -> list[dict[str, Any]]:
    return list(durable_view(_spec(request), f"durable:{result.workflow_id}", None, result).result_objects)


def _without_ids(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan object's facts may hold creation times; everything else is compared as is."""
    out = []
    for obj in objects:
        if obj.get("type") == "cloudops.plan":
            plan = dict(obj["plan"])
            plan["facts"] = {k: v for k, v in plan.get("facts", {}).items() if k != "source"}
            obj = {**obj, "plan": plan}
        out.append(obj)
    return out


def test_a_deploy_leaves_the_keys_orca_reads_in_orcas_shapes(
    legacy: tuple[LegacyRunner, str], durable: DurableRunner, legacy_sim: SimCloud, durable_sim: SimCloud
) -> None:
    runner, _ = legacy
    context = {**CASES["createServerGroup"], "application": "parityshape"}
    for path_runner in (runner, durable):
        request = OperationRequest(
            f"shape-{uuid.uuid4().hex[:8]}", "createServerGroup", "deploy", ACCOUNT, "parityshape", "aws", context
        )
        outputs = path_runner.run(request).outputs
        assert outputs["deploy.server.groups"] == {REGION: ["parityshape-main-v000"]}
        assert outputs["serverGroupNames"] == [f"{REGION}:parityshape-main-v000"]
        assert outputs["deploy.jobs"] == {REGION: ["parityshape-main-v000"]}
        assert outputs["deploy.account.name"] == ACCOUNT


def test_a_resize_leaves_the_server_group_orca_names_in_its_stage_context(
    legacy: tuple[LegacyRunner, str], durable: DurableRunner, legacy_sim: SimCloud, durable_sim: SimCloud
) -> None:
    runner, _ = legacy
    context = _aws(asgName=SEEDED, regions=[REGION], capacity={"min": 1, "max": 3, "desired": 1})
    for path_runner in (runner, durable):
        request = OperationRequest(
            f"shape-{uuid.uuid4().hex[:8]}", "resizeServerGroup", "resizeServerGroup", ACCOUNT, "parity", "aws", context
        )
        outputs = path_runner.run(request).outputs
        assert outputs == {
            "deploy.server.groups": {REGION: [SEEDED]},
            "deploy.account.name": ACCOUNT,
            "serverGroupName": SEEDED,
            "asgName": SEEDED,
        }


def test_the_requests_account_stands_in_for_credentials_on_both_paths(
    legacy: tuple[LegacyRunner, str], durable: DurableRunner, legacy_sim: SimCloud, durable_sim: SimCloud
) -> None:
    """Orca puts the stage's account in `credentials`; a caller that only sets the request's account gets the
    same operation on either path (`OperationRequest.operation_context`)."""
    runner, _ = legacy
    context = {
        "cloudProvider": "aws",
        "serverGroupName": SEEDED,
        "region": REGION,
        "capacity": {"min": 1, "max": 3, "desired": 1},
    }
    results = []
    for path_runner in (runner, durable):
        request = OperationRequest(
            f"nocreds-{uuid.uuid4().hex[:8]}",
            "resizeServerGroup",
            "resizeServerGroup",
            ACCOUNT,
            "parity",
            "aws",
            context,
        )
        results.append(path_runner.run(request))
    assert all(r.succeeded for r in results), [r.errors for r in results]
    assert results[0].outputs == results[1].outputs and results[0].outputs["deploy.account.name"] == ACCOUNT


# The order matters: the same sequence runs on both worlds, so each operation finds the same state on both.
ORDER = (
    "allowLaunchDescription",
    "createServerGroup",
    "cloneServerGroup",
    "upsertLoadBalancer",
    "resizeServerGroup",
    "terminateInstances",
    "disableServerGroup",
    "enableServerGroup",
    "destroyServerGroup",
    "deleteLoadBalancer",
)


@pytest.mark.parametrize("operation", ORDER)
def test_both_paths_give_the_same_outputs_and_result_objects(
    operation: str,
    legacy: tuple[LegacyRunner, str],
    durable: DurableRunner,
    legacy_sim: SimCloud,
    durable_sim: SimCloud,
) -> None:
    runner, url = legacy
    legacy_request, durable_request = _request(operation, legacy_sim), _request(operation, durable_sim)
    assert legacy_request.context == durable_request.context  # identical worlds: the same instance ids too
    on_legacy = runner.run(legacy_request)
    on_durable = durable.run(durable_request)
    assert on_legacy.succeeded, on_legacy.errors
    assert on_durable.succeeded, on_durable.errors
    assert on_legacy.outputs == on_durable.outputs
    assert _without_ids(_legacy_objects(url, legacy_request, on_legacy)) == _without_ids(
        _durable_objects(durable_request, on_durable)
    )
    expected = EXPECTED_ORCA_KEYS[operation]
    assert {k for k in on_durable.outputs if k in ORCA_KEYS} == expected


EXPECTED_ORCA_KEYS: dict[str, set[str]] = {
    "allowLaunchDescription": set(),
    "createServerGroup": {"deploy.server.groups", "deploy.jobs", "deploy.account.name"},
    "cloneServerGroup": {"deploy.server.groups", "deploy.jobs", "deploy.account.name"},
    "upsertLoadBalancer": set(),
    "terminateInstances": set(),
    "deleteLoadBalancer": set(),
    **{
        op: {"deploy.server.groups", "deploy.account.name", "serverGroupName", "asgName"}
        for op in ("resizeServerGroup", "disableServerGroup", "enableServerGroup", "destroyServerGroup")
    },
}
