"""`cloudops bench latency`: end-to-end latency of one operation on every path, against the provider itself.

The operation is a createServerGroup (one region, desired 1) in a cluster of its own, run sequentially N times per
variant against one `cloudops sim-cloud` (no faults, no added latency, instances healthy at launch):
- floor: the sim cloud over HTTP called directly, plan + apply + wait for healthy, as both paths do it;
- legacy: `cloudops clouddriver` through LegacyRunner, polling every 5 s (Orca's interval) and every 1 s;
- durable: DurableRunner against a Temporal dev server started as ours are (durable_runner/dev_server.py), with
  `cloudops worker` in a subprocess;
- two_regions (a block of its own): the floor and durable again for a createServerGroup in two regions, both
  steps in the worker, in the workflow task that planned them;
- durable_dev_server_defaults: the same against a second dev server left at its own queue limits, to show what
  that one setting is worth (skipped with --temporal-address);
- temporal_empty_shape: an empty workflow of the durable path's shape for this operation (bench/empty_shape.py:
  planning and the step as two local activities in one workflow task) on the first dev server: Temporal's own
  share of the durable latency on this machine, so the report can say what is ours;
- temporal_empty_two_tasks: planning as a local activity, the step as an activity, two workflow tasks, on the
  same server: the shape of an operation that does not replan stably (a resize), and of this deploy before the
  `steps-with-the-plan` patch (durable_runner/steps.py), to show what the one task saves on Temporal's side.
Each variant first runs two untimed operations (connections, caches, imports). Nothing runs concurrently.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bench._support import FiniteFloat, Target, emit, json_option, summary_ms

__all__ = ["command"]

_WARMUP = 2


_REGIONS = ("us-east-1", "us-west-2")


def _context(cluster_detail: str, regions: int = 1) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "credentials": "test",
        "application": "latency",
        "stack": "bench",
        "freeFormDetails": cluster_detail,
        "availabilityZones": {region: [f"{region}a"] for region in _REGIONS[:regions]},
        "capacity": {"min": 1, "max": 1, "desired": 1},
        "amiName": "latency-1.0.0-ami",
        "instanceType": "m5.large",
    }


def _request(variant: str, i: int, nonce: str, regions: int = 1) -> Any:
    from router.contract import OperationRequest

    detail = f"{variant.replace('_', '')}{i}"
    context = _context(detail, regions)
    return OperationRequest(
        f"lat-{nonce}-{detail}", "createServerGroup", "createServerGroup", "test", "latency", "aws", context
    )


def _direct(cloud: Any, request: Any) -> bool:
    """The floor: what either path does for this operation, with nothing in between (plan, apply, wait)."""
    from cloud.catalogue import capacity_reached, parse_operation
    from cloud.model import Capacity
    from cloud.plan import apply_mutation, idempotency_token

    operation = parse_operation(request.operation, request.context, provider="aws").operation
    assert operation is not None, "the benchmark's own context must parse"
    plan = operation.plan(cloud)
    for m in plan.mutations:
        apply_mutation(cloud, m, idempotency_token(request.operation_id, m.step))
        wanted = Capacity.from_json(m.params["spec"]["capacity"])
        while True:
            group = cloud.describe_server_group(m.account, m.region, m.target)
            if group is not None and capacity_reached(group, wanted):
                break
            time.sleep(0.005)
    return True


def _run_through(runner: Any, request: Any) -> bool:
    """One operation through a LegacyRunner or a DurableRunner: whether it succeeded."""
    return bool(runner.run(request).succeeded)


def _empty_shape(loop: Any, client: Any, task_queue: str, workflow_type: str, request: Any) -> bool:
    workflow_id = f"empty-{request.operation_id}"
    result = loop.run(client.execute_workflow(workflow_type, workflow_id, id=workflow_id, task_queue=task_queue))
    return bool(result)


def _measure(name: str, samples: int, call: Callable[[Any], bool], nonce: str, regions: int = 1) -> dict[str, Any]:
    failures = 0
    for i in range(_WARMUP):
        call(_request(f"{name}w", i, nonce, regions))
    durations: list[float] = []
    for i in range(samples):
        request = _request(name, i, nonce, regions)
        started = time.perf_counter()
        ok = call(request)
        durations.append(time.perf_counter() - started)
        failures += not ok
    click.echo(f"{name}: {samples} operations", err=True)
    return {**summary_ms(durations), "failed": failures}


@click.command()
@json_option
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    help="Operations per variant (the Orca-interval variant uses --orca-samples).",
)
@click.option(
    "--orca-samples",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Operations for the legacy path at Orca's poll interval (each takes about that interval).",
)
@click.option(
    "--orca-poll",
    type=FiniteFloat(min=0.01),
    default=5.0,
    show_default=True,
    help="Orca's poll interval, in seconds.",
)
@click.option(
    "--fast-poll",
    type=FiniteFloat(min=0.01),
    default=1.0,
    show_default=True,
    help="The shorter poll interval compared with it.",
)
@click.option("--temporal-address", default=None, help="Use this Temporal server instead of starting a dev server.")
def command(
    as_json: bool, samples: int, orca_samples: int, orca_poll: float, fast_poll: float, temporal_address: str | None
) -> None:
    """Latency p50/p99 of one createServerGroup: the provider directly, legacy at two poll intervals, durable."""
    if f"{orca_poll:g}" == f"{fast_poll:g}":  # each legacy variant is keyed by its interval: one would hide the other
        raise click.BadParameter(
            f"it equals --orca-poll ({orca_poll:g}s): give a different interval to compare with",
            param_hint="'--fast-poll'",
        )
    from temporalio.client import Client

    from bench._services import (
        Service,
        clouddriver,
        empty_shape_worker,
        sim_cloud,
        start_together,
        temporal_dev_server,
        worker,
    )
    from bench.empty_shape import TWO_TASKS_WORKFLOW_TYPE as TWO_TASKS, WORKFLOW_TYPE
    from cloud.sim.client import SimCloudClient
    from durable_runner.loop import BackgroundLoop
    from router.durable import DurableRunner
    from router.legacy import LegacyRunner

    started = time.monotonic()
    nonce = uuid.uuid4().hex[:8]
    variants: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-latency-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        sim = sim_cloud(workdir, health_delay_s=0.0)
        service = clouddriver(workdir, sim.url, settings={"HEALTH_POLL_S": "0.005"})
        services: list[Service] = [sim, service]
        durable_servers = {"durable": temporal_address}
        if temporal_address is None:
            for key, tuned in (("durable", True), ("durable_dev_server_defaults", False)):
                temporal = temporal_dev_server(workdir, tuned=tuned)
                services.insert(0, temporal)
                durable_servers[key] = f"127.0.0.1:{temporal.port}"
        for started_service in services:
            stack.callback(started_service.kill)
        start_together(*services)
        task_queue = f"bench-latency-{nonce}"
        for address in durable_servers.values():
            assert address is not None
            process = worker(workdir, sim.url, address, task_queue, options=["--health-poll", "0.005"])
            stack.callback(process.kill)
            process.start()
        cloud = stack.enter_context(SimCloudClient(sim.url))

        variants["floor_direct_provider"] = _measure("floor", samples, lambda r: _direct(cloud, r), nonce)
        for label, interval, n in (("orca", orca_poll, orca_samples), ("fast", fast_poll, samples)):
            with LegacyRunner(service.url, poll_interval_s=interval) as legacy:
                key = f"legacy_poll_{interval:g}s"
                variants[key] = _measure(label, n, functools.partial(_run_through, legacy), nonce)
                variants[key]["poll_interval_s"] = interval
        for key, address in durable_servers.items():
            assert address is not None
            durable = DurableRunner(address, task_queue=task_queue)
            stack.callback(durable.close)
            variants[key] = _measure(key, samples, functools.partial(_run_through, durable), nonce)
            if key == "durable":  # two steps, both in the worker, in the task that planned them
                two = {"floor": _measure("floor_two", samples, lambda r: _direct(cloud, r), nonce, regions=2)}
                two["durable"] = _measure("durable_two", samples, functools.partial(_run_through, durable), nonce, 2)
        address = durable_servers["durable"]
        assert address is not None
        shape_worker = empty_shape_worker(workdir, address, f"{task_queue}-empty")
        stack.callback(shape_worker.kill)
        shape_worker.start()
        loop = BackgroundLoop()
        stack.callback(loop.close)
        client = loop.run(Client.connect(address))
        for key, workflow_type in (
            ("temporal_empty_shape", WORKFLOW_TYPE),
            ("temporal_empty_two_tasks", TWO_TASKS),
        ):
            empty = functools.partial(_empty_shape, loop, client, f"{task_queue}-empty", workflow_type)
            variants[key] = _measure(key, samples, empty, nonce)

    floor = variants["floor_direct_provider"]["p50_ms"]
    durable_p50 = variants["durable"]["p50_ms"]
    durable_p99 = variants["durable"]["p99_ms"]
    over_floor = {k: round(v["p50_ms"] - floor, 3) for k, v in variants.items() if k != "floor_direct_provider"}
    empty_p50 = variants["temporal_empty_shape"]["p50_ms"]
    report = {
        "benchmark": "latency",
        "operation": "createServerGroup, 1 region, desired 1, instances healthy at launch, no injected faults",
        "variants": variants,
        "baseline": "floor_direct_provider",
        "p50_over_floor_ms": over_floor,
        "ratios_p50_to_floor": {k: round(v["p50_ms"] / floor, 2) for k, v in variants.items() if floor > 0},
        # What the durable path adds beyond the floor, split: Temporal's empty workflow of the same shape, the rest.
        "durable_over_floor_split_ms": {
            "temporal_empty_shape": round(empty_p50, 3),
            "ours": round(durable_p50 - floor - empty_p50, 3),
        },
        "two_regions": {
            **two,
            "operation": "the same createServerGroup in two regions: two steps, both in the planning workflow task",
            "durable_p50_over_floor_ms": round(two["durable"]["p50_ms"] - two["floor"]["p50_ms"], 3),
        },
        "targets": [
            Target.at_most("durable p50 - floor p50 (ms)", round(durable_p50 - floor, 3), 25).to_json(),
            Target.at_most("durable p99 - floor p50 (ms)", round(durable_p99 - floor, 3), 60).to_json(),
        ],
    }
    emit(report, started)
