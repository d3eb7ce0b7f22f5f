"""Empty workflows of the durable path's shapes, to tell Temporal's share of its latency from ours.

`EmptyShape` does what `UntypedCloudOperationRunner` does for a one-step operation, with no work in it: a first
workflow task that runs a local activity (planning), one regular activity (the step: the first step of a plan
made in the worker always runs as the activity, see `durable_runner.steps.StepRunner.apply`), a last workflow
task that completes. `EmptyOneTask` is the shape that was tried and dropped for that step: planning and the
step as two local activities in one workflow task; the latency benchmark runs it beside the other so a report
shows, on Temporal's side alone, what the safe shape gives up. Their activities return at once. The benchmark
runs them through the same dev server, in a worker process of its own, sandboxed like ours
(`python -m bench.empty_shape ADDRESS TASK_QUEUE`, which prints "worker ready").
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from temporalio import activity, workflow

__all__ = ["ONE_TASK_WORKFLOW_TYPE", "WORKFLOW_TYPE", "EmptyOneTask", "EmptyShape", "main"]

WORKFLOW_TYPE = "CloudopsBenchEmptyShape"
ONE_TASK_WORKFLOW_TYPE = "CloudopsBenchEmptyOneTask"
_TIMEOUT = timedelta(seconds=10)


@activity.defn(name="cloudops_bench_empty")
def empty(step: str) -> dict[str, str]:
    return {"step": step}


@workflow.defn(name=WORKFLOW_TYPE)
class EmptyShape:
    @workflow.run
    async def run(self, operation_id: str) -> dict[str, str]:
        await workflow.execute_local_activity(empty, "plan", start_to_close_timeout=_TIMEOUT)
        return await workflow.execute_activity(empty, "apply", start_to_close_timeout=_TIMEOUT)


@workflow.defn(name=ONE_TASK_WORKFLOW_TYPE)
class EmptyOneTask:
    @workflow.run
    async def run(self, operation_id: str) -> dict[str, str]:
        await workflow.execute_local_activity(empty, "plan", start_to_close_timeout=_TIMEOUT)
        return await workflow.execute_local_activity(empty, "apply", start_to_close_timeout=_TIMEOUT)


async def _serve(address: str, task_queue: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = Worker(
            client,
            task_queue=task_queue,
            workflows=[EmptyShape, EmptyOneTask],
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
