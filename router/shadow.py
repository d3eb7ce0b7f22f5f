"""Shadow runs: the candidate path plans the same operation in dry run, beside the authoritative call.

Scientist's rules, made asynchronous: the authoritative result is always returned untouched and never waits for
the shadow; the candidate runs on the executor's own event-loop thread, with a timeout, under a concurrency cap
and a circuit breaker; every error in the candidate, the comparison or the publishing is recorded, counted and
swallowed, never raised to the caller. A shadow never mutates: it only ever runs the candidate with
`RunOptions(dry_run=True)`, whatever options it was given.

Usage (what RoutingRunner does):

    ticket = shadows.begin(request, Path.DURABLE, durable_runner, options)  # None when skipped (cap, breaker)
    result = legacy_runner.run(request, options)                            # the authoritative call, unaffected
    if ticket: ticket.complete(Observation.of(result, elapsed))             # compared once both sides are in

The control may also finish in another process (an orchestrator that polls from elsewhere, a restart, the
reconciler). So a candidate that finishes before its control is known here is also handed to
`publish_candidate` as a `CandidateRecord`, which the SQL store keeps on the operation's row to pair with the
control whoever records it (router/claims.py); a ticket abandoned here then loses nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from router.breaker import CircuitBreaker
from router.compare import Comparison, IgnoreRule, Observation, compare
from router.contract import DEFAULT_OPTIONS, OperationRequest, Path, PathRunner, RunOptions
from router.metrics import RouterMetrics
from router.tracing import shadow_span

__all__ = ["CandidateRecord", "ShadowExecutor", "ShadowRecord", "ShadowSettings", "ShadowTicket"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowSettings:
    max_concurrency: int = 8
    timeout_s: float = 120.0
    failure_threshold: int = 5
    reset_after_s: float = 60.0


@dataclass(frozen=True, slots=True)
class ShadowRecord:
    """One finished comparison: what each side observed and what the comparison concluded."""

    request: OperationRequest
    control: Observation
    candidate: Observation
    comparison: Comparison
    compared_at: datetime


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A shadow's observation, published before its control is known: one half of a comparison."""

    request: OperationRequest
    candidate: Observation


class ShadowTicket:
    """The authoritative side's half of one shadow: call `complete` with its observation, or `abandon`."""

    def __init__(self) -> None:
        self._control: concurrent.futures.Future[Observation | None] = concurrent.futures.Future()

    def complete(self, control: Observation) -> None:
        if not self._control.done():
            self._control.set_result(control)

    def abandon(self) -> None:
        if not self._control.done():
            self._control.set_result(None)

    @property
    def has_control(self) -> bool:
        """Whether the authoritative side's observation is already in (so the comparison is made here)."""
        return self._control.done() and self._control.result() is not None

    async def control(self) -> Observation | None:
        """The authoritative side's observation once it is in; None when the authoritative call was abandoned."""
        return await asyncio.wrap_future(self._control)


class ShadowExecutor:
    """Runs candidate dry runs in the background and publishes each comparison to `publish`."""

    def __init__(
        self,
        settings: ShadowSettings,
        *,
        publish: Callable[[ShadowRecord], None],
        metrics: RouterMetrics,
        publish_candidate: Callable[[CandidateRecord], None] | None = None,
        ignore_rules: Callable[[], Sequence[IgnoreRule]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._publish = publish
        self._publish_candidate = publish_candidate
        self._metrics = metrics
        self._ignore_rules = ignore_rules
        self._clock = clock
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.reset_after_s)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cloudops-shadows", daemon=True)
        self._thread.start()
        self._pending: set[concurrent.futures.Future[None]] = set()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def begin(
        self, request: OperationRequest, path: Path, candidate: PathRunner, options: RunOptions = DEFAULT_OPTIONS
    ) -> ShadowTicket | None:
        """Start the candidate's dry run now (with `options`, as a dry run); None (counted) when the cap or the
        breaker says no."""
        with self._lock:
            if self._in_flight >= self.settings.max_concurrency:
                self._metrics.shadows_skipped.labels("concurrency_cap").inc()
                return None
            if not self.breaker.allow():
                self._metrics.shadows_skipped.labels("circuit_open").inc()
                return None
            self._in_flight += 1
        ticket = ShadowTicket()
        dry = replace(options, dry_run=True)
        future = asyncio.run_coroutine_threadsafe(self._shadow(request, path, candidate, dry, ticket), self._loop)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return ticket

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _shadow(
        self, request: OperationRequest, path: Path, candidate: PathRunner, dry: RunOptions, ticket: ShadowTicket
    ) -> None:
        try:
            observed = await self._observe(request, path, candidate, dry)
        finally:
            with self._lock:
                self._in_flight -= 1
        try:
            if self._publish_candidate is not None and not ticket.has_control:
                self._publish_candidate(CandidateRecord(request, observed))
            control = await ticket.control()
            if control is None:
                return
            comparison = compare(
                request.operation, control, observed, now=datetime.now(UTC), rules=self._ignore_rules()
            )
            self._metrics.comparisons.labels(request.operation, comparison.outcome.value).inc()
            self._metrics.count_differing_fields(
                request.operation, ((d.path, d.ignored_by is not None) for d in comparison.diffs)
            )
            self._publish(ShadowRecord(request, control, observed, comparison, datetime.now(UTC)))
        except Exception:
            self._metrics.internal_errors.labels("shadow_compare_publish").inc()
            log.exception(
                "shadow comparison for %s failed; the authoritative result is unaffected", request.operation_id
            )

    async def _observe(
        self, request: OperationRequest, path: Path, candidate: PathRunner, dry: RunOptions
    ) -> Observation:
        started = self._clock()
        try:
            # The coroutine was handed over in the caller's context, so this span joins the operation's trace.
            with shadow_span(request, path.value):
                result = await asyncio.wait_for(candidate.run_async(request, dry), self.settings.timeout_s)
        except TimeoutError:
            self.breaker.record(success=False)
            return Observation(path, None, duration_s=self._clock() - started, timed_out=True)
        except Exception as exc:  # a candidate error is data, never the caller's problem
            self.breaker.record(success=False)
            return Observation(path, None, duration_s=self._clock() - started, exception=f"{type(exc).__name__}: {exc}")
        elapsed = self._clock() - started
        self._metrics.shadow_duration.labels(path.value, request.operation).observe(elapsed)
        observation = Observation.of(result, elapsed)
        self.breaker.record(success=not observation.failed_in_infrastructure)
        return observation

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait for every started shadow to finish (tests, shutdown); True when none is left."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return True
            concurrent.futures.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        return False

    def close(self, drain_timeout_s: float = 10.0) -> None:
        """Let running shadows finish for up to `drain_timeout_s`, cancel the rest, and stop the loop."""
        if self._loop.is_closed():
            return
        if self._loop.is_running():
            self.drain(drain_timeout_s)
            try:
                asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(timeout=5)
            except (concurrent.futures.TimeoutError, RuntimeError):
                log.warning("shadow tasks did not stop in time; abandoning them")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()

    async def _cancel_all(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
