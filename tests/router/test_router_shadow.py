"""The shadow executor: never blocks or raises into the caller; timeout, cap and breaker are honoured."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from router.breaker import BreakerState, CircuitBreaker
from router.compare import ComparisonOutcome, Observation
from router.contract import DEFAULT_OPTIONS, OperationRequest, OperationResult, Path, ResultStatus, RunOptions
from router.metrics import RouterMetrics
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings

PLAN = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}


def _request(op_id: str = "op-1") -> OperationRequest:
    return OperationRequest(op_id, "resizeServerGroup", "resize", "prod", "myapp", "aws", {})


class ScriptedDryRunner:
    """A candidate whose dry run returns a plan, raises, or hangs until released."""

    def __init__(self, *, plan: dict[str, object] | None = None, error: Exception | None = None) -> None:
        self.plan, self.error = plan, error
        self.release = threading.Event()
        self.hang = False
        self.calls = 0

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        assert options.dry_run, "a shadow only ever runs its candidate in dry run"
        self.calls += 1
        if self.hang:
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        if self.error:
            raise self.error
        return OperationResult(ResultStatus.SUCCEEDED, Path.DURABLE, request.operation_id, plan=self.plan)


@pytest.fixture
def published() -> list[ShadowRecord]:
    return []


@pytest.fixture
def executor(published: list[ShadowRecord]) -> Iterator[ShadowExecutor]:
    ex = ShadowExecutor(
        ShadowSettings(max_concurrency=2, timeout_s=0.3, failure_threshold=2, reset_after_s=60),
        publish=published.append,
        metrics=RouterMetrics(),
    )
    yield ex
    ex.close()


def _control() -> Observation:
    return Observation(Path.LEGACY, ResultStatus.SUCCEEDED, plan=PLAN)


def test_a_matching_candidate_is_compared_after_the_control_completes(
    executor: ShadowExecutor, published: list[ShadowRecord]
) -> None:
    ticket = executor.begin(_request(), Path.DURABLE, ScriptedDryRunner(plan=PLAN))
    assert ticket is not None
    ticket.complete(_control())
    assert executor.drain(5)
    (record,) = published
    assert record.comparison.outcome is ComparisonOutcome.MATCH
    assert record.candidate.path is Path.DURABLE


def test_candidate_errors_and_timeouts_are_recorded_never_raised(
    executor: ShadowExecutor, published: list[ShadowRecord]
) -> None:
    failing = executor.begin(_request("a"), Path.DURABLE, ScriptedDryRunner(error=RuntimeError("boom")))
    hanging_runner = ScriptedDryRunner(plan=PLAN)
    hanging_runner.hang = True
    hanging = executor.begin(_request("b"), Path.DURABLE, hanging_runner)
    assert failing is not None and hanging is not None
    failing.complete(_control())
    hanging.complete(_control())
    assert executor.drain(5)
    hanging_runner.release.set()
    outcomes = sorted(r.comparison.outcome.value for r in published)
    assert outcomes == ["candidate_error", "candidate_timeout"]
    assert "boom" in next(r for r in published if r.request.operation_id == "a").comparison.notes[0]


def test_the_concurrency_cap_skips_and_counts(executor: ShadowExecutor) -> None:
    runners = [ScriptedDryRunner(plan=PLAN) for _ in range(3)]
    for r in runners:
        r.hang = True
    tickets = [executor.begin(_request(f"op-{i}"), Path.DURABLE, r) for i, r in enumerate(runners)]
    assert tickets[2] is None
    assert executor._metrics.value("cloudops_router_shadows_skipped_total", {"reason": "concurrency_cap"}) == 1
    for r in runners:
        r.release.set()
    for t in tickets:
        if t:
            t.abandon()
    assert executor.drain(5)


def test_the_breaker_opens_after_consecutive_failures_and_skips(executor: ShadowExecutor) -> None:
    for i in range(2):
        ticket = executor.begin(_request(f"f{i}"), Path.DURABLE, ScriptedDryRunner(error=RuntimeError("down")))
        assert ticket is not None
        ticket.abandon()
    assert executor.drain(5)
    assert executor.breaker.state is BreakerState.OPEN
    assert executor.begin(_request("next"), Path.DURABLE, ScriptedDryRunner(plan=PLAN)) is None
    assert executor._metrics.value("cloudops_router_shadows_skipped_total", {"reason": "circuit_open"}) == 1


def test_a_publisher_that_raises_is_swallowed_and_counted() -> None:
    def explode(record: ShadowRecord) -> None:
        raise RuntimeError("store down")

    metrics = RouterMetrics()
    ex = ShadowExecutor(ShadowSettings(), publish=explode, metrics=metrics)
    try:
        ticket = ex.begin(_request(), Path.DURABLE, ScriptedDryRunner(plan=PLAN))
        assert ticket is not None
        ticket.complete(_control())
        assert ex.drain(5)
        assert metrics.value("cloudops_router_internal_errors_total", {"where": "shadow_compare_publish"}) == 1
    finally:
        ex.close()


def test_breaker_half_open_allows_one_trial_then_closes_on_success() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.record(success=False)
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    now[0] = 11
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()
    breaker.record(success=True)
    assert breaker.state is BreakerState.CLOSED
