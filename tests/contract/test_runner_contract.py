"""One contract for every CloudOperationRunner: the same cases, subclassed per runner.

    LegacyRunner    against the real legacy_clouddriver service over HTTP (in a server thread), over a sim cloud
    DurableRunner   against the Temporal dev server (the session fixture) and a worker on its own thread
    RoutingRunner   over both of those, in the shadow stage (legacy authoritative, durable shadows in dry run)
    ScriptedRunner  router.testing's fake, scripted with the catalogue's own validation

Each subclass provides `subject`: the runner, how to make another one over the same backends (for close/with),
how many mutations the backends have seen, and a handle none of the runner's paths knows.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest
from infra import free_port
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from werkzeug.serving import make_server

from cloud.catalogue.parse import parse_operation
from cloud.sim import SimCloud
from durable_runner.worker import WorkerTuning, build_worker
from flags import FlagTestData
from legacy_clouddriver import create_app
from router import (
    CloudOperationRunner,
    DurableRunner,
    ErrorKind,
    LegacyRunner,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    Path,
    ResultStatus,
    RoutingRunner,
    RunOptions,
    UnknownHandle,
)
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.records import OutcomeRecord
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings
from router.testing import ScriptedRunner

LEGACY_FAST = {"HEALTH_POLL_S": 0.02, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}


@dataclass
class Subject:
    runner: CloudOperationRunner
    make: Callable[[], CloudOperationRunner]
    mutations: Callable[[], int]
    unknown: OperationHandle
    closed: Callable[[CloudOperationRunner], bool]


def create(app: str | None = None) -> OperationRequest:
    app = app or f"c{uuid.uuid4().hex[:8]}"
    context = {
        "cloudProvider": "aws",
        "application": app,
        "stack": "main",
        "credentials": "test",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest(f"op-{uuid.uuid4().hex[:12]}", "createServerGroup", "deploy", "test", app, "aws", context)


def invalid() -> OperationRequest:
    context = {"cloudProvider": "aws", "credentials": "test", "capacity": {"min": "one", "max": 2, "desired": 1}}
    return OperationRequest(f"op-{uuid.uuid4().hex[:12]}", "createServerGroup", "deploy", "test", "bad", "aws", context)


def wait_done(runner: CloudOperationRunner, handle: OperationHandle, timeout_s: float = 30.0) -> OperationResult:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = runner.poll(handle)
        assert status.handle == handle
        if status.state is not OperationState.RUNNING:
            assert status.result is not None
            return status.result
        threading.Event().wait(0.02)
    raise AssertionError(f"{handle} still running after {timeout_s}s")


class RunnerContract:
    """Every test here runs on each runner."""

    def test_it_is_a_cloud_operation_runner(self, subject: Subject) -> None:
        assert isinstance(subject.runner, CloudOperationRunner)

    def test_run(self, subject: Subject) -> None:
        request = create()
        result = subject.runner.run(request)
        assert result.status is ResultStatus.SUCCEEDED, result.errors
        assert result.operation_id == request.operation_id and result.path in set(Path)
        assert result.plan is not None

    async def test_run_async(self, subject: Subject) -> None:
        request = create()
        result = await subject.runner.run_async(request)
        assert result.status is ResultStatus.SUCCEEDED, result.errors
        assert result.operation_id == request.operation_id

    def test_start_then_poll_until_done(self, subject: Subject) -> None:
        request = create()
        handle = subject.runner.start(request)
        assert isinstance(handle, OperationHandle)
        result = wait_done(subject.runner, handle)
        assert result.succeeded and result.operation_id == request.operation_id
        assert subject.runner.start(request) == handle  # a repeated start is the same operation

    def test_a_handle_round_trips_through_its_string_form(self, subject: Subject) -> None:
        handle = subject.runner.start(create())
        text = str(handle)
        assert text == f"{handle.path.value}:{handle.run_id}"
        stored = OperationHandle.parse(text)  # what a restarted caller has
        assert stored == handle and hash(stored) == hash(handle)
        assert wait_done(subject.runner, stored).succeeded

    def test_poll_of_an_unknown_handle_raises_unknown_handle(self, subject: Subject) -> None:
        with pytest.raises(UnknownHandle):
            subject.runner.poll(subject.unknown)
        with pytest.raises(UnknownHandle):
            OperationHandle.parse("not a handle")

    def test_close_and_with(self, subject: Subject) -> None:
        runner = subject.make()
        with runner as entered:
            assert entered is runner
            assert runner.run(create()).succeeded
        assert subject.closed(runner)

    def test_a_dry_run_mutates_nothing_and_does_not_stand_in_for_the_real_run(self, subject: Subject) -> None:
        request = create()
        before = subject.mutations()
        dry = subject.runner.run(request, RunOptions(dry_run=True))
        assert dry.succeeded and dry.plan is not None, dry.errors
        assert subject.mutations() == before
        real = subject.runner.run(request)
        assert real.succeeded and subject.mutations() == before + 1

    def test_a_validation_error_is_a_failed_result_of_kind_validation(self, subject: Subject) -> None:
        result = subject.runner.run(invalid())  # never an exception
        assert result.status is ResultStatus.FAILED
        assert result.errors and {e.kind for e in result.errors} == {ErrorKind.VALIDATION}


# -- the backends -------------------------------------------------------------------------------------------------


@contextmanager
def legacy_service(sim: SimCloud) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(LEGACY_FAST, provider=sim), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def legacy_runner(url: str) -> LegacyRunner:
    return LegacyRunner(url, poll_interval_s=0.02, submit_backoff_s=0.02, read_backoff_s=0.01)


@contextmanager
def worker_thread(address: str, namespace: str, sim: SimCloud) -> Iterator[str]:
    """A worker on its own thread, event loop and client: sync calls block the thread they run on, so a worker
    on the test's loop would never get to run while one waits. Yields its fresh task queue."""
    task_queue = f"tq-{uuid.uuid4().hex}"
    tuning = WorkerTuning(max_concurrent_activities=8, health_poll_seconds=0.02, wait_slice_seconds=5.0)
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        client = await Client.connect(address, namespace=namespace)
        async with build_worker(client, sim, task_queue=task_queue, tuning=tuning):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(asyncio.run, serve())
        while not ready.wait(0.1):
            if future.done():
                future.result()  # raises why the worker did not start
        try:
            yield task_queue
        finally:
            stop.set()
            future.result(30)


@dataclass
class Durable:
    address: str
    task_queue: str

    def runner(self) -> DurableRunner:
        return DurableRunner(self.address, task_queue=self.task_queue, retry_window_seconds=60)


@pytest.fixture(scope="module")
def sim() -> SimCloud:
    return SimCloud(health_delay_s=0.02)


@pytest.fixture(scope="module")
def legacy_url(sim: SimCloud) -> Iterator[str]:
    with legacy_service(sim) as url:
        yield url


@pytest.fixture(scope="module")
def durable(temporal_env: object, sim: SimCloud) -> Iterator[Durable]:
    client = cast(WorkflowEnvironment, temporal_env).client
    address = client.service_client.config.target_host
    with worker_thread(address, client.namespace, sim) as task_queue:
        yield Durable(address, task_queue)


def _legacy_closed(runner: CloudOperationRunner) -> bool:
    return cast(LegacyRunner, runner)._http.is_closed


def _durable_closed(runner: CloudOperationRunner) -> bool:
    return cast(DurableRunner, runner)._loop._loop is None


class TestLegacyRunner(RunnerContract):
    @pytest.fixture
    def subject(self, legacy_url: str, sim: SimCloud) -> Iterator[Subject]:
        with legacy_runner(legacy_url) as runner:
            unknown = OperationHandle(Path.DURABLE, "cloudop-x")  # the legacy runner knows legacy handles only
            yield Subject(
                runner, lambda: legacy_runner(legacy_url), lambda: len(sim.journal()), unknown, _legacy_closed
            )


@pytest.mark.temporal
class TestDurableRunner(RunnerContract):
    @pytest.fixture
    def subject(self, durable: Durable, sim: SimCloud) -> Iterator[Subject]:
        with durable.runner() as runner:
            unknown = OperationHandle(Path.DURABLE, f"cloudop-{uuid.uuid4().hex}")
            yield Subject(runner, durable.runner, lambda: len(sim.journal()), unknown, _durable_closed)


class _Sink:
    def __init__(self) -> None:
        self.outcomes: list[OutcomeRecord] = []
        self.comparisons: list[ShadowRecord] = []

    def record_outcome(self, record: OutcomeRecord) -> None:
        self.outcomes.append(record)

    def record_comparison(self, record: ShadowRecord) -> None:
        self.comparisons.append(record)


def routing_runner(legacy: CloudOperationRunner, durable: Any) -> RoutingRunner:
    sink, metrics = _Sink(), RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=30), publish=sink.record_comparison, metrics=metrics)
    return RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=FlagTestData().stage("shadow").client(),
        owners=InMemoryOwnership(),
        records=sink,
        shadows=shadows,
        metrics=metrics,
        resources=(shadows, legacy, durable),
    )


@pytest.mark.temporal
class TestRoutingRunner(RunnerContract):
    @pytest.fixture
    def subject(self, legacy_url: str, durable: Durable, sim: SimCloud) -> Iterator[Subject]:
        def make() -> RoutingRunner:
            return routing_runner(legacy_runner(legacy_url), durable.runner())

        def closed(runner: CloudOperationRunner) -> bool:
            legacy = cast(RoutingRunner, runner)._runners[Path.LEGACY]
            return _legacy_closed(legacy) and _durable_closed(cast(RoutingRunner, runner)._runners[Path.DURABLE])

        with make() as runner:
            unknown = OperationHandle(Path.DURABLE, f"cloudop-{uuid.uuid4().hex}")
            yield Subject(runner, make, lambda: len(sim.journal()), unknown, closed)


def catalogue_script(request: OperationRequest, path: Path) -> OperationResult:
    """Validates with the catalogue both real paths use; plans one mutation for a valid request."""
    parsed = parse_operation(request.operation, request.context, provider=request.provider)
    if parsed.errors:
        errors = tuple(OperationError(ErrorKind.VALIDATION, e.message, str(e.code), e.path) for e in parsed.errors)
        return OperationResult(ResultStatus.FAILED, path, request.operation_id, errors=errors)
    plan = {"operation": request.operation, "mutations": [{"kind": request.operation}], "facts": {}}
    return OperationResult(ResultStatus.SUCCEEDED, path, request.operation_id, plan=plan)


class TestScriptedRunner(RunnerContract):
    @pytest.fixture
    def subject(self) -> Iterator[Subject]:
        def make() -> ScriptedRunner:
            return ScriptedRunner(Path.LEGACY, catalogue_script)

        with make() as runner:
            unknown = OperationHandle(Path.LEGACY, "never-started")
            closed: Callable[[CloudOperationRunner], bool] = lambda r: cast(ScriptedRunner, r).closed  # noqa: E731
            yield Subject(runner, make, lambda: len(runner.executed), unknown, closed)
