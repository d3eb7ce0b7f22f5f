"""A worker SIGKILLed in the middle of a step: another worker finishes the operation, each mutation once.

Real processes throughout: the sim cloud (`cloudops sim-cloud`) and two `cloudops worker` processes on the
Temporal dev server. In the first test the first worker is killed while the activity waits for the new server
group to become healthy (instances healthy 4 s after launch); after the heartbeat timeout the server gives the
step to the second worker, which
finds "already applied" in the heartbeat details and resumes the wait instead of creating the group again. In the
second, a deploy to two regions, it is killed inside a workflow task, after the second region's first attempt in
the worker (a local activity) applied its create and before that task completed: no marker of it is recorded,
the task times out, and the second worker runs that first attempt again with the same plan (recorded when the
first region's activity was scheduled) under the same token, which the cloud answers without a second create.
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


async def test_a_worker_killed_inside_a_steps_first_attempt_leaves_it_to_the_next_one(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim_port = free_port()
    # Every cloud call takes 1.5 s: the kill lands after the second create, during the health read that follows.
    argv = ["sim-cloud", "--port", str(sim_port), "--health-delay", "0", "--latency-ms", "1500"]
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
        context["availabilityZones"] = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2a"]}
        inp = workflow_input("createServerGroup", context)
        handle = await client.start_workflow(
            UntypedCloudOperationRunner.run, inp, id=workflow_id_for(inp.operation_id), task_queue=task_queue
        )
        for _ in range(800):  # the second create is applied, inside a workflow task
            if len(cloud.journal()) >= 2:
                break
            await asyncio.sleep(0.025)
        assert len(cloud.journal()) == 2, first.log()[-3000:]
        first.kill()
        second = _worker(client, sim.url, task_queue)
        result = await asyncio.wait_for(handle.result(), timeout=90)
        assert result.ok, result.errors

        journal = cloud.journal()
        assert [e.kind for e in journal] == [MutationKind.CREATE_SERVER_GROUP] * 2 and summarise_journal(journal).clean
        events = (await handle.fetch_history()).events
        kinds = [e.event_type for e in events]
        # The killed worker's task timed out with nothing recorded; the second worker's first attempt finished it.
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) == 1
        assert kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == 1  # the first region's step only
        names = sorted(f"{e.region}:{e.target}" for e in journal)
        assert sorted(result.outputs["serverGroupNames"]) == names  # type: ignore[arg-type]
    finally:
        first.kill()
        if second is not None:
            second.kill()
        sim.stop()
