"""End to end through processes: `cloudops sim-cloud`, `cloudops clouddriver` (in memory and on Redis) and
LegacyRunner. A SIGKILL in the middle of an operation leaves a zombie exactly as in Clouddriver: in memory the task
is gone after a restart (404, and a re-submit runs the operation again); in Redis it stays STARTED until its TTL.
These failures are the baseline the durable path must beat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from infra import Process, cloudops_argv, free_port, http_ok, start_process

from cloud.sim.client import SimCloudClient
from router import ErrorKind, OperationRequest, OperationState
from router.legacy import LegacyRunner, client_request_id

SERVICE_ENV = {
    "CLOUDDRIVER_HEALTH_POLL_S": "0.05",
    "CLOUDDRIVER_HEALTH_TIMEOUT_S": "120",
    "CLOUDDRIVER_PROVIDER_BACKOFF_S": "0.05",
}


def start_sim(health_delay: float) -> Process:
    port = free_port()
    argv = cloudops_argv("sim-cloud", "--port", str(port), "--health-delay", str(health_delay))
    return start_process(argv, port, ready=lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), name="sim-cloud")


def start_clouddriver(cloud: str, port: int | None = None, redis_url: str | None = None, **env: str) -> Process:
    port = port or free_port()
    argv = cloudops_argv("clouddriver", "--port", str(port), "--cloud", cloud)
    if redis_url:
        argv += ["--redis-url", redis_url]
    return start_process(
        argv,
        port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
        env={**SERVICE_ENV, **env},
        name="clouddriver",
    )


@pytest.fixture(scope="module")
def fast_sim() -> Iterator[Process]:
    proc = start_sim(0.1)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Process]:
    """Instances take a minute to turn healthy: an operation waits long enough to be killed in the middle."""
    proc = start_sim(60)
    yield proc
    proc.stop()


def runner(url: str) -> LegacyRunner:
    return LegacyRunner(url, poll_interval_s=0.05, submit_backoff_s=0.05, read_backoff_s=0.01)


def create(operation_id: str, app: str) -> OperationRequest:
    context: dict[str, Any] = {
        "application": app,
        "stack": "main",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest(operation_id, "createServerGroup", "createServerGroup", "prod", app, "aws", context)


def poll_until_waiting(legacy: LegacyRunner, handle: str) -> None:
    """Poll until the task is in the middle of its operation (waiting for instances to be healthy)."""
    for _ in range(400):
        status = legacy.poll(handle)
        assert status.state is OperationState.RUNNING, status
        if "Waiting for" in status.step:
            return
        threading.Event().wait(0.02)
    raise AssertionError("the operation never reached its health wait")


def creates(sim: Process, app: str) -> list[str]:
    journal = SimCloudClient(sim.url).journal()
    return [e.target for e in journal if e.kind == "createServerGroup" and e.target.startswith(app)]


def test_the_service_end_to_end_over_http(fast_sim: Process) -> None:
    service = start_clouddriver(fast_sim.url)
    try:
        with runner(service.url) as legacy:
            result = legacy.run(create("e2e-1", "endtoend"))
            assert result.succeeded, result.errors
            assert result.outputs["deploy.server.groups"] == {"us-east-1": ["endtoend-main-v000"]}
            again = legacy.run(create("e2e-1", "endtoend"))  # the same operation id: the same task
            assert again.task_id == result.task_id
        assert creates(fast_sim, "endtoend") == ["endtoend-main-v000"]
        with httpx.Client(base_url=service.url) as http:
            assert http.get("/task").json() == []
            assert http.get(f"/task/{result.task_id}").json()["status"]["completed"] is True
            assert http.get("/task/missing").status_code == 404
            assert http.post("/task/missing:resume").status_code == 404
            assert http.post(f"/task/{result.task_id}:resume").status_code == 409
            bad = http.post("/aws/ops", content=b"not json", headers={"content-type": "application/json"})
            assert bad.status_code == 400 and "malformed JSON" in bad.json()["message"]
    finally:
        service.stop()
    assert service.popen.returncode == 0  # SIGTERM with no running task: a clean exit


def test_sigkill_in_memory_loses_the_task_and_a_resubmit_runs_the_operation_again(slow_sim: Process) -> None:
    service = start_clouddriver(slow_sim.url)
    port = service.port
    restarted: Process | None = None
    try:
        legacy = runner(service.url)
        handle = legacy.start(create("zombie-mem", "zombiemem"))
        poll_until_waiting(legacy, handle)
        service.kill()
        restarted = start_clouddriver(slow_sim.url, port=port)

        task_id = handle.run_id
        assert httpx.get(f"{restarted.url}/task/{task_id}").status_code == 404
        polls = 0
        while (status := legacy.poll(handle)).state is OperationState.RUNNING:
            polls += 1
        assert polls == 29 and status.result is not None  # Orca gives up on the 30th consecutive 404
        (error,) = status.result.errors
        assert error.kind is ErrorKind.INFRASTRUCTURE and error.code == "task_not_found"

        # The server group was created all the same, and nothing remembers the clientRequestId: a re-submit of
        # the same operation makes a second one.
        assert creates(slow_sim, "zombiemem") == ["zombiemem-main-v000"]
        new_handle = legacy.start(create("zombie-mem", "zombiemem"))
        assert new_handle != handle
        poll_until_waiting(legacy, new_handle)
        assert creates(slow_sim, "zombiemem") == ["zombiemem-main-v000", "zombiemem-main-v001"]
        legacy.close()
    finally:
        service.kill()
        if restarted is not None:
            restarted.kill()


@pytest.mark.redis
def test_sigkill_with_redis_leaves_a_started_zombie_until_its_ttl(slow_sim: Process, redis_server: Process) -> None:
    """Redis keeps the task across the kill, but nothing resumes it, as in Clouddriver and Orca: Clouddriver's
    RedisTaskRepository (spinnaker/clouddriver, clouddriver-core/src/main/groovy/com/netflix/spinnaker/clouddriver/
    data/task/jedis/RedisTaskRepository.java) stores a task's owner and status and never re-runs a STARTED task
    of a dead owner (`listByThisInstance` only serves the owner's own shutdown wait), and Orca's MonitorKatoTask
    (spinnaker/orca, orca-clouddriver/src/main/groovy/com/netflix/spinnaker/orca/clouddriver/tasks/
    MonitorKatoTask.groovy) posts `resumeTask` only for a FAILED task marked retryable, so a STARTED zombie is
    polled as RUNNING until its keys expire (404s) or the stage's hour runs out. `cloudops bench reliability`'s
    legacy-redis rows count these tasks as zombies."""
    redis_url = f"redis://127.0.0.1:{redis_server.port}/9"
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.flushdb()
    ttl = {"CLOUDDRIVER_TASK_TTL_S": "3"}
    first = start_clouddriver(slow_sim.url, redis_url=redis_url, **ttl)
    second = start_clouddriver(slow_sim.url, redis_url=redis_url, **ttl)  # another instance on the same Redis
    try:
        legacy = runner(first.url)
        request = create("zombie-redis", "zombieredis")
        handle = legacy.start(request)
        task_id = handle.run_id
        poll_until_waiting(legacy, handle)
        first.kill()

        task = httpx.get(f"{second.url}/task/{task_id}").json()
        assert task["status"]["completed"] is False and task["status"]["phase"] == "DEPLOY"
        assert task["status"]["status"].startswith("Waiting for 1 healthy instance(s)")
        assert r.sismember("kato:tasks", task_id)
        assert [t["id"] for t in httpx.get(f"{second.url}/task").json()] == [task_id]

        # Orca's retried submit reaches the other instance: the same task, returned as it is, not run again.
        other = runner(second.url)
        assert other.start(request) == handle
        assert r.get(f"kato:taskmap:{client_request_id('zombie-redis')}") == task_id
        assert httpx.get(f"{second.url}/task/{task_id}").json()["history"] == task["history"]
        assert other.poll(handle).state is OperationState.RUNNING

        # Nothing reaps it; it disappears only when its keys expire, and its id lingers in kato:tasks.
        while (status := other.poll(handle)).state is OperationState.RUNNING:
            threading.Event().wait(0.05)
        assert status.result is not None
        (error,) = status.result.errors
        assert error.kind is ErrorKind.INFRASTRUCTURE and error.code == "task_not_found"
        assert httpx.get(f"{second.url}/task/{task_id}").status_code == 404
        assert r.sismember("kato:tasks", task_id)
        assert creates(slow_sim, "zombieredis") == ["zombieredis-main-v000"]
        legacy.close()
        other.close()
    finally:
        first.kill()
        second.kill()
        r.flushdb()
        r.close()
