"""Chaos: Redis, where the legacy service keeps its tasks, is SIGKILLed mid-task and restarted empty (a cache
without persistence, as Clouddriver's Redis usually is). The legacy path behaves as Clouddriver and Orca do.

The service keeps running and the cloud change it had made stays made, but the task is gone: `GET /task/{id}`
answers 404, and LegacyRunner, polling as Orca's MonitorKatoTask, reports the operation lost after 30
consecutive 404s. The clientRequestId index went with it, so Orca's retry of the stage runs the deploy again and
a second server group appears. This is the baseline the durable path is measured against, not a bug to fix here.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from infra import Process, cloudops_argv, free_port, http_ok, start_process, start_redis

from cloud.sim.client import SimCloudClient
from router.contract import ErrorKind, OperationRequest, OperationState
from router.legacy import LegacyRunner

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _create(app: str) -> OperationRequest:
    context: dict[str, Any] = {
        "application": app,
        "stack": "main",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest("redis-chaos-1", "createServerGroup", "createServerGroup", "prod", app, "aws", context)


def _wait_for_health_wait(legacy: LegacyRunner, handle: str) -> None:
    for _ in range(400):
        status = legacy.poll(handle)
        assert status.state is OperationState.RUNNING, status
        if "Waiting for" in status.step:
            return
        threading.Event().wait(0.02)
    raise AssertionError("the operation never reached its health wait")


def test_redis_restarted_empty_mid_task_loses_the_task_as_clouddriver_does() -> None:
    redis = start_redis()
    sim_port = free_port()
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "2"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    port = free_port()
    service = start_process(
        cloudops_argv(
            "clouddriver", "--port", str(port), "--cloud", sim.url, "--redis-url", f"redis://127.0.0.1:{redis.port}/0"
        ),
        port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
        env={"CLOUDDRIVER_HEALTH_POLL_S": "0.05", "CLOUDDRIVER_REDIS_RETRY_DELAY_S": "0.05"},
        name="clouddriver",
    )
    restarted: Process | None = None
    legacy = LegacyRunner(service.url, poll_interval_s=0.05, submit_backoff_s=0.05, read_backoff_s=0.01)
    cloud = SimCloudClient(sim.url)
    try:
        request = _create("redischaos")
        handle = legacy.start(request)
        task_id = handle.run_id
        _wait_for_health_wait(legacy, handle)
        redis.kill()
        restarted = start_redis(redis.port)

        polls = 0
        while (status := legacy.poll(handle)).state is OperationState.RUNNING:
            polls += 1
            threading.Event().wait(0.05)
        assert status.result is not None
        (error,) = status.result.errors
        assert error.kind is ErrorKind.INFRASTRUCTURE and error.code == "task_not_found", error
        assert httpx.get(f"{service.url}/task/{task_id}").status_code == 404
        assert httpx.get(f"{service.url}/health").json() == {"status": "UP"}  # the service itself survived
        assert [e.target for e in cloud.journal()] == ["redischaos-main-v000"]  # the change it made stays made

        # Orca retries the stage with the same operation: nothing remembers it, so it is deployed a second time.
        again = legacy.start(request)
        assert again != handle
        _wait_for_health_wait(legacy, again)
        assert [e.target for e in cloud.journal()] == ["redischaos-main-v000", "redischaos-main-v001"]
    finally:
        legacy.close()
        cloud.close()
        service.kill()
        sim.kill()
        redis.kill()
        if restarted is not None:
            restarted.kill()
