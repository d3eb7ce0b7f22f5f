"""LegacyRunner over real HTTP against the legacy service (in a server thread) and an in-process sim cloud:
submit, monitor, outcome mapping, resume, timeout, the results race, and an unreachable service."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from infra import Process, free_port
from werkzeug.serving import make_server

from cloud.sim import FaultConfig, SimCloud
from legacy_clouddriver import create_app
from router import (
    ErrorKind,
    OperationHandle,
    OperationRequest,
    OperationState,
    Path,
    ResultStatus,
    RunnerUnavailable,
    RunOptions,
    UnknownHandle,
)
from router.legacy import LegacyRunner, client_request_id

FAST = {"HEALTH_POLL_S": 0.02, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}


@contextmanager
def service(sim: SimCloud, **settings: Any) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, create_app({**FAST, **settings}, provider=sim), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class Sleeps:
    """Records the pauses a runner asks for and takes a much shorter one (the schedule is what is tested)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        threading.Event().wait(min(seconds, 0.02))


def runner(url: str, **kwargs: Any) -> LegacyRunner:
    options: dict[str, Any] = {
        "poll_interval_s": 0.02,
        "submit_backoff_s": 0.02,
        "read_backoff_s": 0.01,
        "resume_backoff_s": 0.05,
        **kwargs,
    }
    return LegacyRunner(url, **options)


def create_request(operation_id: str = "op-1", **context: Any) -> OperationRequest:
    return OperationRequest(
        operation_id=operation_id,
        operation="createServerGroup",
        stage_type="createServerGroup",
        account="prod",
        application="myapp",
        provider="aws",
        context={
            "application": "myapp",
            "stack": "main",
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
            "capacity": {"min": 1, "max": 2, "desired": 1},
            "amiName": "myapp-ami",
            "instanceType": "m5.large",
            "subnetType": "internal",
            **context,
        },
    )


def resize_request(
    name: str, desired: int, provider: str = "aws", account: str = "prod", **ctx: Any
) -> OperationRequest:
    return OperationRequest(
        operation_id=f"resize-{name}-{desired}-{account}",
        operation="resizeServerGroup",
        stage_type="resizeServerGroup",
        account=account,
        application=name.split("-")[0],
        provider=provider,
        context={
            "region": "us-east-1",
            "serverGroupName": name,
            "capacity": {"min": 1, "max": 6, "desired": desired},
            **ctx,
        },
    )


@pytest.fixture
def sim() -> SimCloud:
    return SimCloud(health_delay_s=0.05)


@pytest.fixture
def url(sim: SimCloud) -> Iterator[str]:
    with service(sim) as base:
        yield base


def test_run_creates_and_maps_the_task_to_an_operation_result(url: str, sim: SimCloud) -> None:
    with runner(url) as legacy:
        result = legacy.run(create_request())
    assert result.status is ResultStatus.SUCCEEDED, result.errors
    assert result.path.value == "legacy" and result.operation_id == "op-1" and result.task_id
    assert result.outputs["deploy.server.groups"] == {"us-east-1": ["myapp-main-v000"]}
    assert result.outputs["serverGroupNameByRegion"] == {"us-east-1": "myapp-main-v000"}
    assert result.plan is not None and [m["kind"] for m in result.plan["mutations"]] == ["createServerGroup"]
    assert result.timings is not None and result.timings.duration_s >= 0
    assert [e.account for e in sim.journal()] == ["prod"]  # the request's account became `credentials`


def test_a_repeated_start_is_idempotent(url: str, sim: SimCloud) -> None:
    with runner(url) as legacy:
        first = legacy.start(create_request())
        assert legacy.start(create_request()) == first
        assert legacy.run(create_request()).succeeded
    assert len(sim.journal()) == 1
    assert client_request_id("op-1") == hashlib.sha256(b"op-1").hexdigest() != client_request_id("op-1", True)


def test_a_validation_400_fails_at_once_with_each_field_and_no_retry(url: str) -> None:
    sleeps = Sleeps()
    with runner(url, sleep=sleeps) as legacy:
        result = legacy.run(create_request(capacity={"min": "one", "max": 2, "desired": 1}, credentials="nope"))
    assert result.status is ResultStatus.FAILED
    assert {e.kind for e in result.errors} == {ErrorKind.VALIDATION}
    fields = {e.field: e.code for e in result.errors}
    assert fields["capacity.min"] == "type"
    assert sleeps.calls == []


def test_a_cloud_rejection_is_a_business_failure(url: str) -> None:
    clone = OperationRequest(
        operation_id="clone-missing",
        operation="cloneServerGroup",
        stage_type="cloneServerGroup",
        account="prod",
        application="myapp",
        provider="aws",
        context={
            "source": {"account": "prod", "region": "us-east-1", "serverGroupName": "myapp-main-v042"},
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
        },
    )  # the source does not exist: the cloud refuses (a missing group to resize would be skipped)
    with runner(url) as legacy:
        result = legacy.run(clone)
    (error,) = result.errors
    assert error.kind is ErrorKind.BUSINESS and error.code == "NotFound"
    assert "CopyLastAsgAtomicOperation" in error.message and result.task_id


def test_exhausted_transient_retries_are_an_infrastructure_failure(sim: SimCloud) -> None:
    with service(sim, ACCOUNTS_TTL_S=3600) as base, runner(base) as legacy:
        assert legacy.run(create_request()).succeeded  # caches the accounts
        sim.set_faults(FaultConfig(rate=1.0, throttle=0, server_error=1, timeout=0, lost_response=0))
        result = legacy.run(resize_request("myapp-main-v000", 2))
    (error,) = result.errors
    assert error.kind is ErrorKind.INFRASTRUCTURE and error.code == "ServiceUnavailable"


def titus_create_request() -> OperationRequest:
    return OperationRequest(
        operation_id="titus-create",
        operation="createServerGroup",
        stage_type="createServerGroup",
        account="titustest",
        application="helloworld",
        provider="titus",
        context={
            "application": "helloworld",
            "stack": "main",
            "region": "us-east-1",
            "imageId": "titus/helloworld:latest",
            "capacity": {"min": 1, "max": 3, "desired": 1},
            "resources": {"cpu": 2, "memory": 4096, "disk": 10000, "networkMbps": 128},
        },
    )


def test_a_retryable_titus_failure_is_resumed_until_it_succeeds(url: str, sim: SimCloud) -> None:
    with runner(url) as legacy:
        assert legacy.run(titus_create_request()).succeeded
        sim.set_hard_down(account="titustest")
        handle = legacy.start(resize_request("helloworld-main-v000", 2, provider="titus", account="titustest"))
        steps: list[str] = []
        while not any("resumed" in s for s in steps):
            status = legacy.poll(handle)
            assert status.state is OperationState.RUNNING, status
            steps.append(status.step)
        sim.set_hard_down(account="titustest", down=False)
        while (status := legacy.poll(handle)).state is OperationState.RUNNING:
            threading.Event().wait(0.02)
    assert status.result is not None and status.result.succeeded, status.result
    group = sim.describe_server_group("titustest", "us-east-1", "helloworld-main-v000")
    assert group is not None and group.capacity.desired == 2


def test_the_one_hour_timeout_is_a_timeout() -> None:
    with service(SimCloud(health_delay_s=60), HEALTH_TIMEOUT_S=2) as base, runner(base, timeout_s=0.3) as legacy:
        result = legacy.run(create_request())
    (error,) = result.errors
    assert error.kind is ErrorKind.TIMEOUT and result.task_id


def test_thirty_consecutive_404s_fail_the_operation(url: str) -> None:
    gone = OperationHandle.parse("legacy:gone")
    with runner(url) as legacy:
        states = [legacy.poll(gone).state for _ in range(30)]
    assert states == [OperationState.RUNNING] * 29 + [OperationState.FAILED]
    with runner(url) as legacy:
        for _ in range(29):
            legacy.poll(gone)
        result = legacy.poll(gone).result
    assert result is not None and result.errors[0].kind is ErrorKind.INFRASTRUCTURE
    assert result.errors[0].code == "task_not_found"


def test_handles_of_other_paths_or_garbage_are_unknown(url: str) -> None:
    with runner(url) as legacy:
        with pytest.raises(UnknownHandle):
            legacy.poll(OperationHandle(Path.DURABLE, "cloudop-1"))
        with pytest.raises(UnknownHandle):
            legacy.poll(OperationHandle.parse("garbage"))


def test_an_unreachable_service_is_unavailable_and_certainly_not_started() -> None:
    sleeps = Sleeps()
    with runner(f"http://127.0.0.1:{free_port()}", sleep=sleeps, submit_backoff_s=1.0) as legacy:
        with pytest.raises(RunnerUnavailable) as caught:
            legacy.start(create_request())
    assert caught.value.path == "legacy" and caught.value.may_have_started is False
    assert caught.value.operation_id == "op-1"
    assert sleeps.calls == [1.0, 1.0]  # three attempts, one second apart


def test_a_wrong_url_is_unavailable_at_once_and_certainly_not_started(url: str) -> None:
    sleeps = Sleeps()
    with runner(f"{url}/not/clouddriver", sleep=sleeps) as legacy:
        with pytest.raises(RunnerUnavailable) as caught:
            legacy.start(create_request())
    assert caught.value.may_have_started is False and sleeps.calls == []


def test_a_server_error_on_every_submit_may_have_started(sim: SimCloud) -> None:
    sim.set_hard_down()  # the service cannot read the accounts it validates against: 503
    with service(sim) as base, runner(base) as legacy:
        with pytest.raises(RunnerUnavailable) as caught:
            legacy.start(create_request())
    assert caught.value.may_have_started is True and "503" in caught.value.message


def test_a_dry_run_plans_without_mutating_and_does_not_dedupe_the_real_run(url: str, sim: SimCloud) -> None:
    with runner(url) as legacy:
        dry = legacy.run(create_request(), RunOptions(dry_run=True))
        assert dry.succeeded and dry.plan is not None and dry.outputs == {}
        assert sim.journal() == []
        real = legacy.run(create_request())
    assert real.succeeded and real.task_id != dry.task_id
    assert real.plan is not None and real.plan["mutations"] == dry.plan["mutations"]


def test_a_dry_run_asked_for_in_the_context_alone_is_refused_not_run(url: str, sim: SimCloud) -> None:
    with runner(url) as legacy:
        refused = legacy.run(create_request(dryRun=True))
    assert [(e.kind, e.field) for e in refused.errors] == [(ErrorKind.VALIDATION, "dryRun")]
    assert refused.task_id is None and sim.journal() == []


def test_another_runner_can_poll_a_handle_to_the_end(url: str) -> None:
    with runner(url) as first:
        handle = OperationHandle.parse(str(first.start(create_request())))  # as a caller stores it
    with runner(url) as second:
        while (status := second.poll(handle)).state is OperationState.RUNNING:
            threading.Event().wait(0.02)
    assert status.result is not None and status.result.succeeded
    assert status.result.outputs["deploy.server.groups"] == {"us-east-1": ["myapp-main-v000"]}


async def test_run_async_runs_operations_concurrently(url: str) -> None:
    with runner(url) as legacy:
        results = await asyncio.gather(
            legacy.run_async(create_request("a", application="appa")),
            legacy.run_async(create_request("b", application="appb")),
        )
    assert [r.outputs["deploy.server.groups"] for r in results] == [
        {"us-east-1": ["appa-main-v000"]},
        {"us-east-1": ["appb-main-v000"]},
    ]


@pytest.mark.redis
def test_completed_without_results_is_still_running_for_an_operation_that_expects_results(
    redis_server: Process, sim: SimCloud
) -> None:
    redis_url = f"redis://127.0.0.1:{redis_server.port}/8"
    redis.Redis.from_url(redis_url).flushdb()
    with service(sim, REDIS_URL=redis_url, REDIS_RESULT_DELAY_S=0.4) as base, runner(base) as legacy:
        handle = legacy.start(create_request())
        steps = []
        while (status := legacy.poll(handle)).state is OperationState.RUNNING:
            steps.append(status.step)
            threading.Event().wait(0.01)
    assert any("waiting for result objects" in s for s in steps)
    assert status.result is not None and status.result.outputs["deploy.server.groups"] == {
        "us-east-1": ["myapp-main-v000"]
    }
    redis.Redis.from_url(redis_url).flushdb()
