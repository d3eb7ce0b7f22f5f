"""Empty workflows of the durable path's shapes, to tell Temporal's share of its latency from ours.

`EmptyShape` does what `UntypedCloudOperationRunner` does for a one-step deploy, with no work in it: one workflow
task that runs two local activities (planning, then the step: a deploy `replans_stably`, so its step may run
before its plan is recorded, see `durable_runner.steps.StepRunner.apply`) and completes. `EmptyTwoTasks` is the
shape of an operation that does not replan stably (a resize), and of a deploy before the `steps-with-the-plan`
patch: planning as a local activity in a first workflow task, the step as a regular activity, a last workflow
task that completes. The latency benchmark runs both, so a report shows on Temporal's side alone what the one
task saves. Their activities return at once. The benchmark runs them through the same dev server, in a worker
process of its own, sandboxed like ours (`python -m bench.empty_shape ADDRESS TASK_QUEUE`, which prints "worker
ready").
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from temporalio import activity, workflow

__all__ = ["TWO_TASKS_WORKFLOW_TYPE", "WORKFLOW_TYPE", "EmptyShape", "EmptyTwoTasks", "main"]

WORKFLOW_TYPE = "CloudopsBenchEmptyShape"
TWO_TASKS_WORKFLOW_TYPE = "CloudopsBenchEmptyTwoTasks"
_TIMEOUT = timedelta(seconds=10)


@activity.defn(name="cloudops_bench_empty")
def empty(step: str) -> dict[str, str]:
    return {"step": step}


@workflow.defn(name=WORKFLOW_TYPE)
class EmptyShape:
    @workflow.run
    async def run(self, operation_id: str) -> dict[str, str]:
        await workflow.execute_local_activity(empty, "plan", start_to_close_timeout=_TIMEOUT)
        return await workflow.execute_local_activity(empty, "apply", start_to_close_timeout=_TIMEOUT)


@workflow.defn(name=TWO_TASKS_WORKFLOW_TYPE)
class EmptyTwoTasks:
    @workflow.run
    async def run(self, operation_id: str) -> dict[str, str]:
        await workflow.execute_local_activity(empty, "plan", start_to_close_timeout=_TIMEOUT)
        return await workflow.execute_activity(empty, "apply", start_to_close_timeout=_TIMEOUT)


async def _serve(address: str, task_queue: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[EmptyShape, EmptyTwoTasks],
            activities=[empty],
            activity_executor=executor,
        )
        async with worker:
            print("worker ready", flush=True)
            await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    address, task_queue = argv
    asyncio.run(_serve(address, task_queue))


if __name__ == "__main__":
    main(sys.argv[1:])
