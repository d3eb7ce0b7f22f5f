"""`cloudops bench throughput`: operations per second through the RoutingRunner onto Temporal, against the raw
temporalio client starting the same workflow, in one run; and the worker's memory with 500 operations in flight.

Rate: one Temporal dev server, one `cloudops sim-cloud` (instances healthy at launch, no faults) and one `cloudops
worker` (default tuning) in subprocesses. Each round runs --ops operations, --concurrency at a time, through four
arms in turn, all starting the UntypedCloudOperationRunner input DurableRunner would send and awaiting
`handle.result()`: the raw temporalio client with the same start options as the router's runs
(`router.durable.start_options`: id policy, five search attributes, the decision in the memo, a summary), which is
the target's baseline; the raw client with a plain start (id and task queue only), which shows what indexing
those options costs the server; DurableRunner alone (the durable path without the router); and a RoutingRunner
wired by `build_routing_runner` (flags, ownership and records in a SQLite file; the stage `complete` everywhere,
so every operation goes durable and nothing is shadowed). Arms alternate, each round starting with the next
one, so drift hits them all alike; the target is router ops/s over same-start raw ops/s over all rounds.

Memory: a second worker (started with the first, idle until then) over a sim cloud whose instances take --hold
seconds to turn healthy; --in-flight operations are started through the router, and that worker's VmRSS
(/proc/<pid>/status) is sampled while they stay open. The peak is the figure. The operations are terminated
afterwards, so no benchmark work outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bench._support import FiniteFloat, Target, emit, json_option, rss_mb

__all__ = ["command"]


def _request(prefix: str, i: int) -> Any:
    from router.contract import OperationRequest

    context = {
        "cloudProvider": "aws",
        "credentials": "test",
        "application": "throughput",
        "stack": "bench",
        "freeFormDetails": f"{prefix}{i}",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "amiName": "throughput-1.0.0-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest(
        f"tp-{prefix}-{i}", "createServerGroup", "createServerGroup", "test", "throughput", "aws", context
    )


async def _arm(ops: int, concurrency: int, call: Callable[[Any], Awaitable[bool]], prefix: str) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        async with gate:
            failures += not await call(_request(prefix, i))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(ops)))
    elapsed = time.perf_counter() - started
    return {"ops": ops, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 2), "failed": failures}


def _router(database_url: str, address: str, task_queue: str) -> Any:
    from router.config import RouterConfig
    from router.factory import build_routing_runner

    config = RouterConfig(
        legacy_url="http://127.0.0.1:9",  # never called: the stage is `complete` everywhere
        temporal_address=address,
        temporal_task_queue=task_queue,
        database_url=database_url,
    )
    return build_routing_runner(config)


def _set_stage_complete(database_url: str) -> None:
    import migrations
    from flags import STAGE_KEY
    from flags.sql_store import SqlFlagStore

    migrations.upgrade(database_url)
    store = SqlFlagStore(database_url)
    try:
        store.set_property(STAGE_KEY, "complete", {}, actor="bench", reason="throughput benchmark: all durable")
    finally:
        store.close()


async def _rate(settings: dict[str, Any], address: str, task_queue: str, database_url: str) -> dict[str, Any]:
    from temporalio.client import Client

    from durable_runner.contract import WORKFLOW_TYPE, WorkflowResult, workflow_id_for
    from router.contract import Path as RoutePath, RouteDecision, RunOptions
    from router.durable import DurableRunner, start_options, to_workflow_input

    client = await Client.connect(address)

    def workflow_input(request: Any, decision: RouteDecision | None = None) -> Any:
        """The input DurableRunner sends, with its default timeouts."""
        return replace(
            to_workflow_input(request, RunOptions(decision=decision)),
            attempt_timeout_seconds=300,
            heartbeat_timeout_seconds=30,
            max_retry_interval_seconds=60,
        )

    async def raw(request: Any) -> bool:  # started the plainest way
        handle = await client.start_workflow(
            WORKFLOW_TYPE,
            workflow_input(request),
            id=workflow_id_for(request.operation_id),
            task_queue=task_queue,
            result_type=WorkflowResult,
        )
        return bool((await handle.result()).ok)

    # The baseline of the target: the raw client starting the workflow exactly as the router's runs start
    # (router.durable.start_options: the same id policy, search attributes, memo and summary), with a decision
    # of the same shape as the router's.
    decision = RouteDecision("complete", RoutePath.DURABLE, "stage complete for every scope", "p-bench", 1)

    async def raw_same_start(request: Any) -> bool:
        options = start_options(request, task_queue, RunOptions(decision=decision))
        inp = workflow_input(request, decision)
        handle = await client.start_workflow(WORKFLOW_TYPE, inp, result_type=WorkflowResult, **options)
        return bool((await handle.result()).ok)

    router = _router(database_url, address, task_queue)
    durable = DurableRunner(address, task_queue=task_queue)

    async def routed(request: Any) -> bool:
        result = await router.run_async(request)
        return bool(result.succeeded and result.path is RoutePath.DURABLE)

    async def direct(request: Any) -> bool:
        return bool((await durable.run_async(request)).succeeded)

    arms = {
        "raw_client": raw,
        "raw_client_same_start": raw_same_start,
        "durable_runner": direct,
        "routing_runner": routed,
    }
    ops, concurrency, nonce = settings["ops"], settings["concurrency"], settings["nonce"]
    rounds: list[dict[str, Any]] = []
    try:
        await _arm(min(ops, 20), concurrency, raw, f"{nonce}warm")  # worker caches, connections, imports
        names = list(arms)
        for r in range(settings["rounds"]):
            # Each round starts with the next arm, so load that rises or falls during a round favours none.
            order = names[r % len(names) :] + names[: r % len(names)]
            done = {name: await _arm(ops, concurrency, arms[name], f"{nonce}{name}{r}") for name in order}
            rounds.append({name: done[name] for name in names})
            click.echo(
                f"round {r + 1}: " + ", ".join(f"{k} {v['ops_per_s']}/s" for k, v in rounds[-1].items()), err=True
            )
    finally:
        await asyncio.to_thread(router.close)
        await asyncio.to_thread(durable.close)

    def total(arm: str) -> dict[str, Any]:
        seconds = sum(x[arm]["seconds"] for x in rounds)
        n = sum(x[arm]["ops"] for x in rounds)
        return {
            "ops": n,
            "seconds": round(seconds, 3),
            "ops_per_s": round(n / seconds, 2),
            "failed": sum(x[arm]["failed"] for x in rounds),
        }

    totals = {name: total(name) for name in arms}
    raw_rate = totals["raw_client"]["ops_per_s"]
    same_rate = totals["raw_client_same_start"]["ops_per_s"]
    return {
        "rounds": rounds,
        **totals,
        "ratio_router_over_raw_same_start": round(totals["routing_runner"]["ops_per_s"] / same_rate, 3),
        "ratio_same_start_over_plain_raw": round(same_rate / raw_rate, 3),
        "ratio_router_over_raw": round(totals["routing_runner"]["ops_per_s"] / raw_rate, 3),
        "ratio_durable_runner_over_raw": round(totals["durable_runner"]["ops_per_s"] / raw_rate, 3),
        "ratio_router_over_durable_runner": round(
            totals["routing_runner"]["ops_per_s"] / totals["durable_runner"]["ops_per_s"], 3
        ),
    }


def _memory(settings: dict[str, Any], process: Any, address: str, task_queue: str, database_url: str) -> dict[str, Any]:
    in_flight, nonce = settings["in_flight"], settings["nonce"]
    idle = rss_mb(process.pid)
    router = _router(database_url, address, task_queue)
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            handles = list(pool.map(router.start, (_request(f"{nonce}mem", i) for i in range(in_flight))))
        samples: list[float] = []
        deadline = time.monotonic() + settings["memory_window_s"]
        while time.monotonic() < deadline:
            rss = rss_mb(process.pid)
            if rss is not None:
                samples.append(rss)
            time.sleep(0.5)
        open_now = asyncio.run(_open_and_terminate(address, task_queue, handles))
    finally:
        router.close()
    return {
        "operations_started": len(handles),
        "workflows_open_while_sampled": open_now,
        "worker_rss_idle_mb": idle,
        "worker_rss_peak_mb": max(samples) if samples else None,
        "worker_rss_last_mb": samples[-1] if samples else None,
        "sampled_for_s": settings["memory_window_s"],
        "instances_healthy_after_s": settings["hold_s"],
    }


async def _open_and_terminate(address: str, task_queue: str, handles: list[str]) -> int:
    """How many of the operations are still open; then end them, so that no benchmark work outlives the run."""
    from temporalio.client import Client

    client = await Client.connect(address)
    counted = await client.count_workflows(f"TaskQueue = '{task_queue}' AND ExecutionStatus = 'Running'")
    for handle in handles:
        with contextlib.suppress(Exception):
            await client.get_workflow_handle(handle.partition(":")[2]).terminate("throughput benchmark finished")
    return counted.count


@click.command()
@json_option
@click.option("--ops", type=click.IntRange(1), default=300, show_default=True, help="Operations per arm per round.")
@click.option("--concurrency", type=click.IntRange(1), default=100, show_default=True, help="Operations at once.")
@click.option("--rounds", type=click.IntRange(1), default=2, show_default=True, help="Rounds of both arms.")
@click.option(
    "--in-flight",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Operations kept open while the worker's memory is sampled (0 skips it).",
)
@click.option(
    "--hold",
    "hold_s",
    type=FiniteFloat(min=1.0),
    default=120.0,
    show_default=True,
    help="Seconds the memory phase's instances take to turn healthy (keeps operations in flight).",
)
@click.option(
    "--memory-window",
    "memory_window_s",
    type=FiniteFloat(min=0.5),
    default=15.0,
    show_default=True,
    help="Seconds the worker's memory is sampled for, once every operation was started.",
)
@click.option("--temporal-address", default=None, help="Use this Temporal server instead of starting a dev server.")
def command(as_json: bool, **settings: Any) -> None:
    """Ops/s through RoutingRunner onto Temporal vs the raw temporalio client; worker memory at 500 in flight."""
    from bench._services import Service, sim_cloud, start_together, temporal_dev_server, worker

    started = time.monotonic()
    nonce = settings["nonce"] = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-throughput-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'router.db'}"
        _set_stage_complete(database_url)
        fast_sim = sim_cloud(workdir, health_delay_s=0.0)
        holding_sim = sim_cloud(workdir, health_delay_s=settings["hold_s"])  # keeps the memory phase in flight
        services: list[Service] = [fast_sim, holding_sim] if settings["in_flight"] else [fast_sim]
        address = settings["temporal_address"]
        if address is None:
            temporal = temporal_dev_server(workdir)
            services.insert(0, temporal)
            address = f"127.0.0.1:{temporal.port}"
        for service in services:
            stack.callback(service.kill)
        start_together(*services)
        queues = {"rate": f"bench-throughput-{nonce}", "memory": f"bench-memory-{nonce}"}
        workers = {"rate": worker(workdir, fast_sim.url, address, queues["rate"])}
        if settings["in_flight"]:
            workers["memory"] = worker(workdir, holding_sim.url, address, queues["memory"])
        for process in workers.values():
            stack.callback(process.kill)
        start_together(*workers.values())

        rate = asyncio.run(_rate(settings, address, queues["rate"], database_url))
        rate["worker_rss_after_mb"] = rss_mb(workers["rate"].pid or 0)
        memory = None
        if settings["in_flight"]:
            memory = _memory(settings, workers["memory"], address, queues["memory"], database_url)
    same = rate["ratio_router_over_raw_same_start"]
    targets = [Target.at_least("router ops/s / raw client (same start) ops/s", same, 0.95).to_json()]
    if memory is not None:
        peak = memory["worker_rss_peak_mb"]
        targets.append(Target.at_most(f"worker RSS (MiB) at {settings['in_flight']} in flight", peak, 300).to_json())
    report = {
        "benchmark": "throughput",
        "operation": "createServerGroup, 1 region, desired 1, instances healthy at launch, no injected faults",
        "rate": rate,
        "memory": memory,
        "targets": targets,
    }
    emit(report, started)
