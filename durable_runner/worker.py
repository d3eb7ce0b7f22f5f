"""The worker: the workflow and the activities over one cloud, polling one task queue, stopped gracefully.

`build_worker` makes a `temporalio.worker.Worker` (tests run it in process); `run_worker` is the whole process
behind `cloudops worker`: connect (with a Prometheus endpoint when asked), check the search attributes, poll
until SIGINT/SIGTERM, then shut down gracefully: stop polling, give running activities
`graceful_shutdown_seconds` to finish, and cancel the rest, whose heartbeats let another worker resume them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from cloud.provider import CloudProvider
from durable_runner.activities import CloudActivities
from durable_runner.bytecode import cache_workflow_bytecode
from durable_runner.client import ConnectionSettings, connect
from durable_runner.contract import DEFAULT_TASK_QUEUE
from durable_runner.errors import WorkerStartError
from durable_runner.search_attributes import ensure_registered, missing_attributes
from durable_runner.tracing import worker_interceptors
from durable_runner.workflows import UntypedCloudOperationRunner

__all__ = ["WorkerTuning", "build_worker", "metrics_runtime", "run_worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerTuning:
    """Worker knobs. Slots are fixed-size (Temporal's advice for most workloads); activity threads match them.

    `max_task_queue_activities_per_second` is enforced by the server across every worker of the queue: the lever
    for a cloud API's rate limit. `health_poll_seconds` paces capacity checks inside a wait;
    `wait_slice_seconds` is how long one attempt waits before handing back to the retry policy.
    `max_cached_workflows` must be at least 1: planning and a step's first attempt run as local activities, which
    a worker without a cache cancels and redoes at every eviction. `sticky_timeout_seconds` is how long a workflow
    task waits on this worker's own (sticky) queue before any worker may take it: after a crash, how long its
    cached workflows stall.
    """

    max_concurrent_activities: int = 50
    max_concurrent_workflow_tasks: int = 50
    max_cached_workflows: int = 1000
    max_activities_per_second: float | None = None
    max_task_queue_activities_per_second: float | None = None
    graceful_shutdown_seconds: float = 30.0
    health_poll_seconds: float = 2.0
    wait_slice_seconds: float = 60.0
    sticky_timeout_seconds: float = 10.0


def build_worker(
    client: Client,
    provider: CloudProvider,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    tuning: WorkerTuning = WorkerTuning(),
    identity: str | None = None,
) -> Worker:
    """A worker running `UntypedCloudOperationRunner` and the activities over `provider`."""
    cache_workflow_bytecode([UntypedCloudOperationRunner])  # else the sandbox may compile it at every run
    activities = CloudActivities(
        provider, poll_interval_s=tuning.health_poll_seconds, wait_slice_s=tuning.wait_slice_seconds
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[UntypedCloudOperationRunner],
        activities=[activities.plan_operation, activities.try_step, activities.execute_step],
        activity_executor=ThreadPoolExecutor(
            max_workers=tuning.max_concurrent_activities, thread_name_prefix="cloudops-activity"
        ),
        max_concurrent_activities=tuning.max_concurrent_activities,
        max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
        max_cached_workflows=tuning.max_cached_workflows,
        max_activities_per_second=tuning.max_activities_per_second,
        max_task_queue_activities_per_second=tuning.max_task_queue_activities_per_second,
        graceful_shutdown_timeout=timedelta(seconds=tuning.graceful_shutdown_seconds),
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=tuning.sticky_timeout_seconds),
        identity=identity,
        interceptors=worker_interceptors(client),  # the workflow's and activities' spans join the caller's trace
    )


def metrics_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime serving Prometheus metrics at http://<bind_address>/metrics."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


async def run_worker(
    settings: ConnectionSettings,
    provider: CloudProvider,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    tuning: WorkerTuning = WorkerTuning(),
    metrics_bind: str | None = None,
    register_search_attributes: bool = False,
    on_ready: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a worker until SIGINT/SIGTERM (or `stop` is set), then shut it down gracefully."""
    runtime = metrics_runtime(metrics_bind) if metrics_bind else None
    client = await connect(settings, runtime=runtime)
    await _check_search_attributes(client, register_search_attributes)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with build_worker(client, provider, task_queue=task_queue, tuning=tuning, identity=settings.identity):
            metrics = f"; metrics http://{metrics_bind}/metrics" if metrics_bind else ""
            on_ready(f"worker ready: task queue {task_queue} on {settings.describe()}{metrics}")
            await stop.wait()
            on_ready("worker stopping: waiting for running activities to finish")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _check_search_attributes(client: Client, register: bool) -> None:
    """Register our search attributes, or refuse to start when the namespace lacks them (the workflow sets them);
    a namespace whose operator API cannot be asked (Temporal Cloud, most keys) is warned about, not refused."""
    try:
        if register:
            added = await ensure_registered(client)
            if added:
                log.warning("registered search attributes %s in namespace %s", added, client.namespace)
            return
        missing = await missing_attributes(client)
    except Exception as err:  # Temporal Cloud refuses the operator API to most keys: not fatal
        log.warning("could not check search attributes (%s); register them by hand if they are missing", err)
        return
    if missing:
        # Refused, not warned: a workflow that upserts an attribute the namespace lacks stalls at that point
        # (Outcome, at the very end of every operation), which no operator would choose over a worker that waits.
        raise WorkerStartError(
            f"namespace {client.namespace} lacks the search attributes {', '.join(missing)}: workflows that set "
            "them would stall. Register them first: rerun with --register-search-attributes, or `temporal operator "
            "search-attribute create --name NAME --type Keyword` for each (docs/production.md, Upgrades)"
        )
