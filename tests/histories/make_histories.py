"""Regenerate the committed workflow histories that the replay test replays (see README.md here).

    .venv/bin/python tests/histories/make_histories.py [SCENARIO ...]

Runs each scenario (or only those named) on a fresh Temporal dev server with an in-process worker and an in-process
sim cloud, and writes `<scenario>.json` (the history as `temporal workflow show --output json` writes it) next to
this file.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent / "durable_runner")]

from durable_support import (  # noqa: E402
    FlakySim,
    create_context,
    group_context,
    running_worker,
    seeded_group,
    workflow_input,
)
from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from cloud.sim import SimCloud  # noqa: E402
from durable_runner.contract import WaitInput, WorkflowInput, WorkflowResult, workflow_id_for  # noqa: E402
from durable_runner.dev_server import dynamic_config_args  # noqa: E402
from durable_runner.search_attributes import SEARCH_ATTRIBUTES, typed_attributes  # noqa: E402
from durable_runner.worker import WorkerTuning  # noqa: E402
from durable_runner.workflows import UntypedCloudOperationRunner  # noqa: E402

Handle = WorkflowHandle[UntypedCloudOperationRunner, WorkflowResult]
TUNING = WorkerTuning(max_concurrent_activities=4, health_poll_seconds=0.1, wait_slice_seconds=0.5)
DECISION = {"stage": "durable", "path": "durable", "reason": "scope is durable", "propertyId": "p1"}


async def _run(client: Client, sim: SimCloud, inp: WorkflowInput, *, long_poll: bool = False) -> Handle:
    async with running_worker(client, sim, TUNING) as tq:
        handle = await client.start_workflow(
            UntypedCloudOperationRunner.run,
            inp,
            id=workflow_id_for(inp.operation_id, dry_run=inp.dry_run),
            task_queue=tq,
            # As DurableRunner starts them: with the dimensions, so the workflow upserts its Outcome at the end.
            search_attributes=typed_attributes(
                {"application": inp.application or "myapp", "account": "test", "operation": inp.operation}
            ),
        )
        if long_poll:  # updates land in the history too: replay must rebuild their handler
            seen = 0
            while not (
                progress := await handle.execute_update(UntypedCloudOperationRunner.wait_progress, WaitInput(seen))
            ).finished:
                seen = progress.completed
        await handle.result()
        return handle


async def deploy_two_regions(client: Client) -> Handle:
    context = create_context(desired=1)
    context["availabilityZones"] = {"us-east-1": ["us-east-1a"], "us-west-2": ["us-west-2a"]}
    inp = workflow_input("createServerGroup", context, operation_id="hist-deploy", decision=DECISION)
    return await _run(client, SimCloud(health_delay_s=0.3), inp, long_poll=True)


async def deploy_one_task(client: Client) -> Handle:
    """A one-region deploy, healthy at once: planning and the create in the worker, in the first workflow task,
    which completes the workflow (`steps-with-the-plan`)."""
    inp = workflow_input("createServerGroup", create_context(desired=1), operation_id="hist-one-task")
    return await _run(client, SimCloud(health_delay_s=0), inp)


async def deploy_plan_retried(client: Client) -> Handle:
    """Planning's first attempt times out, the plan activity plans; with the plan recorded, the step's first
    attempt runs in the worker, healthy at once, in the workflow task that saw the plan."""
    inp = workflow_input("createServerGroup", create_context(desired=1), operation_id="hist-plan-retried")
    return await _run(client, FlakySim(plan_fails_once=True), inp)


async def deploy_rolled_back(client: Client) -> Handle:
    inp = workflow_input(
        "createServerGroup", create_context(rollback=True), operation_id="hist-rollback", retry_window_seconds=3
    )
    return await _run(client, SimCloud(health_delay_s=10**6), inp)


async def resize_refused(client: Client) -> Handle:
    context = group_context("myapp-main-v404", capacity={"min": 1, "max": 2, "desired": 1})
    return await _run(
        client, SimCloud(health_delay_s=0), workflow_input("resizeServerGroup", context, operation_id="hist-refused")
    )


async def resize_step_refused(client: Client) -> Handle:
    """The cloud refuses the step itself (capacity past the world's limit) at its first attempt, in the worker
    (planning's first attempt timed out, so the plan came from the activity and was recorded)."""
    sim = FlakySim(plan_fails_once=True)
    context = group_context(seeded_group(sim), capacity={"min": 0, "max": 100000, "desired": 100000})
    return await _run(client, sim, workflow_input("resizeServerGroup", context, operation_id="hist-step-refused"))


async def bad_payload(client: Client) -> Handle:
    inp = workflow_input("createServerGroup", {"cloudProvider": "aws", "capacity": {"min": 3}}, operation_id="hist-bad")
    return await _run(client, SimCloud(health_delay_s=0), inp)


async def resize_dry_run(client: Client) -> Handle:
    sim = SimCloud(health_delay_s=0)
    context = group_context(seeded_group(sim), capacity={"min": 1, "max": 4, "desired": 3})
    return await _run(client, sim, workflow_input("resizeServerGroup", context, operation_id="hist-dry", dry_run=True))


async def plan_cloud_down(client: Client) -> Handle:
    """Planning fails in the worker, goes on as the plan activity, and runs out of its 3 s window."""
    sim = SimCloud(health_delay_s=0)
    sim.set_hard_down(account="test")
    inp = workflow_input("createServerGroup", create_context(), operation_id="hist-plan-down", retry_window_seconds=3)
    return await _run(client, sim, inp)


SCENARIOS: dict[str, Callable[[Client], Awaitable[Handle]]] = {
    "deploy_two_regions": deploy_two_regions,
    "deploy_one_task": deploy_one_task,
    "deploy_plan_retried": deploy_plan_retried,
    "deploy_rolled_back": deploy_rolled_back,
    "resize_refused": resize_refused,
    "resize_step_refused": resize_step_refused,
    "bad_payload": bad_payload,
    "resize_dry_run": resize_dry_run,
    "plan_cloud_down": plan_cloud_down,
}


async def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; the scenarios are {', '.join(SCENARIOS)}")
    path = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_extra_args=dynamic_config_args(),
    )
    async with env:
        for name, scenario in SCENARIOS.items():
            if names and name not in names:
                continue
            handle = await scenario(env.client)
            history = await handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json() + "\n")
            print(f"wrote {name}.json ({len(history.events)} events)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
