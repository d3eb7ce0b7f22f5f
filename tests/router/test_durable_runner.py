"""`DurableRunner` on the Temporal dev server: run, start/poll, re-attach, idempotent start, failures, unavailability.

The worker runs in this process on a fresh task queue per test (over an in-process sim cloud), except where the
sync API is called from the event loop's own thread: that blocks the loop, so the worker runs on its own thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, cast

import pytest
from infra import free_port
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from cloud.sim import SimCloud
from durable_runner.contract import RunState
from durable_runner.worker import WorkerTuning, build_worker
from router import durable_start
from router.contract import (
    CloudOperationRunner,
    DurablePathRunner,
    ErrorKind,
    OperationHandle,
    OperationRequest,
    OperationState,
    Path,
    ResultStatus,
    RouteDecision,
    RunOptions,
)
from router.durable import DurableRunner
from router.errors import RunnerUnavailable, UnknownHandle

pytestmark = pytest.mark.temporal

TUNING = WorkerTuning(max_concurrent_activities=4, health_poll_seconds=0.05, wait_slice_seconds=5.0)
DECISION = RouteDecision(stage="canary", path=Path.DURABLE, reason="bucket 3.1 < 10%", percent=10.0, bucket=3.1)
ROUTED = RunOptions(decision=DECISION)


def _client(temporal_env: object) -> Client:
    return cast(WorkflowEnvironment, temporal_env).client


def _request(operation: str = "createServerGroup", context: dict[str, Any] | None = None) -> OperationRequest:
    context = context or {
        "cloudProvider": "aws",
        "application": "myapp",
        "stack": "main",
        "credentials": "test",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": "myapp-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest(
        operation_id=f"op-{uuid.uuid4().hex[:12]}",
        operation=operation,
        stage_type="createServerGroup",
        account="test",
        application="myapp",
        provider="aws",
        context=context,
    )


@asynccontextmanager
async def _worker(client: Client, sim: SimCloud) -> AsyncIterator[str]:
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with build_worker(client, sim, task_queue=task_queue, tuning=TUNING):
        yield task_queue


def _runner(client: Client, task_queue: str) -> DurableRunner:
    return DurableRunner(client, task_queue=task_queue, retry_window_seconds=60, heartbeat_timeout_seconds=5)


async def test_run_maps_the_workflow_result(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0.1)
    async with _worker(client, sim) as tq:
        runner = _runner(client, tq)
        assert isinstance(runner, CloudOperationRunner) and isinstance(runner, DurablePathRunner)
        request = _request()
        result = await runner.run_async(request, ROUTED)
    assert result.status is ResultStatus.SUCCEEDED and result.path is Path.DURABLE
    assert result.operation_id == request.operation_id
    assert result.workflow_id == f"cloudop-{request.operation_id}"
    assert result.decision == DECISION
    assert result.outputs["serverGroupNames"] == ["us-east-1:myapp-main-v000"]
    assert result.plan is not None and result.plan["mutations"][0]["kind"] == "createServerGroup"
    assert result.timings is not None and result.timings.finished_at >= result.timings.submitted_at
    assert len(sim.journal()) == 1


async def test_failures_come_back_as_values_with_their_kind(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0)
    async with _worker(client, sim) as tq:
        runner = _runner(client, tq)
        invalid = await runner.run_async(_request(context={"cloudProvider": "aws", "credentials": "test"}))
        missing = {
            "cloudProvider": "aws",
            "credentials": "test",
            "source": {"account": "test", "region": "us-east-1", "serverGroupName": "x-v001"},
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
        }  # a clone of a group that does not exist: refused by the cloud (a missing group to destroy is skipped)
        refused = await runner.run_async(_request("cloneServerGroup", missing))
    assert invalid.status is ResultStatus.FAILED
    assert invalid.errors and {e.kind for e in invalid.errors} == {ErrorKind.VALIDATION}
    assert all(e.field for e in invalid.errors)
    assert [(e.kind, e.code) for e in refused.errors] == [(ErrorKind.BUSINESS, "NotFound")]


async def test_start_poll_and_reattach_from_another_runner(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=1.0)
    async with _worker(client, sim) as tq:
        runner = _runner(client, tq)
        request = _request()
        handle = await runner.start_async(request, ROUTED)
        assert str(handle) == f"durable:cloudop-{request.operation_id}"
        assert OperationHandle.parse(str(handle)) == handle
        assert await runner.start_async(request) == handle  # a retried start attaches
        progress = await runner.wait_progress_async(handle, after=1)
        assert progress.state is RunState.RUNNING and progress.completed == 2
        status = await runner.poll_async(handle)
        assert status.state is OperationState.RUNNING and status.step == progress.step

        # A caller that restarted: a new runner, only the handle.
        restarted = _runner(client, tq)
        result = await restarted.result_async(handle)
        assert result.succeeded and result.decision == DECISION
        done = await restarted.poll_async(handle)
        assert done.state is OperationState.SUCCEEDED and done.result is not None
        assert done.result.outputs == result.outputs
        final = await restarted.wait_progress_async(handle, after=2)
        assert final.finished and final.state is RunState.SUCCEEDED

        # After completion a start attaches to the result instead of running the operation again.
        again = await runner.run_async(request)
        assert again.succeeded and again.outputs == result.outputs
    assert len(sim.journal()) == 1


async def test_dry_run_uses_its_own_workflow_and_mutates_nothing(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0)
    async with _worker(client, sim) as tq:
        runner = _runner(client, tq)
        request = _request()
        shadow = await runner.run_async(request, RunOptions(dry_run=True, decision=DECISION))
        assert not await runner.has_started_async(request.operation_id)  # a shadow is not the operation
        real = await runner.run_async(request)
        assert await runner.has_started_async(request.operation_id)
    assert shadow.succeeded and shadow.workflow_id == f"cloudop-{request.operation_id}-dry-run"
    assert shadow.plan is not None and len(shadow.plan["mutations"]) == 1
    assert real.plan is not None and real.plan["mutations"] == shadow.plan["mutations"]
    assert len(sim.journal()) == 1  # only the real run mutated


async def test_unknown_handles_are_refused(temporal_env: object) -> None:
    runner = DurableRunner(_client(temporal_env))
    with pytest.raises(UnknownHandle):
        await runner.poll_async(OperationHandle(Path.LEGACY, "abc"))
    with pytest.raises(UnknownHandle):
        await runner.poll_async(OperationHandle.parse("nonsense"))
    with pytest.raises(UnknownHandle):
        await runner.poll_async(OperationHandle.parse(f"durable:cloudop-{uuid.uuid4().hex}"))


def test_nothing_listening_means_certainly_not_started() -> None:
    runner = DurableRunner(f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(RunnerUnavailable) as raised:
            runner.start(_request())
        assert raised.value.may_have_started is False and raised.value.path == "durable"
        assert runner.has_started("anything") is True  # unknown must never let another path run it
    finally:
        runner.close()


@contextmanager
def _worker_thread(address: str, namespace: str, sim: SimCloud) -> Iterator[str]:
    """A worker on its own thread and event loop (with its own client)."""
    task_queue = f"tq-{uuid.uuid4().hex}"
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        client = await Client.connect(address, namespace=namespace)
        async with build_worker(client, sim, task_queue=task_queue, tuning=TUNING):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, serve())
        assert ready.wait(30) or future.result(0) is None
        try:
            yield task_queue
        finally:
            stop.set()
            future.result(30)


async def test_sync_api_works_from_the_event_loop_thread_and_from_plain_threads(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0)
    address = client.service_client.config.target_host
    with _worker_thread(address, client.namespace, sim) as tq:
        runner = DurableRunner(address, task_queue=tq, retry_window_seconds=60)
        try:
            in_loop = runner.run(_request())  # blocks this loop's thread on purpose: no deadlock
            in_thread = await asyncio.to_thread(runner.run, _request())
            handle = runner.start(_request())
            status = runner.poll(handle)
            assert status.state in (OperationState.RUNNING, OperationState.SUCCEEDED)
            assert runner.result(handle).succeeded
        finally:
            runner.close()
    assert in_loop.succeeded and in_thread.succeeded
    assert len(sim.journal()) == 3


async def test_a_failed_start_is_classified_by_what_it_proves(temporal_env: object) -> None:
    client = _client(temporal_env)
    sim = SimCloud(health_delay_s=0)
    async with _worker(client, sim) as tq:
        runner = _runner(client, tq)
        request = _request()
        await runner.run_async(request)
        existing, absent = f"cloudop-{request.operation_id}", f"cloudop-{uuid.uuid4().hex}"

        async def after(workflow_id: str, status: RPCStatusCode, message: str) -> object:
            err = RPCError(message, status, b"")
            failure = durable_start.classify(err)
            assert failure is not None
            return await runner._after_failed_start(client, workflow_id, err, failure, "x")

        # A deadline on a start that did land: attach to it.
        handle = await after(existing, RPCStatusCode.DEADLINE_EXCEEDED, "late")
        assert getattr(handle, "id", None) == existing
        # A deadline, or an UNAVAILABLE whatever its words, with nothing to show for it yet: it may still land.
        for status, message in [
            (RPCStatusCode.DEADLINE_EXCEEDED, "late"),
            (RPCStatusCode.UNAVAILABLE, "tcp connect error: Connection refused"),
        ]:
            with pytest.raises(RunnerUnavailable) as maybe:
                await after(absent, status, message)
            assert maybe.value.may_have_started is True
        # A refusal proves nothing was created.
        with pytest.raises(RunnerUnavailable) as refused:
            await after(absent, RPCStatusCode.INVALID_ARGUMENT, "search attribute Application is not defined")
        assert refused.value.may_have_started is False
