"""Replay gate: every committed history in tests/histories/ must replay against today's workflow code.

A change that alters the commands the workflow issues for an existing history (a new activity, a timer, a
different order) raises a non-determinism error here, in CI, before it can break running operations. Such a
change needs `workflow.patched(...)` (or a new worker deployment version); then regenerate the histories
(tests/histories/README.md) and keep the old ones that still matter.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from durable_runner.contract import WORKFLOW_TYPE, WorkflowInput, WorkflowResult
from durable_runner.steps import STEPS_LOCALLY_FIRST, STEPS_WITH_THE_PLAN
from durable_runner.workflows import UntypedCloudOperationRunner

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"cloudop-{path.stem}", path.read_text())


def _patches(path: Path) -> set[str]:
    """The patch ids a history's `core_patch` markers record (their details are JSON payloads)."""
    markers = (
        e.marker_recorded_event_attributes
        for e in _history(path).events
        if e.HasField("marker_recorded_event_attributes")
    )
    return {
        json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers if m.marker_name == "core_patch"
    }


def test_the_histories_cover_the_outcomes_before_and_after_planning_moved_into_the_worker() -> None:
    outcomes = {"deploy_two_regions", "deploy_rolled_back", "resize_refused", "resize_dry_run"}
    assert {p.stem for p in HISTORIES} >= outcomes | {"bad_payload", "plan_cloud_down"}
    # v1: executions started before the `plan-locally-first` patch, which must go on replaying after it.
    assert {p.stem for p in HISTORIES} >= {f"{name}.v1" for name in outcomes}
    for name in outcomes:  # the patch leaves a `core_patch` marker in the histories recorded after it
        assert "core_patch" in (HISTORIES[0].parent / f"{name}.json").read_text()
        assert "core_patch" not in (HISTORIES[0].parent / f"{name}.v1.json").read_text()


def test_the_histories_cover_the_outcome_upsert_and_the_executions_started_before_it() -> None:
    """After the `outcome-search-attribute` patch every scenario ends by upserting `Outcome`; the `.v2` files,
    recorded before it, never did and must go on replaying."""
    scenarios = {"deploy_two_regions", "deploy_rolled_back", "resize_refused", "resize_dry_run", "bad_payload"}
    scenarios.add("plan_cloud_down")
    here = HISTORIES[0].parent
    assert {p.stem for p in HISTORIES} >= {f"{name}.v2" for name in scenarios}
    for name in scenarios:
        assert '"Outcome"' in (here / f"{name}.json").read_text()
        assert '"Outcome"' not in (here / f"{name}.v2.json").read_text()


def test_the_histories_cover_steps_in_the_worker_and_the_executions_started_before() -> None:
    """After the `steps-locally-first` patch a step whose plan is recorded first tries in the worker (`try_step`,
    a local activity); the `.v3` files, recorded before it, ran every step as `execute_step` alone and must go on
    replaying."""
    here = HISTORIES[0].parent
    stepped = {"deploy_two_regions", "deploy_rolled_back"}
    assert {p.stem for p in HISTORIES} >= {f"{name}.v3" for name in stepped} | {"deploy_plan_retried"}
    for name in stepped | {"deploy_plan_retried", "resize_step_refused"}:
        assert STEPS_LOCALLY_FIRST in _patches(here / f"{name}.json"), name
    for name in stepped:
        assert STEPS_LOCALLY_FIRST not in _patches(here / f"{name}.v3.json"), name
    # The plan from the activity, then the step done in the worker: no step activity, no third workflow task.
    retried = (here / "deploy_plan_retried.json").read_text()
    assert retried.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") == 2
    assert retried.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") == 1


def test_the_histories_cover_steps_with_the_plan_and_the_executions_started_before() -> None:
    """After the `steps-with-the-plan` patch a deploy (`replans_stably`) planned in the worker tries its steps in
    the same workflow task; the `.v4` files, recorded before it, ran the first such step as `execute_step` and
    must go on replaying. A resize never asks for the patch."""
    here = HISTORIES[0].parent
    deploys = {"deploy_two_regions", "deploy_rolled_back", "deploy_one_task"}
    assert {p.stem for p in HISTORIES} >= deploys | {f"{name}.v4" for name in deploys - {"deploy_one_task"}}
    for name in deploys:
        assert STEPS_WITH_THE_PLAN in _patches(here / f"{name}.json"), name
    for name in deploys - {"deploy_one_task"}:
        assert STEPS_WITH_THE_PLAN not in _patches(here / f"{name}.v4.json"), name
    for name in ("resize_refused", "resize_step_refused", "resize_dry_run"):
        assert STEPS_WITH_THE_PLAN not in _patches(here / f"{name}.json"), name
    # The whole deploy in the first workflow task: no activity, one task.
    one_task = (here / "deploy_one_task.json").read_text()
    assert one_task.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") == 1
    assert one_task.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") == 0


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_committed_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=[UntypedCloudOperationRunner])
    await replayer.replay_workflow(_history(path))


@workflow.defn(name=WORKFLOW_TYPE, sandboxed=False)  # this test module is not sandbox-safe
class _TimerFirst:
    """The same workflow type with one harmless-looking change: a short timer before everything else."""

    @workflow.run
    async def run(self, inp: WorkflowInput) -> WorkflowResult:
        await workflow.sleep(timedelta(seconds=1))
        return WorkflowResult(ok=True)


async def test_a_non_deterministic_change_fails_the_replay() -> None:
    replayer = Replayer(workflows=[_TimerFirst])
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(_history(HISTORIES[0]))
