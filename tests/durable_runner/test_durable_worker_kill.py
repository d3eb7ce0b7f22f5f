"""A worker SIGKILLed in the middle of a step: another worker finishes the operation, each mutation once.

Real processes throughout: the sim cloud (`cloudops sim-cloud`) and two `cloudops worker` processes on the
Temporal dev server. In the first test the first worker is killed while the activity waits for the new server
group to become healthy (instances healthy 4 s after launch); after the heartbeat timeout the server gives the
step to the second worker, which
finds "already applied" in the heartbeat details and resumes the wait instead of creating the group again. In the
second, a deploy to one region and to two, it is killed inside the first workflow task, after the last create
(a local activity, in the task that planned it) landed and before that task completed: no marker is recorded,
not even the plan's, the task times out, and the second worker plans again. Planning recognises the groups the
steps' tokens made (`replans_stably`), so the plan and the tokens are the same, and the cloud answers each
create from its ledger without a second one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import cast

import pytest
from durable_support import create_context, workflow_input
from infra import Process, cloudops_argv, free_port, http_ok, start_process, wait_until
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cloud.plan import MutationKind
from cloud.sim import summarise_journal
from cloud.sim.client import SimCloudClient
from durable_runner.contract import workflow_id_for
from durable_runner.workflows import UntypedCloudOperationRunner

pytestmark = [pytest.mark.temporal, pytest.mark.slow]


def _worker(client: Client, sim_url: str, task_queue: str) -> Process:
    metrics = free_port()
    argv = cloudops_argv(
        "worker",
        "--cloud",
        sim_url,
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        "--task-queue",
        task_queue,
        "--metrics-bind",
        f"127.0.0.1:{metrics}",
        "--health-poll",
        "0.2",
        "--graceful-shutdown",
        "2",
        # A short sticky timeout: the next workflow task must not wait out a dead worker's sticky queue for long.
        "--sticky-timeout",
        "1",
    )
    worker = start_process(argv, metrics, name="worker", timeout=30)
    wait_until(lambda: "worker ready" in worker.log(), timeout=30, what="worker ready")
    return worker


async def test_a_second_worker_finishes_what_a_killed_one_started(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim_port = free_port()
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "4"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    cloud = SimCloudClient(sim.url)
    task_queue = f"tq-{uuid.uuid4().hex}"
    first = _worker(client, sim.url, task_queue)
    second: Process | None = None
    try:
        inp = workflow_input(
            "createServerGroup", create_context(desired=1), heartbeat_timeout_seconds=2, max_retry_interval_seconds=1
        )
        handle = await client.start_workflow(
            UntypedCloudOperationRunner.run, inp, id=workflow_id_for(inp.operation_id), task_queue=task_queue
        )

        async def heartbeat_recorded() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return bool(pending) and bool(pending[0].heartbeat_details.payloads)

        for _ in range(200):  # the create is applied and its "applied" heartbeat reached the server
            if await heartbeat_recorded():
                break
            await asyncio.sleep(0.05)
        assert await heartbeat_recorded(), first.log()[-3000:]
        assert [e.kind for e in cloud.journal()] == [MutationKind.CREATE_SERVER_GROUP]

        first.kill()
        second = _worker(client, sim.url, task_queue)
        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result.ok, result.errors

        journal = cloud.journal()
        assert [(e.kind, e.target) for e in journal] == [
            (MutationKind.CREATE_SERVER_GROUP, result.plan["mutations"][0]["target"])  # type: ignore[index]
        ]
        assert summarise_journal(journal).clean

        # The step's last attempt ran on the second worker and resumed from the first one's heartbeat.
        events = (await handle.fetch_history()).events
        started = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        assert started[-1].activity_task_started_event_attributes.attempt >= 2
        completed = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
        step_output = json.loads(completed[-1].activity_task_completed_event_attributes.result.payloads[0].data)
        assert step_output["resumed"] is True

        second.stop()  # SIGTERM: a graceful shutdown, exit code 0
        assert second.popen.returncode == 0, second.log()[-3000:]
        assert "worker stopped" in second.log()
    finally:
        first.kill()
        if second is not None:
            second.kill()
        sim.stop()


@pytest.mark.parametrize("regions", [1, 2], ids=["one region", "two regions"])
async def test_a_worker_killed_after_a_create_before_its_plan_is_recorded_leaves_the_same_plan_to_the_next(
    temporal_env: object, regions: int
) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim_port = free_port()
    # Every cloud call takes 0.4 s: the kill lands after the last create, during the health read that follows,
    # well inside the first workflow task (the SDK would record markers of a task that runs past 8 s).
    argv = ["sim-cloud", "--port", str(sim_port), "--health-delay", "0", "--latency-ms", "400"]
    sim = start_process(
        cloudops_argv(*argv, "--latency-spread", "0"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    cloud = SimCloudClient(sim.url)
    task_queue = f"tq-{uuid.uuid4().hex}"
    first = _worker(client, sim.url, task_queue)
    second: Process | None = None
    try:
        context = create_context(desired=1)
        zones = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2a"]}
        context["availabilityZones"] = dict(list(zones.items())[:regions])
        inp = workflow_input("createServerGroup", context)
        handle = await client.start_workflow(
            UntypedCloudOperationRunner.run, inp, id=workflow_id_for(inp.operation_id), task_queue=task_queue
        )
        for _ in range(800):  # the last create is applied, inside the first workflow task
            if len(cloud.journal()) >= regions:
                break
            await asyncio.sleep(0.025)
        assert len(cloud.journal()) == regions, first.log()[-3000:]
        first.kill()
        second = _worker(client, sim.url, task_queue)
        result = await asyncio.wait_for(handle.result(), timeout=90)
        assert result.ok, result.errors

        journal = cloud.journal()
        assert [e.kind for e in journal] == [MutationKind.CREATE_SERVER_GROUP] * regions
        assert summarise_journal(journal).clean
        planned = sorted(f"{m['region']}:{m['target']}" for m in result.plan["mutations"])  # type: ignore[index]
        assert sorted(f"{e.region}:{e.target}" for e in journal) == planned
        events = (await handle.fetch_history()).events
        kinds = [e.event_type for e in events]
        # The killed worker's task timed out with nothing recorded, not even the plan; the second worker planned
        # again, found the groups its tokens had made, and ran the same creates, which the cloud answered from
        # its ledger. No activity at all.
        timed_out = kinds.index(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
        assert EventType.EVENT_TYPE_MARKER_RECORDED not in kinds[:timed_out]
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) == 1
        assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()
        sim.stop()
