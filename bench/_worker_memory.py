"""`cloudops bench throughput`'s memory phase: a worker's resident memory while --in-flight operations stay open.

The operations are started through a RoutingRunner onto a worker whose sim cloud holds new instances unhealthy
for --hold seconds, so every one of them stays in flight (cached on the worker) while its VmRSS is sampled every
0.5 s; the peak is the figure. The operations are terminated afterwards, so no benchmark work outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._support import rss_mb
from bench._throughput_probe import operation_request

__all__ = ["memory_phase", "routing_runner"]


def routing_runner(database_url: str, address: str, task_queue: str) -> Any:
    from router.config import RouterConfig
    from router.factory import build_routing_runner

    config = RouterConfig(
        legacy_url="http://127.0.0.1:9",  # never called: the stage is `complete` everywhere
        temporal_address=address,
        temporal_task_queue=task_queue,
        database_url=database_url,
    )
    return build_routing_runner(config)


def memory_phase(
    settings: dict[str, Any], process: Any, address: str, task_queue: str, database_url: str
) -> dict[str, Any]:
    in_flight, nonce = settings["in_flight"], settings["nonce"]
    idle = rss_mb(process.pid)
    router = routing_runner(database_url, address, task_queue)
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            handles = list(pool.map(router.start, (operation_request(f"{nonce}mem", i) for i in range(in_flight))))
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
