"""`cloudops bench throughput`: operations per second through the RoutingRunner onto Temporal, against a baseline
commit's code and against the raw temporalio client, in one run; and the worker's memory at 500 in flight.

Tree rows (bench/_tree_rows.py), first: the same workload through the RoutingRunner of a `git worktree` of
--baseline-ref (its own worker, its own router, in fresh interpreters on that tree's code) and of this tree with
each --workers count of worker processes on one task queue, alternating, with CPU per operation by process read from
/proc; the target is this tree's 1-worker ops/s over the baseline's. --no-baseline measures this tree only.

Rate (the in-process arms; --no-in-process skips them): one Temporal dev server, one `cloudops sim-cloud` (instances
healthy at launch, no faults) and one `cloudops worker` (default tuning) in subprocesses. Each round runs --ops
operations, --concurrency at a time, through four arms in turn, all starting the UntypedCloudOperationRunner input
DurableRunner would send and awaiting `handle.result()`: the raw temporalio client with the same start options as
the router's runs (`router.durable.start_options`: id policy, five search attributes, the decision in the memo, a
summary), which is the target's baseline; the raw client with a plain start (id and task queue only), which shows
what indexing those options costs the server; DurableRunner alone (the durable path without the router); and a
RoutingRunner wired by `build_routing_runner` (flags, ownership and records in a SQLite file; the stage `complete`
everywhere, so every operation goes durable and nothing is shadowed). Arms alternate, each round starting with the
next one, so drift hits them all alike; the target is router ops/s over same-start raw ops/s over all rounds.

Memory (bench/_worker_memory.py): a second worker (started with the first, idle until then) over a sim cloud whose
instances take --hold seconds to turn healthy; --in-flight operations are started through the router, and that
worker's VmRSS (/proc/<pid>/status) is sampled while they stay open. The peak is the figure. The operations are
terminated afterwards, so no benchmark work outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bench._services import Service
from bench._support import FiniteFloat, Target, add_baseline_tree, emit, json_option, remove_baseline_tree, rss_mb
from bench._throughput_probe import operation_request, set_stage_complete
from bench._tree_rows import TreeRow, WorkerCounts, run_rows, start_row_workers
from bench._worker_memory import memory_phase, routing_runner

__all__ = ["command"]

_BASELINE = "f855672"  # main before issue 18's throughput work: "today's code"
_REPO = Path(__file__).resolve().parent.parent


async def _arm(ops: int, concurrency: int, call: Callable[[Any], Awaitable[bool]], prefix: str) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one(i: int) -> None:
        nonlocal failures
        async with gate:
            failures += not await call(operation_request(prefix, i))

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(ops)))
    elapsed = time.perf_counter() - started
    return {"ops": ops, "seconds": round(elapsed, 3), "ops_per_s": round(ops / elapsed, 2), "failed": failures}


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

    router = routing_runner(database_url, address, task_queue)
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
@click.option(
    "--baseline-ref",
    default=_BASELINE,
    show_default=True,
    help="The commit whose code (worker and router, from a git worktree) is the tree rows' baseline.",
)
@click.option("--no-baseline", is_flag=True, help="Run the tree rows on this tree only.")
@click.option(
    "--workers",
    "worker_counts",
    type=WorkerCounts(),
    default="1",
    show_default=True,
    help="Tree rows of this tree with N worker processes on one task queue, comma-separated (e.g. 1,2,4).",
)
@click.option(
    "--in-process/--no-in-process",
    "in_process",
    default=True,
    show_default=True,
    help="The in-process arms: the router against the raw client on one worker.",
)
def command(as_json: bool, **settings: Any) -> None:
    """Ops/s through RoutingRunner onto Temporal vs the raw temporalio client; worker memory at 500 in flight."""
    from bench._services import sim_cloud, start_together, temporal_dev_server, worker

    started = time.monotonic()
    nonce = settings["nonce"] = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-throughput-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'router.db'}"
        set_stage_complete(database_url)
        fast_sim = sim_cloud(workdir, health_delay_s=0.0)
        holding_sim = sim_cloud(workdir, health_delay_s=settings["hold_s"])  # keeps the memory phase in flight
        services: list[Service] = [fast_sim, holding_sim] if settings["in_flight"] else [fast_sim]
        address = settings["temporal_address"]
        temporal = None
        if address is None:
            temporal = temporal_dev_server(workdir)
            services.insert(0, temporal)
            address = f"127.0.0.1:{temporal.port}"
        for service in services:
            stack.callback(service.kill)
        start_together(*services)
        shared = {"sim_cloud": fast_sim.pid or 0, **({"temporal": temporal.pid or 0} if temporal else {})}
        trees = _trees(settings, workdir, stack, fast_sim.url, address, shared)
        queues = {"rate": f"bench-throughput-{nonce}", "memory": f"bench-memory-{nonce}"}
        workers: dict[str, Service] = {}
        if settings["in_process"]:
            workers["rate"] = worker(workdir, fast_sim.url, address, queues["rate"])
        if settings["in_flight"]:
            workers["memory"] = worker(workdir, holding_sim.url, address, queues["memory"])
        for process in workers.values():
            stack.callback(process.kill)
        start_together(*workers.values())
        rate = None
        if settings["in_process"]:
            rate = asyncio.run(_rate(settings, address, queues["rate"], database_url))
            rate["worker_rss_after_mb"] = rss_mb(workers["rate"].pid or 0)
        memory = None
        if settings["in_flight"]:
            memory = memory_phase(settings, workers["memory"], address, queues["memory"], database_url)
    report = {
        "benchmark": "throughput",
        "operation": "createServerGroup, 1 region, desired 1, instances healthy at launch, no injected faults",
        "trees": trees,
        "rate": rate,
        "memory": memory,
        "targets": _targets(settings, trees, rate, memory),
    }
    emit(report, started)


def _trees(
    settings: dict[str, Any],
    workdir: Path,
    stack: contextlib.ExitStack,
    cloud_url: str,
    address: str,
    shared: dict[str, int],
) -> dict[str, Any]:
    """The tree rows: this tree with each --workers count, and the baseline's code with one worker."""
    nonce = settings["nonce"]
    rows = [TreeRow("this", _REPO, n, f"bench-tree-this-{n}-{nonce}") for n in settings["worker_counts"]]
    baseline_commit = None
    if not settings["no_baseline"]:
        tree = add_baseline_tree(settings["baseline_ref"], workdir)
        if tree is None:
            raise click.ClickException(f"cannot check out --baseline-ref {settings['baseline_ref']!r} (--no-baseline?)")
        stack.callback(remove_baseline_tree, tree)
        baseline_commit = _commit(tree)
        rows.insert(0, TreeRow("baseline", tree, 1, f"bench-tree-baseline-{nonce}"))

    def on_start(service: Service) -> None:
        stack.callback(service.kill)

    found = start_row_workers(rows, workdir, cloud_url, address, on_start)
    probe = {
        "address": address,
        "ops": settings["ops"],
        "concurrency": settings["concurrency"],
        "warm": min(settings["ops"], 20),
        "nonce": nonce,
        "database_dir": str(workdir),
    }
    echo = lambda line: click.echo(line, err=True)  # noqa: E731
    figures = run_rows(rows, found, shared, probe, settings["rounds"], echo)
    out: dict[str, Any] = {"this_commit": _commit(_REPO), "baseline_commit": baseline_commit, "rows": figures}
    base = figures.get("baseline_1_worker")
    this = figures.get("this_1_worker")
    if base and this:
        out["ratio_this_over_baseline_ops_per_s"] = round(this["ops_per_s"] / base["ops_per_s"], 3)
        out["ratio_baseline_over_this_cpu_per_op"] = round(
            base["cpu_ms_per_op"]["total"] / this["cpu_ms_per_op"]["total"], 3
        )
    return out


def _commit(tree: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def _targets(
    settings: dict[str, Any], trees: dict[str, Any], rate: dict[str, Any] | None, memory: dict[str, Any] | None
) -> list[dict[str, Any]]:
    targets: list[Target] = []
    if "ratio_this_over_baseline_ops_per_s" in trees:
        ratio = trees["ratio_this_over_baseline_ops_per_s"]
        targets.append(Target.at_least("router ops/s, this tree / baseline, 1 worker", ratio, 2.0))
    if rate is not None:
        same = rate["ratio_router_over_raw_same_start"]
        targets.append(Target.at_least("router ops/s / raw client (same start) ops/s", same, 0.95))
    if memory is not None:
        peak = memory["worker_rss_peak_mb"]
        targets.append(Target.at_most(f"worker RSS (MiB) at {settings['in_flight']} in flight", peak, 300))
    return [t.to_json() for t in targets]
