"""The workflow end to end on the Temporal dev server: every operation family, dry run, failures, idempotent
start, progress, visibility, and the documented `temporal workflow start` example.

A worker runs in this process on a fresh task queue per test, over an in-process sim cloud.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import uuid
from collections.abc import Callable
from typing import Any, cast

import pytest
from durable_support import (
    create_context,
    group_context,
    load_balancer_context,
    running_worker,
    seeded_group,
    workflow_input,
)
from infra import REPO_ROOT, venv_binary
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from cloud.catalogue import parse_operation
from cloud.model import Listener, LoadBalancerSpec
from cloud.sim import SimCloud, summarise_journal
from durable_runner.contract import (
    ErrorKind,
    RunState,
    WaitInput,
    WorkflowInput,
    WorkflowResult,
    workflow_id_for,
)
from durable_runner.search_attributes import APPLICATION, OPERATION, STAGE_TYPE, typed_attributes
from durable_runner.workflows import UntypedCloudOperationRunner

pytestmark = pytest.mark.temporal

Handle = WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]


def _client(temporal_env: object) -> Client:
    return cast(WorkflowEnvironment, temporal_env).client


async def _start(client: Client, task_queue: str, inp: WorkflowInput, **kwargs: Any) -> Handle:
    return await client.start_workflow(
        UntypedCloudOperationRunner.run,
        inp,
        id=workflow_id_for(inp.operation_id, dry_run=inp.dry_run),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        **kwargs,
    )


def _instance_of(sim: SimCloud, name: str) -> str:
    group = sim.describe_server_group("test", "us-east-1", name)
    assert group is not None
    return group.instances[0].id


def _lb(sim: SimCloud, name: str) -> str:
    listener = Listener("HTTP", 80, "HTTP", 7001)
    sim.upsert_load_balancer("test", "us-east-1", LoadBalancerSpec(name=name, listeners=(listener,)), "seed-lb")
    return name


# Each case: operation name, and a function that prepares the sim and returns the stage context.
FAMILIES: list[tuple[str, Callable[[SimCloud], dict[str, Any]]]] = [
    ("createServerGroup", lambda sim: create_context(desired=1)),
    (
        "cloneServerGroup",
        lambda sim: {
            "cloudProvider": "aws",
            "credentials": "test",
            "source": {"account": "test", "region": "us-east-1", "serverGroupName": seeded_group(sim)},
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
        },
    ),
    (
        "resizeServerGroup",
        lambda sim: group_context(seeded_group(sim), capacity={"min": 1, "max": 4, "desired": 2}),
    ),
    ("enableServerGroup", lambda sim: group_context(seeded_group(sim))),
    ("disableServerGroup", lambda sim: group_context(seeded_group(sim))),
    ("destroyServerGroup", lambda sim: group_context(seeded_group(sim))),
    (
        "terminateInstances",
        lambda sim: (
            lambda name: {
                "cloudProvider": "aws",
                "credentials": "test",
                "region": "us-east-1",
                "instanceIds": [_instance_of(sim, name)],
                "serverGroups": [name],
            }
        )(seeded_group(sim)),
    ),
    ("upsertLoadBalancer", lambda sim: load_balancer_context("myapp-main-frontend")),
    ("deleteLoadBalancer", lambda sim: load_balancer_context(_lb(sim, "myapp-main-old"))),
]


@pytest.mark.parametrize(("operation", "prepare"), FAMILIES, ids=[f[0] for f in FAMILIES])
async def test_every_operation_family_runs_its_plan_once(
    temporal_env: object, operation: str, prepare: Callable[[SimCloud], dict[str, Any]]
) -> None:
    sim = SimCloud(health_delay_s=0.1)
    context = prepare(sim)
    before = len(sim.journal())
    async with running_worker(_client(temporal_env), sim) as tq:
        result = await (await _start(_client(temporal_env), tq, workflow_input(operation, context))).result()
    assert result.ok, result.errors
    assert result.plan is not None and result.plan["mutations"]
    applied = sim.journal()[before:]
    planned = [(m["kind"], m["target"]) for m in result.plan["mutations"]]
    assert [(e.kind.value, e.target) for e in applied] == planned
    assert result.applied == len(planned)
    assert not summarise_journal(sim.journal()).duplicates
    if operation in ("createServerGroup", "cloneServerGroup"):
        assert result.outputs["serverGroupNames"] == [f"us-east-1:{planned[0][1]}"]


async def test_a_dry_run_plans_and_reads_but_never_mutates(temporal_env: object) -> None:
    sim = SimCloud(health_delay_s=0)
    name = seeded_group(sim)
    journal = sim.journal()
    context = group_context(name, capacity={"min": 1, "max": 4, "desired": 3})
    inp = workflow_input("resizeServerGroup", context, dry_run=True)
    async with running_worker(_client(temporal_env), sim) as tq:
        handle = await _start(_client(temporal_env), tq, inp)
        result = await handle.result()
    assert handle.id.endswith("-dry-run")
    assert result.ok and result.dry_run and result.applied == 0
    assert result.plan is not None
    assert [(m["kind"], m["target"], m["params"]) for m in result.plan["mutations"]] == [
        ("resizeServerGroup", name, {"capacity": {"min": 1, "max": 4, "desired": 3}})
    ]
    assert sim.journal() == journal


async def test_bad_payloads_get_the_catalogues_validation_errors_at_once(temporal_env: object) -> None:
    context = {"cloudProvider": "aws", "credentials": "test", "capacity": {"min": 5, "max": 1, "desired": "x"}}
    expected = parse_operation("resizeServerGroup", context).errors
    assert expected
    sim = SimCloud(health_delay_s=0)
    async with running_worker(_client(temporal_env), sim) as tq:
        handle = await _start(_client(temporal_env), tq, workflow_input("resizeServerGroup", context))
        result = await handle.result()
        unknown = await (
            await _start(_client(temporal_env), tq, workflow_input("createServerGroup", create_context(account="nope")))
        ).result()
    assert not result.ok
    assert [(e.kind, e.field, e.code, e.message) for e in result.errors] == [
        (ErrorKind.VALIDATION, f.path, f.code, f.message) for f in expected
    ]
    history = await handle.fetch_history()
    assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert [(e.kind, e.field, e.code) for e in unknown.errors] == [
        (ErrorKind.VALIDATION, "credentials", "unknown_account")
    ]
    assert sim.journal() == []


async def test_a_refusal_by_the_cloud_is_a_business_failure_without_retries(temporal_env: object) -> None:
    sim = SimCloud(health_delay_s=0)
    name = seeded_group(sim)
    context = group_context(name, capacity={"min": 0, "max": 100000, "desired": 100000})
    async with running_worker(_client(temporal_env), sim) as tq:
        handle = await _start(_client(temporal_env), tq, workflow_input("resizeServerGroup", context))
        result = await handle.result()
    assert [(e.kind, e.code) for e in result.errors] == [(ErrorKind.BUSINESS, "CapacityOutOfBounds")]
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempts == [1]  # the refused step, once (planning ran in the worker, a local activity)


async def test_a_repeated_start_attaches_to_the_running_execution(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=1.0)
    inp = workflow_input("createServerGroup", create_context(desired=1))
    async with running_worker(client, sim) as tq:
        first = await _start(client, tq, inp)
        second = await _start(client, tq, inp)
        assert second.first_execution_run_id == first.first_execution_run_id
        assert (await second.result()) == (await first.result())
    assert len(sim.journal()) == 1


async def test_progress_by_query_and_by_long_poll_update(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=1.0)
    async with running_worker(client, sim) as tq:
        handle = await _start(client, tq, workflow_input("createServerGroup", create_context(desired=1)))
        planned = await handle.execute_update(UntypedCloudOperationRunner.wait_progress, WaitInput(after=1))
        assert planned.completed == 2 and planned.state is RunState.RUNNING
        assert planned.step.startswith("deploy myapp-main-") and planned.step.endswith("wait until healthy")
        queried = await handle.query(UntypedCloudOperationRunner.progress)
        assert (queried.step, queried.completed) == (planned.step, 2)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(UntypedCloudOperationRunner.wait_progress, WaitInput(after=-1))
        assert "after must be 0 or more" in str(rejected.value.cause)
        done = await handle.execute_update(UntypedCloudOperationRunner.wait_progress, WaitInput(after=2))
        assert done.finished and done.state is RunState.SUCCEEDED and done.completed == 3
        assert (await handle.result()).ok
        final = await handle.query(UntypedCloudOperationRunner.progress)
        assert final == done


async def test_the_decision_is_in_the_memo_and_the_dimensions_are_searchable(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0)
    app = f"app{uuid.uuid4().hex[:8]}"
    decision = {"stage": "canary", "path": "durable", "reason": "bucket 12.5 < 25%", "percent": 25.0}
    inp = workflow_input("createServerGroup", create_context(app, desired=1), decision=decision, stage_type="deploy")
    attrs = typed_attributes(
        {"application": app, "account": "test", "operation": inp.operation, "provider": "aws", "stage_type": "deploy"}
    )
    async with running_worker(client, sim) as tq:
        handle = await _start(client, tq, inp, search_attributes=attrs)
        assert (await handle.result()).ok
        # Started without a memo (as from the CLI): the workflow copies the decision from its input.
        bare = workflow_input("createServerGroup", create_context(app, desired=1), decision=decision)
        bare_handle = await _start(client, tq, bare)
        assert (await bare_handle.result()).ok
    description = await handle.describe()
    assert await description.memo_value("decision") == decision
    assert await (await bare_handle.describe()).memo_value("decision") == decision
    found = description.typed_search_attributes
    assert (found.get(APPLICATION), found.get(OPERATION), found.get(STAGE_TYPE)) == (app, "createServerGroup", "deploy")

    query = f"Application = '{app}' AND Operation = 'createServerGroup' AND StageType = 'deploy'"

    async def listed() -> list[str]:
        return [w.id async for w in client.list_workflows(query)]

    for _ in range(100):  # visibility is eventually consistent
        if await listed() == [handle.id]:
            break
        await asyncio.sleep(0.05)
    assert await listed() == [handle.id]


def _documented_example() -> list[str]:
    text = (REPO_ROOT / "docs" / "durable-contract.md").read_text()
    block = re.search(r"<!-- cli-example:start -->\s*```sh\n(.*?)```", text, re.S)
    assert block is not None, "docs/durable-contract.md lost its cli-example block"
    return shlex.split(block.group(1).replace("\\\n", " "))


def _set_flag(argv: list[str], flag: str, value: str) -> None:
    argv[argv.index(flag) + 1] = value


async def test_the_documented_cli_start_runs_as_written(temporal_env: object) -> None:
    client = _client(temporal_env)
    argv = _documented_example()
    assert argv[:3] == ["temporal", "workflow", "start"]
    operation_id = f"cli-{uuid.uuid4().hex[:8]}"
    payload = json.loads(argv[argv.index("--input") + 1])
    payload["operation_id"] = operation_id
    binary = venv_binary("temporal")
    assert binary is not None
    sim = SimCloud(health_delay_s=0)
    async with running_worker(client, sim) as tq:
        argv[0] = binary
        _set_flag(argv, "--address", client.service_client.config.target_host)
        _set_flag(argv, "--task-queue", tq)
        _set_flag(argv, "--workflow-id", f"cloudop-{operation_id}")
        _set_flag(argv, "--input", json.dumps(payload))
        started = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
        assert started.returncode == 0, started.stdout + started.stderr
        result = await client.get_workflow_handle(f"cloudop-{operation_id}", result_type=WorkflowResult).result()
    assert result.ok, result.errors
    assert result.outputs["serverGroupNameByRegion"] == {"us-east-1": "myapp-main-v000"}
    assert [e.kind.value for e in sim.journal()] == ["createServerGroup"]
    description = await client.get_workflow_handle(f"cloudop-{operation_id}").describe()
    listed = description.typed_search_attributes
    assert listed.get(APPLICATION) == "myapp"


def test_examples_use_the_names_the_code_uses() -> None:
    argv = _documented_example()
    assert argv[argv.index("--type") + 1] == "UntypedCloudOperationRunner"
    assert argv[argv.index("--task-queue") + 1] == "cloudops-operations"
    payload = json.loads(argv[argv.index("--input") + 1])
    assert set(payload) <= {f for f in WorkflowInput.__dataclass_fields__}
