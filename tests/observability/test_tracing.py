"""One connected trace per operation, on each path, shadow included, with the routing decision on its root span.

Real components: the legacy service (Flask, in a server thread of this process) over real HTTP, the Temporal dev
server (`temporal_env`) with a real worker in this process, an in-process sim cloud. The spans are collected by the
SDK's in-memory exporter, installed as this process's global tracer provider, so the router's, the legacy
service's and the worker's spans all land in one place; each test then follows parent ids from every span of the
operation's trace back to its one root. The flag-evaluation event's attribute names are the semantic conventions'
(opentelemetry-semantic-conventions, `opentelemetry/semconv/_incubating/attributes/feature_flag_attributes.py`).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from infra import free_port
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tracing_support import span_exporter
from werkzeug.serving import make_server

from cloud.sim import SimCloud
from durable_runner.worker import WorkerTuning, build_worker
from flags import STAGE_KEY, FlagTestData
from legacy_clouddriver import create_app
from router.contract import OperationRequest, Path
from router.durable import DurableRunner
from router.legacy import LegacyRunner
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.records import OutcomeRecord
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings
from router.testing import ScriptedRunner, succeed_with_plan

pytestmark = [pytest.mark.temporal]

FAST_WORKER = WorkerTuning(max_concurrent_activities=8, health_poll_seconds=0.05, wait_slice_seconds=5.0)
FAST_SERVICE = {"HEALTH_POLL_S": 0.02, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}


def _exporter() -> InMemorySpanExporter:
    return span_exporter()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    exporter = _exporter()
    exporter.clear()
    return exporter


@asynccontextmanager
async def running_worker(client: Any, sim: SimCloud) -> AsyncIterator[str]:
    """A worker in this process on a fresh task queue (as tests/durable_runner/durable_support.py runs one)."""
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with build_worker(client, sim, task_queue=task_queue, tuning=FAST_WORKER):
        yield task_queue


@contextmanager
def legacy_service(sim: SimCloud) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(FAST_SERVICE, provider=sim), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


class _Records:
    """Swallows outcome and comparison records: this test reads spans, not records (no behaviour of a store)."""

    def __init__(self) -> None:
        self.comparisons: list[ShadowRecord] = []

    def record_outcome(self, record: OutcomeRecord) -> None:
        pass

    def record_comparison(self, record: ShadowRecord) -> None:
        self.comparisons.append(record)


def _request() -> OperationRequest:
    return OperationRequest(
        operation_id=f"trace-{uuid.uuid4().hex[:10]}",
        operation="createServerGroup",
        stage_type="createServerGroup",
        account="test",
        application="myapp",
        provider="aws",
        context={
            "application": "myapp",
            "stack": "main",
            "availabilityZones": {"us-east-1": ["us-east-1a"]},
            "capacity": {"min": 1, "max": 2, "desired": 1},
            "amiName": "myapp-ami",
            "instanceType": "m5.large",
        },
    )


async def _wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Server spans end in the request's teardown, just after the client has its answer: allow for that."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the expected spans never arrived: {_census()}")
        await asyncio.sleep(0.05)


def _census() -> list[str]:
    """Every finished span, for a failure's message: name, trace, parent, workflow."""
    return [
        f"{s.name} t={s.context.trace_id:x} p={s.parent.span_id if s.parent else None} "
        f"{(s.attributes or {}).get('temporalWorkflowID', '')}"
        for s in _exporter().get_finished_spans()
        if s.context is not None
    ]


def _trace_of(exporter: InMemorySpanExporter, operation_id: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The operation's root span and every span in its trace; asserts there is exactly one such trace."""
    finished = exporter.get_finished_spans()
    roots = [
        s
        for s in finished
        if s.name.startswith("cloudops.operation ")
        and (s.attributes or {}).get("cloudops.operation_id") == operation_id
    ]
    assert len(roots) == 1, [s.name for s in finished]
    root = roots[0]
    assert root.parent is None and root.context is not None
    trace_id = root.context.trace_id
    ours = [s for s in finished if s.context is not None and s.context.trace_id == trace_id]
    return root, ours


def _assert_connected(root: ReadableSpan, ours: list[ReadableSpan]) -> None:
    """Every span's parent chain ends at `root` (no orphan, no second root)."""
    assert root.context is not None
    by_id = {s.context.span_id: s for s in ours if s.context is not None}
    for span in ours:
        seen = span
        while seen.parent is not None:
            assert seen.parent.span_id in by_id, f"{span.name}: parent {seen.parent.span_id:x} is not in the trace"
            seen = by_id[seen.parent.span_id]
        assert seen is root, f"{span.name} hangs off {seen.name}, not the operation's span"


def _assert_decision_event(root: ReadableSpan, stage: str) -> None:
    (event,) = [e for e in root.events if e.name == "feature_flag.evaluation"]
    attributes = dict(event.attributes or {})
    assert attributes["feature_flag.key"] == STAGE_KEY == "cloudops.migration.stage"
    assert attributes["feature_flag.result.variant"] == stage
    assert attributes["feature_flag.result.reason"] == "targeting_match"
    assert attributes["feature_flag.provider.name"] == "cloudops"


def _workflow_spans(ours: list[ReadableSpan], workflow_id: str) -> list[str]:
    return sorted(s.name for s in ours if (s.attributes or {}).get("temporalWorkflowID") == workflow_id)


@contextmanager
def _router(url: str, client: Any, task_queue: str, flags: FlagTestData) -> Iterator[tuple[RoutingRunner, Any]]:
    metrics, records = RouterMetrics(), _Records()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=30), publish=records.record_comparison, metrics=metrics)
    legacy = LegacyRunner(url, poll_interval_s=0.02, submit_backoff_s=0.02, read_backoff_s=0.01)
    durable = DurableRunner(client, task_queue=task_queue, max_retry_interval_seconds=1)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags.client(),
        owners=InMemoryOwnership(),
        records=records,
        shadows=shadows,
        metrics=metrics,
        resources=(shadows, legacy, durable),
    )
    try:
        yield router, shadows
    finally:
        router.close()


async def test_a_legacy_operation_and_its_durable_shadow_are_one_trace(temporal_env: Any, spans: Any) -> None:
    sim = SimCloud(health_delay_s=0.02)
    flags = FlagTestData().stage("shadow")
    request = _request()
    with legacy_service(sim) as url:
        async with running_worker(temporal_env.client, sim) as queue:
            with _router(url, temporal_env.client, queue, flags) as (router, shadows):
                result = await router.run_async(request)
                assert result.path is Path.LEGACY and result.succeeded, result.errors
                assert await asyncio.to_thread(shadows.drain, 30)  # the worker runs on this loop: never block it
            dry_run_workflow = f"cloudop-{request.operation_id}-dry-run"

            def complete() -> bool:
                _, ours = _trace_of(spans, request.operation_id)
                names = {s.name for s in ours}
                return "GET /task/<task_id>" in names and bool(_workflow_spans(ours, dry_run_workflow))

            await _wait_for(complete)
    root, ours = _trace_of(spans, request.operation_id)
    _assert_connected(root, ours)
    _assert_decision_event(root, "shadow")
    assert root.attributes is not None and root.attributes["cloudops.path"] == "legacy"
    names = [s.name for s in ours]
    client_posts = [s for s in ours if s.kind is trace.SpanKind.CLIENT and s.name == "POST /aws/ops"]
    server_posts = [s for s in ours if s.kind is trace.SpanKind.SERVER and s.name == "POST /<provider>/ops"]
    assert len(client_posts) == 1 and len(server_posts) == 1
    assert server_posts[0].parent is not None and server_posts[0].parent.span_id == client_posts[0].context.span_id
    assert any(n.startswith("clouddriver.operate ") for n in names), names  # the task's background run
    (shadow,) = [s for s in ours if s.name == "cloudops.shadow createServerGroup"]
    shadow_workflow = _workflow_spans(ours, dry_run_workflow)
    assert any(n.startswith("StartWorkflow:") for n in shadow_workflow), shadow_workflow
    assert any(n.startswith("RunActivity:") for n in shadow_workflow), shadow_workflow
    assert shadow.attributes is not None and shadow.attributes["cloudops.dry_run"] is True


async def test_a_durable_operation_and_its_legacy_shadow_are_one_trace(temporal_env: Any, spans: Any) -> None:
    sim = SimCloud(health_delay_s=0.02)
    flags = FlagTestData().stage("durable")
    request = _request()
    with legacy_service(sim) as url:
        async with running_worker(temporal_env.client, sim) as queue:
            with _router(url, temporal_env.client, queue, flags) as (router, shadows):
                result = await router.run_async(request)
                assert result.path is Path.DURABLE and result.succeeded, result.errors
                assert await asyncio.to_thread(shadows.drain, 30)  # the worker runs on this loop: never block it
            workflow = f"cloudop-{request.operation_id}"

            def complete() -> bool:
                _, ours = _trace_of(spans, request.operation_id)
                names = {s.name for s in ours}
                return "GET /task/<task_id>" in names and any(n.startswith("RunWorkflow:") for n in names)

            await _wait_for(complete)
    root, ours = _trace_of(spans, request.operation_id)
    _assert_connected(root, ours)
    _assert_decision_event(root, "durable")
    assert root.attributes is not None and root.attributes["cloudops.path"] == "durable"
    real = _workflow_spans(ours, workflow)
    for kind in ("StartWorkflow:", "RunWorkflow:", "StartActivity:", "RunActivity:"):
        assert any(n.startswith(kind) for n in real), (kind, real)
    (shadow,) = [s for s in ours if s.name == "cloudops.shadow createServerGroup"]
    legacy_under_shadow = [s for s in ours if s.parent is not None and s.parent.span_id == shadow.context.span_id]
    assert [s.name for s in legacy_under_shadow if s.kind is trace.SpanKind.CLIENT][:1] == ["POST /aws/ops"]


def test_start_and_each_later_poll_continue_the_operations_trace(spans: Any) -> None:
    """`start` returns before the task ends; each `poll` continues the trace the start began (legacy stage: no
    shadow, so the durable side is a ScriptedRunner that is never called; it stands in for nothing traced)."""
    sim = SimCloud(health_delay_s=0.02)
    request = _request()
    with legacy_service(sim) as url:
        legacy = LegacyRunner(url, poll_interval_s=0.02, submit_backoff_s=0.02, read_backoff_s=0.01)
        metrics, records = RouterMetrics(), _Records()
        shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=records.record_comparison, metrics=metrics)
        router = RoutingRunner(
            legacy=legacy,
            durable=ScriptedRunner(Path.DURABLE, succeed_with_plan({})),
            flags=FlagTestData().stage("legacy", application="myapp").client(),
            owners=InMemoryOwnership(),
            records=records,
            shadows=shadows,
            metrics=metrics,
            resources=(shadows, legacy),
        )
        with router:
            handle = router.start(request)
            polls = 0
            while (status := router.poll(handle)).result is None:
                polls += 1
                time.sleep(0.02)
            assert status.result.succeeded, status.result.errors
    root, ours = _trace_of(spans, request.operation_id)
    _assert_connected(root, ours)
    _assert_decision_event(root, "legacy")
    assert root.attributes is not None and root.attributes["cloudops.call"] == "start"
    poll_spans = [s for s in ours if s.name == "cloudops.poll"]
    assert len(poll_spans) == polls + 1
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in poll_spans)
    under_polls = {
        s.parent.span_id for s in ours if s.name.startswith("GET /task/") and s.kind is trace.SpanKind.CLIENT
    }
    assert under_polls <= {s.context.span_id for s in poll_spans}
