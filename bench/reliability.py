"""`cloudops bench reliability`: the legacy and the durable path, side by side, under the same faults.

One seeded workload of deployment pipelines (bench/_workload.py) runs through each path in turn, each against its
own `cloudops sim-cloud` with the same --fault-rate and --seed (throttles, 5xx, timeouts and applied-but-lost
responses), while the process that executes operations is SIGKILLed every --kill-every seconds and restarted:
`cloudops clouddriver` (tasks in memory, Clouddriver's default) on the legacy path, `cloudops worker` on the
durable path. Per path: operations, failures with a 95 % upper bound, duplicated and lost mutations (from the sim
cloud's journal, bench/_audit.py), orphaned server groups, zombie tasks.

The legacy path runs as Clouddriver and Orca do (3 provider attempts with a fresh request each, Orca's submit
retries and 30 consecutive 404s before a task counts as lost) except for the poll interval, shortened from Orca's
5 s (--legacy-poll) so that thousands of operations fit in minutes; it changes how long a lost task takes to be
noticed, not whether it is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench._support import FiniteFloat, Target, emit, failure_rate, json_option, summary_ms

if TYPE_CHECKING:
    from bench._services import Killer, Service
    from bench._workload import OpRecord
    from cloud.provider import CloudReader
    from router.contract import OperationRequest, OperationResult

__all__ = ["command"]

_PATHS = ("legacy", "durable")


@contextlib.contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-reliability-") as tmp:
        yield Path(tmp)


def _final_groups(cloud: Any, plans: Sequence[Sequence[Any]]) -> set[tuple[str, str, str]]:
    from bench._workload import read_cluster

    found: set[tuple[str, str, str]] = set()
    for pipelines in plans:
        c = pipelines[0].cluster
        found |= {(c.account, c.region, name) for name in read_cluster(cloud, c)}
    return found


def _path_report(records: Sequence[Any], planned: int, audit: Any, started: float) -> dict[str, Any]:
    failed = [r for r in records if not r.succeeded]
    elapsed = time.monotonic() - started
    return {
        "operations": len(records),
        "succeeded": len(records) - len(failed),
        "failed": len(failed),
        **failure_rate(len(failed), len(records)),
        "skipped_after_a_failure": planned - len(records),
        "failures_by_code": dict(Counter(r.code or "unknown" for r in failed).most_common()),
        "failure_examples": [f"{r.request.operation_id}: {r.code}: {r.message[:160]}" for r in failed[:5]],
        **audit.to_json(),
        "operation_duration": summary_ms([r.duration_s for r in records]),
        "wall_time_s": round(elapsed, 1),
        "operations_per_s": round(len(records) / elapsed, 2) if elapsed > 0 else None,
    }


def _run_under_kills(
    service: Service,
    run: Callable[[OperationRequest], OperationResult],
    cloud: CloudReader,
    plans: Sequence[Sequence[Any]],
    settings: dict[str, Any],
    path: str,
) -> tuple[list[OpRecord], Killer]:
    """The workload through `run` while `service` is SIGKILLed and restarted every --kill-every seconds; the
    records and the Killer (its kills and restart times go in the report)."""
    from bench._services import Killer
    from bench._workload import run_workload

    killer = Killer(service, settings["kill_every_s"]).start()
    try:
        records = run_workload(
            plans,
            run,
            cloud,
            prefix=f"{settings['nonce']}-{path}",
            concurrency=settings["concurrency"],
            report=settings["report"],
        )
    finally:
        killer.stop()
    return records, killer


def _run_legacy(settings: dict[str, Any], plans: Sequence[Sequence[Any]], workdir: Path) -> dict[str, Any]:
    import httpx

    from bench._audit import audit
    from bench._services import clouddriver, sim_cloud, start_together
    from cloud.sim.client import SimCloudClient
    from router.legacy import LegacyRunner

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sim = sim_cloud(
            workdir, fault_rate=settings["fault_rate"], seed=settings["seed"], health_delay_s=settings["health_delay_s"]
        )
        service_settings = {"HEALTH_POLL_S": "0.1", "HEALTH_TIMEOUT_S": "600", "SHUTDOWN_WAIT_S": "0"}
        service = clouddriver(workdir, sim.url, settings=service_settings)
        stack.callback(sim.kill)
        stack.callback(service.kill)
        start_together(sim, service)
        cloud = stack.enter_context(SimCloudClient(sim.url))
        runner = stack.enter_context(LegacyRunner(service.url, poll_interval_s=settings["legacy_poll_s"]))
        records, killer = _run_under_kills(service, runner.run, cloud, plans, settings, "legacy")
        try:  # tasks still STARTED; unknown (None) if the service did not come back from its last kill
            running: int | None = len(httpx.get(f"{service.url}/task", timeout=10).json())
        except (httpx.HTTPError, ValueError, TypeError):
            running = None
        lost_tasks = sum(r.code == "task_not_found" for r in records)
        result = audit(records, cloud.journal(), _final_groups(cloud, plans))
        report = _path_report(records, settings["planned"], result, started)
        report["zombie_tasks"] = lost_tasks + (running or 0)
        report["zombie_tasks_detail"] = {"lost_404_after_a_kill": lost_tasks, "started_at_the_end": running}
        report["injected_faults"] = cloud.injected_faults()
        report["killed_process"] = {"name": "clouddriver", **killer.to_json()}
        return report


async def _open_workflows(address: str, task_queue: str) -> int:
    from temporalio.client import Client

    client = await Client.connect(address)
    counted = await client.count_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'")
    return counted.count


def _run_durable(settings: dict[str, Any], plans: Sequence[Sequence[Any]], workdir: Path) -> dict[str, Any]:
    from bench._audit import audit
    from bench._services import sim_cloud, start_together, temporal_dev_server, worker
    from cloud.sim.client import SimCloudClient
    from router.durable import DurableRunner

    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        address = settings["temporal_address"]
        sim = sim_cloud(
            workdir, fault_rate=settings["fault_rate"], seed=settings["seed"], health_delay_s=settings["health_delay_s"]
        )
        stack.callback(sim.kill)
        if address is None:
            temporal = temporal_dev_server(workdir, db_file=workdir / f"temporal-{settings['nonce']}.db")
            stack.callback(temporal.kill)
            start_together(temporal, sim)
            address = f"127.0.0.1:{temporal.port}"
        else:
            sim.start()
        task_queue = f"bench-reliability-{settings['nonce']}"
        options = [
            "--health-poll",
            "0.1",
            "--wait-slice",
            "10",
            "--graceful-shutdown",
            "1",
            "--sticky-timeout",
            str(settings["sticky_timeout"]),
        ]
        process = worker(workdir, sim.url, address, task_queue, options=options)
        stack.callback(process.kill)
        process.start()
        cloud = stack.enter_context(SimCloudClient(sim.url))
        runner = DurableRunner(
            address,
            task_queue=task_queue,
            attempt_timeout_seconds=15,
            heartbeat_timeout_seconds=3,
            max_retry_interval_seconds=2,
        )
        stack.callback(runner.close)
        records, killer = _run_under_kills(process, runner.run, cloud, plans, settings, "durable")
        timed_out = sum(r.kind == "timeout" for r in records)
        running = asyncio.run(_open_workflows(address, task_queue))
        result = audit(records, cloud.journal(), _final_groups(cloud, plans))
        report = _path_report(records, settings["planned"], result, started)
        report["zombie_tasks"] = timed_out + running
        report["zombie_tasks_detail"] = {"result_timeouts": timed_out, "workflows_open_at_the_end": running}
        report["injected_faults"] = cloud.injected_faults()
        report["killed_process"] = {"name": "worker", **killer.to_json()}
        return report


def _targets(paths: dict[str, dict[str, Any]], minimum_ops: int) -> list[dict[str, Any]]:
    durable = paths.get("durable")
    if durable is None:
        return []
    targets = [
        Target.at_most("durable failed operations", durable["failed"], 0),
        Target.at_most("durable duplicated mutations", durable["duplicated_mutations"], 0),
        Target.at_most("durable lost mutations", durable["lost_mutations"], 0),
        Target.at_least("durable operations", durable["operations"], minimum_ops),
    ]
    return [t.to_json() for t in targets]


@click.command()
@json_option
@click.option("--ops", type=click.IntRange(1), default=2000, show_default=True, help="Operations per path (at least).")
@click.option(
    "--fault-rate",
    type=FiniteFloat(0.0, 1.0),
    default=0.04,
    show_default=True,
    help="Probability that one cloud call fails transiently, on both paths.",
)
@click.option(
    "--kill-every",
    type=FiniteFloat(min=0.0),
    default=30.0,
    show_default=True,
    help="SIGKILL and restart clouddriver (legacy) or the worker (durable) every S seconds; 0: never.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the workload and of the faults.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Clusters deployed at once (each runs its pipelines one operation after another).",
)
@click.option(
    "--clusters",
    type=click.IntRange(1, 48),
    default=48,
    show_default=True,
    help="Clusters in the workload (applications x accounts x regions).",
)
@click.option("--paths", "only", type=click.Choice(_PATHS), multiple=True, help="Run only this path (repeatable).")
@click.option(
    "--health-delay",
    type=FiniteFloat(min=0.0),
    default=0.3,
    show_default=True,
    help="Seconds before the sim cloud's new instances turn healthy.",
)
@click.option(
    "--legacy-poll",
    type=FiniteFloat(min=0.01),
    default=0.5,
    show_default=True,
    help="LegacyRunner's poll interval (Orca polls every 5 s).",
)
@click.option(
    "--sticky-timeout",
    type=FiniteFloat(min=0.1),
    default=1.0,
    show_default=True,
    help="The worker's sticky-queue timeout (cloudops worker --sticky-timeout, 10 s by default): how long a killed "
    "worker's cached workflows wait before another worker takes them; it changes durations, not outcomes.",
)
@click.option(
    "--temporal-address", default=None, help="Use this Temporal server (host:port) instead of starting a dev server."
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the services' logs here (default: a temporary directory, removed).",
)
def command(
    as_json: bool,
    ops: int,
    fault_rate: float,
    kill_every: float,
    seed: int,
    concurrency: int,
    clusters: int,
    only: tuple[str, ...],
    health_delay: float,
    legacy_poll: float,
    sticky_timeout: float,
    temporal_address: str | None,
    workdir: Path | None,
) -> None:
    """Transient failures, duplicated and lost mutations, zombies: legacy vs durable under the same faults.

    \b
    Example (the full run, many minutes):
      cloudops bench reliability --ops 2000 --fault-rate 0.04 --kill-every 30 --json
    """
    from bench._workload import workload

    started = time.monotonic()
    plans = workload(ops, seed, clusters)
    planned = sum(p.nominal_operations for ps in plans for p in ps)
    settings: dict[str, Any] = {
        "fault_rate": fault_rate,
        "seed": seed,
        "kill_every_s": kill_every,
        "concurrency": concurrency,
        "health_delay_s": health_delay,
        "legacy_poll_s": legacy_poll,
        "temporal_address": temporal_address,
        "sticky_timeout": sticky_timeout,
        "planned": planned,
        "nonce": uuid.uuid4().hex[:8],
    }
    paths: dict[str, dict[str, Any]] = {}
    with _workdir(workdir) as where:
        for path in only or _PATHS:
            settings["report"] = lambda line, path=path: click.echo(f"[{path}] {line}", err=True)
            click.echo(f"[{path}] {planned} operations in {len(plans)} clusters...", err=True)
            run = _run_legacy if path == "legacy" else _run_durable
            paths[path] = run(settings, plans, where)
            click.echo(f"[{path}] done: {paths[path]['failed']} of {paths[path]['operations']} failed", err=True)
    report: dict[str, Any] = {
        "benchmark": "reliability",
        "workload": {
            "operations_planned": planned,
            "clusters": len(plans),
            "pipelines": sum(len(ps) for ps in plans),
            "seed": seed,
            "fault_rate": fault_rate,
            "kill_every_s": kill_every,
            "concurrency": concurrency,
            "health_delay_s": health_delay,
            "legacy_poll_interval_s": legacy_poll,
        },
        "paths": paths,
        "netflix_reference": {"legacy_failure_percent": 4.0, "temporal_failure_percent": 0.0001},
        "targets": _targets(paths, ops),
    }
    emit(report, started)
