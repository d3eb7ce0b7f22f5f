"""RoutingRunner: the drop-in CloudOperationRunner that lets flags choose the path of every operation.

For each operation: decide (flags, in memory) -> find or claim its owner (rule 2) -> run the authoritative path
and return its result unchanged, with the decision attached -> shadow the other path in dry run when the stage
and the sample say so -> record the outcome and the comparison off the caller's path. The routing table itself
is `router.policy.route`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from flags import RETRY_WINDOW_KEY, SHADOW_SAMPLE_KEY, STAGE_KEY
from router.compare import Observation
from router.contract import (
    DEFAULT_OPTIONS,
    DurablePathRunner,
    ErrorKind,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    PathRunner,
    ResultStatus,
    RouteDecision,
    RunOptions,
    Timings,
)
from router.errors import OwnershipUnavailable, RunnerUnavailable
from router.metrics import RouterMetrics
from router.ownership import OwnershipStore
from router.policy import (
    DEFAULT_SHADOW_SAMPLE_PERCENT,
    DecisionView,
    Route,
    route,
    sample_bucket,
    shadow_sample_percent,
)
from router.records import OutcomeRecord
from router.routing_values import FallbackPolicy, RouteBasis
from router.shadow import ShadowExecutor, ShadowRecord, ShadowTicket
from router.tracing import operation_span, resumed

__all__ = [
    "DurablePathRunner",
    "FallbackPolicy",
    "FlagSource",
    "PathRunner",
    "RecordSink",
    "RoutingRunner",
]

log = logging.getLogger(__name__)


class FlagSource(Protocol):
    """The flags the router reads: in memory, never raising (`flags.FlagClient` satisfies it)."""

    def decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = ...) -> DecisionView: ...


class RecordSink(Protocol):
    def record_outcome(self, record: OutcomeRecord) -> None: ...
    def record_comparison(self, record: ShadowRecord) -> None: ...


@dataclass
class _Started:
    request: OperationRequest
    route: Route
    ticket: ShadowTicket | None
    started_at: float
    fallback: bool
    dry_run: bool = False  # a dry run through the router: planned on its path, neither shadowed nor recorded
    trace: object | None = None  # the operation span's context, so polls continue its trace


class RoutingRunner:
    """Routes each operation to the legacy or durable path by flags; satisfies CloudOperationRunner."""

    def __init__(
        self,
        *,
        legacy: PathRunner,
        durable: DurablePathRunner,
        flags: FlagSource,
        owners: OwnershipStore,
        records: RecordSink,
        shadows: ShadowExecutor,
        metrics: RouterMetrics,
        fallback: FallbackPolicy = FallbackPolicy.LEGACY,
        default_shadow_sample_percent: float = DEFAULT_SHADOW_SAMPLE_PERCENT,
        resources: Sequence[object] = (),
    ) -> None:
        """`resources` are closed by `close()`, in order (shadows first, so they stop before their runners)."""
        self._runners: dict[Path, PathRunner] = {Path.LEGACY: legacy, Path.DURABLE: durable}
        self._durable = durable
        self._flags = flags
        self._owners = owners
        self._records = records
        self._shadows = shadows
        self.metrics = metrics
        self._fallback = fallback
        self._default_sample = default_shadow_sample_percent
        self._started: dict[OperationHandle, _Started] = {}
        self._lock = threading.Lock()
        self._resources = tuple(resources)

    def close(self) -> None:
        """Release what this router owns: shadow threads, record buffers (flushed), clients, engines.

        Shadows of operations started here but never polled to the end are abandoned first: their authoritative
        side will not be observed by this router any more, so there is nothing to compare them with."""
        with self._lock:
            unfinished, self._started = list(self._started.values()), {}
        for started in unfinished:
            if started.ticket:
                started.ticket.abandon()
        for resource in self._resources:
            flush = getattr(resource, "flush", None)
            if callable(flush):
                flush(5)
            close = getattr(resource, "close", None) or getattr(resource, "dispose", None)
            if callable(close):
                close()

    def __enter__(self) -> RoutingRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -------------------------------------------------------------------------------------------

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        """Route and run. `options.dry_run` plans on the chosen path (no shadow, no ownership, no record); the
        router makes the decision itself, and a retry window in `options` wins over the one flags give."""
        started_at = time.time()
        _refuse_decision(options)
        with operation_span(request, "run") as span:
            chosen = self._route(request)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                result, fallback = self._run_primary(request, chosen, options)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
            return self._finish(_Started(request, chosen, ticket, started_at, fallback, options.dry_run), result)

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        started_at = time.time()
        _refuse_decision(options)
        with operation_span(request, "run") as span:
            chosen = await asyncio.to_thread(self._route, request)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                result, fallback = await self._run_primary_async(request, chosen, options)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
            return self._finish(_Started(request, chosen, ticket, started_at, fallback, options.dry_run), result)

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        started_at = time.time()
        _refuse_decision(options)
        with operation_span(request, "start") as span:
            chosen = self._route(request)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                handle, fallback = self._start_primary(request, chosen, options)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
        with self._lock:
            tracked = self._started.setdefault(
                handle, _Started(request, chosen, ticket, started_at, fallback, options.dry_run, span.context())
            )
        if tracked.ticket is not ticket and ticket:  # a repeated start of an operation already tracked
            ticket.abandon()
        return handle

    def poll(self, handle: OperationHandle) -> OperationStatus:
        with self._lock:
            tracked = self._started.get(handle)
        with resumed(tracked.trace if tracked else None, "cloudops.poll", {"cloudops.handle": str(handle)}):
            status = self._runners[handle.path].poll(handle)
        if status.state is OperationState.RUNNING or status.result is None:
            return status
        with self._lock:
            started = self._started.pop(handle, None)
        if started is None:  # started by another router process: report it, nothing of ours to finish
            return status
        return replace(status, result=self._finish(started, status.result))

    # -- routing ------------------------------------------------------------------------------------------------

    def decide(self, request: OperationRequest) -> Route:
        """The route this router would choose for `request` now (no side effects, so not counted as a decision):
        for `op run --explain`, and for the gateway's choice between its own path and the upstream's."""
        return self._route(request, count=False)

    def _provider_name(self) -> str:
        """The flag source's name for the `feature_flag.evaluation` event: OpenFeature's provider, else ours."""
        name = getattr(self._flags, "provider_name", "cloudops")
        return name if isinstance(name, str) else "cloudops"

    def _route(self, request: OperationRequest, *, count: bool = True) -> Route:
        dims = request.dimensions()
        attrs = {"operation_id": request.operation_id, "execution_id": request.execution_id or ""}
        decision = self._flags.decide(STAGE_KEY, dims, attrs)
        sample = self._flags.decide(SHADOW_SAMPLE_KEY, dims, attrs)
        sample_percent = shadow_sample_percent(sample, self._default_sample)
        owner, unknown_owner = self._current_owner(request.operation_id)
        chosen = route(
            decision,
            shadow_sample_percent=sample_percent,
            shadow_bucket=sample_bucket(request.operation_id),
            owner=owner,
        )
        if unknown_owner is not None:
            reason = f"{unknown_owner}; the flags said: {decision.reason}"
            decided = replace(chosen.decision, reason=reason)
            chosen = replace(chosen, decision=decided, basis=RouteBasis.OWNERSHIP_UNAVAILABLE)
        if count:
            self.metrics.decisions.labels(chosen.decision.stage, chosen.primary.value, chosen.basis.value).inc()
        return chosen

    def _current_owner(self, operation_id: str) -> tuple[Path | None, str | None]:
        """The recorded owner, or, when the store cannot say, the safe path and why it was chosen."""
        try:
            found = self._owners.owner(operation_id)
            return (found.path if found else None), None
        except OwnershipUnavailable:
            # Without the ownership store, the durable path itself says whether it ever started this operation
            # (its workflow id derives from the operation id); if not, legacy is safe: a legacy retry dedupes.
            self.metrics.internal_errors.labels("ownership_store").inc()
            log.warning("ownership store unavailable; asking the durable path about %s", operation_id)
            if self._durable.has_started(operation_id):
                return Path.DURABLE, "ownership store unavailable: the durable path has this operation's workflow"
            return Path.LEGACY, "ownership store unavailable and no workflow exists: legacy, where a retry dedupes"

    def _claim(self, request: OperationRequest, chosen: Route, options: RunOptions) -> Path:
        if options.dry_run:  # a dry run is not the operation: it claims nothing
            return chosen.primary
        try:
            return self._owners.claim(request.operation_id, chosen.primary, chosen.decision.reason).path
        except OwnershipUnavailable:
            self.metrics.internal_errors.labels("ownership_store").inc()
            return chosen.primary

    def _options(self, request: OperationRequest, decision: RouteDecision, options: RunOptions) -> RunOptions:
        """What the path gets: the decision (rule 5: decided outside the workflow) and the retry window, the
        caller's or else the one flags set for the scope."""
        window = options.retry_window_seconds
        if window is None:
            found = self._flags.decide(RETRY_WINDOW_KEY, request.dimensions(), {"operation_id": request.operation_id})
            value = found.value
            if not found.default_used and isinstance(value, int) and not isinstance(value, bool) and value > 0:
                window = value
        return RunOptions(dry_run=options.dry_run, decision=decision, retry_window_seconds=window)

    # -- the authoritative call ---------------------------------------------------------------------------------

    def _run_primary(
        self, request: OperationRequest, chosen: Route, options: RunOptions
    ) -> tuple[OperationResult, bool]:
        path = self._claim(request, chosen, options)
        routed = self._options(request, replace(chosen.decision, path=path), options)
        try:
            return self._runners[path].run(request, routed), False
        except RunnerUnavailable as exc:
            if self._may_fall_back(request, chosen, path, exc, options):
                return self._runners[Path.LEGACY].run(request, routed), True
            return _unavailable(request, path, exc), False

    async def _run_primary_async(
        self, request: OperationRequest, chosen: Route, options: RunOptions
    ) -> tuple[OperationResult, bool]:
        path = await asyncio.to_thread(self._claim, request, chosen, options)
        routed = self._options(request, replace(chosen.decision, path=path), options)
        try:
            return await self._runners[path].run_async(request, routed), False
        except RunnerUnavailable as exc:
            if await asyncio.to_thread(self._may_fall_back, request, chosen, path, exc, options):
                return await self._runners[Path.LEGACY].run_async(request, routed), True
            return _unavailable(request, path, exc), False

    def _start_primary(
        self, request: OperationRequest, chosen: Route, options: RunOptions
    ) -> tuple[OperationHandle, bool]:
        path = self._claim(request, chosen, options)
        routed = self._options(request, replace(chosen.decision, path=path), options)
        try:
            return self._runners[path].start(request, routed), False
        except RunnerUnavailable as exc:
            if self._may_fall_back(request, chosen, path, exc, options):
                return self._runners[Path.LEGACY].start(request, routed), True
            raise

    def _may_fall_back(
        self, request: OperationRequest, chosen: Route, path: Path, exc: RunnerUnavailable, options: RunOptions
    ) -> bool:
        """Rule 4: only from durable, only when the workflow was certainly not started, only if configured.

        "Certainly not started" speaks for this call only; an earlier attempt that owned the operation on the
        durable path may have started it, so only an operation's first attempt may fall back. A dry run plans
        on legacy instead without a claim to move.
        """
        if path is not Path.DURABLE or exc.may_have_started or self._fallback is FallbackPolicy.FAIL:
            return False
        if chosen.owner is not None:
            return False
        if options.dry_run:
            return True
        reason = f"durable path unavailable before start: {exc.message}"
        try:
            moved = self._owners.reassign(request.operation_id, Path.DURABLE, Path.LEGACY, reason)
        except OwnershipUnavailable:
            moved = True  # nothing recorded durable as the owner durably; the workflow certainly does not exist
        if moved:
            self.metrics.fallbacks.labels(request.operation).inc()
            log.warning("operation %s falls back to legacy: %s", request.operation_id, exc.message)
        return moved

    # -- shadows and records ------------------------------------------------------------------------------------

    def _begin_shadow(self, request: OperationRequest, chosen: Route, options: RunOptions) -> ShadowTicket | None:
        if chosen.shadow is None:
            return None
        try:
            shadowed = self._options(request, chosen.decision, options)
            return self._shadows.begin(request, chosen.shadow, self._runners[chosen.shadow], shadowed)
        except Exception:
            self.metrics.internal_errors.labels("shadow_begin").inc()
            log.exception("could not start a shadow for %s", request.operation_id)
            return None

    def _finish(self, started: _Started, result: OperationResult) -> OperationResult:
        duration = time.time() - started.started_at
        decision = replace(started.route.decision, path=result.path)
        result = replace(result, decision=decision, timings=result.timings or Timings.since(started.started_at))
        if started.ticket:
            started.ticket.complete(Observation.of(result, duration))
        if started.dry_run:  # a plan, not an outcome: the rollout's evidence counts operations only
            return result
        try:
            kind = result.errors[0].kind.value if result.errors else ""
            self.metrics.operations.labels(
                result.path.value, started.request.operation, result.status.value, kind
            ).inc()
            self.metrics.duration.labels(result.path.value, started.request.operation).observe(duration)
            self._records.record_outcome(
                OutcomeRecord(started.request, result, decision.stage, duration, fallback=started.fallback)
            )
        except Exception:
            self.metrics.internal_errors.labels("record_outcome").inc()
            log.exception("could not record the outcome of %s", started.request.operation_id)
        return result


def _refuse_decision(options: RunOptions) -> None:
    """The router decides; a decision passed in would be overruled silently, so it is refused."""
    if options.decision is not None:
        raise ValueError("RoutingRunner makes the routing decision itself: run it without RunOptions.decision")


def _unavailable(request: OperationRequest, path: Path, exc: RunnerUnavailable) -> OperationResult:
    hint = "" if path is Path.LEGACY else " (not falling back: the workflow may have started, or fallback is off)"
    return OperationResult(
        status=ResultStatus.FAILED,
        path=path,
        operation_id=request.operation_id,
        errors=(OperationError(ErrorKind.INFRASTRUCTURE, f"{path.value} path unavailable: {exc.message}{hint}"),),
    )
