"""`cloudops worker`: run the durable path's Temporal worker against any cluster or Temporal Cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cloudops.commands._input import FiniteFloat
from cloudops.commands._temporal import connection_options
from cloudops.commands._tracing import start_tracing

if TYPE_CHECKING:
    from durable_runner.client import ConnectionSettings

__all__ = ["command"]


@click.command(context_settings={"show_default": True})
@click.option("--cloud", "cloud_spec", default="http://127.0.0.1:7010", help="The cloud to act on (see cloud.factory).")
@click.option("--task-queue", default="cloudops-operations", help="Task queue to poll.")
@connection_options
@click.option("--identity", default=None, help="Worker identity shown in Temporal's UI.")
@click.option("--metrics-bind", default=None, help="Serve Prometheus metrics at host:port, e.g. 127.0.0.1:9464.")
@click.option("--max-concurrent-activities", type=click.IntRange(1), default=50, help="Activity slots (threads).")
@click.option("--max-concurrent-workflow-tasks", type=click.IntRange(1), default=50, help="Workflow task slots.")
@click.option(
    "--max-cached-workflows",
    type=click.IntRange(1),
    default=1000,
    help="Sticky workflow cache size; at least 1 (planning is a local activity, which needs the cache).",
)
@click.option(
    "--sticky-timeout",
    type=FiniteFloat(min=0.1),
    default=10.0,
    help="Seconds a workflow task waits on this worker's sticky queue before any worker may take it.",
)
@click.option(
    "--max-activities-per-second",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Activity rate limit of this worker.",
)
@click.option(
    "--max-task-queue-activities-per-second",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Rate limit of the whole task queue.",
)
@click.option(
    "--graceful-shutdown", type=FiniteFloat(min=0), default=30.0, help="Seconds running activities get on shutdown."
)
@click.option(
    "--health-poll",
    type=FiniteFloat(min=0, min_open=True),
    default=2.0,
    help="Seconds between capacity health checks.",
)
@click.option(
    "--wait-slice",
    type=FiniteFloat(min=0, min_open=True),
    default=60.0,
    help="Seconds one attempt waits before the retry policy.",
)
@click.option(
    "--register-search-attributes",
    is_flag=True,
    help="Register the five search attributes if the namespace lacks them.",
)
def command(
    cloud_spec: str,
    task_queue: str,
    connection: ConnectionSettings,
    identity: str | None,
    metrics_bind: str | None,
    max_concurrent_activities: int,
    max_concurrent_workflow_tasks: int,
    max_cached_workflows: int,
    sticky_timeout: float,
    max_activities_per_second: float | None,
    max_task_queue_activities_per_second: float | None,
    graceful_shutdown: float,
    health_poll: float,
    wait_slice: float,
    register_search_attributes: bool,
) -> None:
    """Run the Temporal worker of the durable path: the UntypedCloudOperationRunner workflow and its activities.

    Connection settings come from the options, else the TEMPORAL_* environment variables and the profile of the
    Temporal config file (as the `temporal` CLI reads them), else localhost:7233 and namespace `default`.
    For Temporal Cloud: --address <ns>.<account>.tmprl.cloud:7233 --namespace <ns>.<account> and --api-key,
    or --tls-cert/--tls-key. Stops gracefully on Ctrl-C or SIGTERM.
    """
    import asyncio
    import logging
    import os
    import sys

    from cloud.errors import CloudError
    from cloud.factory import open_provider
    from durable_runner.errors import DurableError
    from durable_runner.worker import WorkerTuning, run_worker

    settings = connection.with_overrides(identity=identity)
    tuning = WorkerTuning(
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        max_cached_workflows=max_cached_workflows,
        sticky_timeout_seconds=sticky_timeout,
        max_activities_per_second=max_activities_per_second,
        max_task_queue_activities_per_second=max_task_queue_activities_per_second,
        graceful_shutdown_seconds=graceful_shutdown,
        health_poll_seconds=health_poll,
        wait_slice_seconds=wait_slice,
    )
    try:
        provider = open_provider(cloud_spec)
    except (ValueError, CloudError) as err:
        raise click.BadParameter(str(err), param_hint="--cloud") from err

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    start_tracing("cloudops-worker")

    def ready(message: str) -> None:
        click.echo(message)

    code = 0
    try:
        asyncio.run(
            run_worker(
                settings,
                provider,
                task_queue=task_queue,
                tuning=tuning,
                metrics_bind=metrics_bind,
                register_search_attributes=register_search_attributes,
                on_ready=ready,
            )
        )
        click.echo("worker stopped")
    except DurableError as err:
        click.echo(f"Error: {err}", err=True)
        code = 1
    # Skip interpreter finalization once the Temporal runtime has run: its native threads can abort it ("Fatal
    # Python error: PyGILState_Release", exit 134), which would turn a clean stop or a clear error into a crash.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
