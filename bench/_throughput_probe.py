"""The caller of `cloudops bench throughput`'s tree rows, run in a fresh interpreter on one tree's code.

`python -P -c <this file> <settings JSON>` with PYTHONPATH set to a tree (this one, or the baseline's `git
worktree`) imports that tree's router, so the same workload measures whichever code the tree holds. It uses
only what every tree since the throughput benchmark has (`build_routing_runner`, `OperationRequest`, the flag
store), and nothing of bench/, which the baseline's tree may lack. It sets the stage `complete` (every operation
goes durable), warms up, prints the line `measuring` (the parent opens its CPU window of every process then),
runs the operations through the RoutingRunner, closes it (its buffered records are written: they are part of
the cost), and prints one JSON line: wall seconds, failures and each operation's latency.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


def operation_request(prefix: str, i: int) -> Any:
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


def set_stage_complete(database_url: str) -> None:
    import migrations
    from flags import STAGE_KEY
    from flags.sql_store import SqlFlagStore

    migrations.upgrade(database_url)
    store = SqlFlagStore(database_url)
    try:
        store.set_property(STAGE_KEY, "complete", {}, actor="bench", reason="throughput benchmark: all durable")
    finally:
        store.close()


async def _run(router: Any, ops: int, concurrency: int, prefix: str) -> tuple[list[float], int]:
    from router.contract import Path

    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        async with gate:
            started = time.perf_counter()
            result = await router.run_async(operation_request(prefix, i))
            latencies.append(time.perf_counter() - started)
            failed += not (result.succeeded and result.path is Path.DURABLE)

    await asyncio.gather(*(one(i) for i in range(ops)))
    return latencies, failed


async def _measure(router: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Warm up, say `measuring`, run the operations and close the router, all on one event loop (the router's
    Temporal client belongs to the loop it first ran on)."""
    prefix, concurrency = settings["prefix"], settings["concurrency"]
    await _run(router, settings["warm"], concurrency, f"{prefix}warm")
    print("measuring", flush=True)
    started = time.perf_counter()
    latencies, failed = await _run(router, settings["ops"], concurrency, prefix)
    seconds = time.perf_counter() - started
    await asyncio.to_thread(router.close)
    return {"seconds": seconds, "failed": failed, "latencies_s": latencies}


def main(settings: dict[str, Any]) -> None:
    from router.config import RouterConfig
    from router.factory import build_routing_runner

    set_stage_complete(settings["database_url"])
    config = RouterConfig(
        legacy_url="http://127.0.0.1:9",  # never called: the stage is `complete` everywhere
        temporal_address=settings["address"],
        temporal_task_queue=settings["task_queue"],
        database_url=settings["database_url"],
    )
    result = asyncio.run(_measure(build_routing_runner(config), settings))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
