"""A step's first attempt in the worker (`try_step`, a local activity) and its fallback to `execute_step`.

On the Temporal dev server with a worker in this process, over an in-process sim cloud (`FlakySim` scripts a
fault where a test needs one). What is asserted is the shape of each history (workflow tasks, activity tasks,
local-activity markers) and the cloud's journal: each mutation applied once, whichever attempt applied it.

The rule under test: a step tries in the worker once its plan is in the history, and before that (planned in the
worker, in the same workflow task) only for an operation that `replans_stably`: a replay after a crash there
plans again against a cloud that step has changed, and only such an operation plans the same steps then. A
healthy one-step deploy is one workflow task; the first step of any other operation planned in the worker runs
as the activity.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from durable_support import FlakySim, create_context, group_context, running_worker, seeded_group, workflow_input
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cloud.plan import MutationKind
from cloud.sim import SimCloud, summarise_journal
from durable_runner.contract import ErrorKind, WorkflowInput, WorkflowResult, workflow_id_for
from durable_runner.workflows import UntypedCloudOperationRunner

pytestmark = pytest.mark.temporal

Handle = WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]


def _two_regions(desired: int = 1) -> dict[str, Any]:
    context = create_context(desired=desired)
    context["availabilityZones"] = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2a"]}
    return context


async def _run(client: Client, sim: SimCloud, inp: WorkflowInput) -> tuple[WorkflowResult, list[HistoryEvent]]:
    async with running_worker(client, sim) as tq:
        handle: Handle = await client.start_workflow(
            UntypedCloudOperationRunner.run, inp, id=workflow_id_for(inp.operation_id), task_queue=tq
        )
        result = await handle.result()
        return result, list((await handle.fetch_history()).events)


def _count(events: list[HistoryEvent], kind: EventType.ValueType) -> int:
    return sum(1 for e in events if e.event_type == kind)


def _local_activities(events: list[HistoryEvent]) -> int:
    return sum(
        1
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


def _scheduled_inputs(events: list[HistoryEvent]) -> list[dict[str, object]]:
    return [
        json.loads(e.activity_task_scheduled_event_attributes.input.payloads[0].data)
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def _step_inputs(events: list[HistoryEvent]) -> list[dict[str, Any]]:
    return [i for i in _scheduled_inputs(events) if "token" in i]


async def test_a_healthy_one_step_deploy_is_one_workflow_task(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim()
    result, events = await _run(client, sim, workflow_input("createServerGroup", create_context(desired=1)))
    assert result.ok, result.errors
    # Planning and the create in the worker, in the first workflow task, which completes the workflow.
    assert _scheduled_inputs(events) == [] and _local_activities(events) == 2
    assert _count(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
    assert sim.creates == 1 and [e.kind for e in sim.journal()] == [MutationKind.CREATE_SERVER_GROUP]


async def test_a_two_region_deploy_runs_both_steps_with_its_plan(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim()
    result, events = await _run(client, sim, workflow_input("createServerGroup", _two_regions()))
    assert result.ok, result.errors
    assert result.applied == 2 and len(result.outputs["serverGroupNames"]) == 2  # type: ignore[arg-type]
    assert _scheduled_inputs(events) == [] and _local_activities(events) == 3  # planning, two creates
    assert _count(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
    assert sim.creates == 2 and summarise_journal(sim.journal()).clean and len(sim.journal()) == 2


async def test_an_operation_that_does_not_replan_stably_runs_its_first_step_as_the_activity(
    temporal_env: object,
) -> None:
    """A resize plans from the group's capacity today: its first step waits for the plan to be recorded."""
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim()
    context = group_context(seeded_group(sim), capacity={"min": 1, "max": 4, "desired": 3})
    result, events = await _run(client, sim, workflow_input("resizeServerGroup", context))
    assert result.ok, result.errors
    [step] = _step_inputs(events)
    assert step["applied"] is None and _local_activities(events) == 1  # planning alone in the worker
    assert _count(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 2


async def test_planned_by_the_activity_the_only_step_runs_in_the_worker(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim(plan_fails_once=True)
    result, events = await _run(client, sim, workflow_input("createServerGroup", create_context(desired=1)))
    assert result.ok, result.errors
    assert _step_inputs(events) == [] and len(_scheduled_inputs(events)) == 1  # the plan activity alone
    assert _count(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 2
    assert sim.creates == 1


async def test_a_group_not_healthy_yet_is_waited_for_by_the_activity_which_does_not_apply_again(
    temporal_env: object,
) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim(health_delay_s=0.5)
    result, events = await _run(client, sim, workflow_input("createServerGroup", _two_regions()))
    assert result.ok, result.errors
    first, second = _step_inputs(events)
    assert first["applied"] and second["applied"]  # each first attempt's create travels to its activity
    assert first["token"] != second["token"]
    completed = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    output = json.loads(completed[-1].activity_task_completed_event_attributes.result.payloads[0].data)
    assert output["resumed"] is True and output["polls"] >= 1
    assert sim.creates == 2  # the activity only waited
    assert summarise_journal(sim.journal()).clean and len(sim.journal()) == 2


async def test_a_lost_answer_in_the_first_attempt_is_retried_as_the_activity_under_the_same_token(
    temporal_env: object,
) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim(lose_create=2)  # the second region's create, in the worker
    result, events = await _run(client, sim, workflow_input("createServerGroup", _two_regions()))
    assert result.ok, result.errors
    [second] = _step_inputs(events)  # the first region's create finished in the worker
    assert second["applied"] is None  # nothing known: the activity applies again, under the same token
    assert sim.creates == 3  # asked three times, applied twice: the sim answered the third from its token
    kinds = [e.kind for e in sim.journal()]
    assert kinds == [MutationKind.CREATE_SERVER_GROUP] * 2 and summarise_journal(sim.journal()).clean


async def test_a_refusal_in_the_first_attempt_is_final_without_an_activity(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = FlakySim(plan_fails_once=True)
    context = group_context(seeded_group(sim), capacity={"min": 0, "max": 100000, "desired": 100000})
    before = len(sim.journal())
    result, events = await _run(client, sim, workflow_input("resizeServerGroup", context))
    assert [(e.kind, e.code) for e in result.errors] == [(ErrorKind.BUSINESS, "CapacityOutOfBounds")]
    assert _step_inputs(events) == []  # refused in the worker, never retried
    assert len(sim.journal()) == before


async def test_a_rolled_back_deploy_compensates_in_the_worker_after_the_wait_ran_out(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = SimCloud(health_delay_s=10**6)
    inp = workflow_input("createServerGroup", create_context(rollback=True), retry_window_seconds=3)
    result, events = await _run(client, sim, inp)
    assert not result.ok and result.compensation is not None
    # The create in the worker, then its wait as the activity until the window closed; the destroy that undoes it
    # needs no wait, so its first attempt in the worker finished it.
    [create] = _step_inputs(events)
    assert create["applied"] and _local_activities(events) == 3
    assert [e.kind for e in sim.journal()] == [MutationKind.CREATE_SERVER_GROUP, MutationKind.DESTROY_SERVER_GROUP]
