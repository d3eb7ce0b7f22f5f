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
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa

from flags import RETRY_WINDOW_KEY, SHADOW_SAMPLE_KEY, STAGE_KEY
from router.compare import Observation
from router.contract import (
    DECISION_CONTEXT_KEY,
    RETRY_WINDOW_CONTEXT_KEY,
    ErrorKind,
    OperationError,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    RouteDecision,
    Timings,
    parse_handle,
)
from router.errors import RunnerUnavailable, UnknownHandle
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
from router.shadow import ShadowExecutor, ShadowRecord, ShadowTicket

__all__ = [
    "DECISION_CONTEXT_KEY",
    "DurablePathRunner",
    "FallbackPolicy",
    "FlagSource",
    "PathRunner",
    "RecordSink",
    "RoutingRunner",
]

log = logging.getLogger(__name__)


class FallbackPolicy(StrEnum):
    """What to do when the durable path could not take an operation that it certainly did not start."""

    LEGACY = "legacy"
    FAIL = "fail"


class FlagSource(Protocol):
    """The flags the router reads: in memory, never raising (`flags.FlagClient` satisfies it)."""

    def decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = ...) -> DecisionView: ...


class PathRunner(Protocol):
    """One path: a CloudOperationRunner that can also plan an operation in dry run (never mutating)."""

    def run(self, request: OperationRequest) -> OperationResult: ...
    async def run_async(self, request: OperationRequest) -> OperationResult: ...
    def start(self, request: OperationRequest) -> str: ...
    def poll(self, handle: str) -> OperationStatus: ...
    async def dry_run_async(self, request: OperationRequest) -> OperationResult: ...


class DurablePathRunner(PathRunner, Protocol):
    """The durable path also says whether it ever started an operation (its workflow id derives from the id)."""

    def has_started(self, operation_id: str) -> bool: ...


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
        self._started: dict[str, _Started] = {}
        self._lock = threading.Lock()
        self._resources = tuple(resources)

    def close(self) -> None:
        """Release what this router owns: shadow threads, record buffers (flushed), clients, engines."""
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

    def run(self, request: OperationRequest) -> OperationResult:
        started_at = time.time()
        chosen = self._route(request)
        ticket = self._begin_shadow(request, chosen)
        try:
            result, fallback = self._run_primary(request, chosen)
        except BaseException:
            if ticket:
                ticket.abandon()
            raise
        return self._finish(_Started(request, chosen, ticket, started_at, fallback), result)

    async def run_async(self, request: OperationRequest) -> OperationResult:
        started_at = time.time()
        chosen = await asyncio.to_thread(self._route, request)
        ticket = self._begin_shadow(request, chosen)
        try:
            result, fallback = await self._run_primary_async(request, chosen)
        except BaseException:
            if ticket:
                ticket.abandon()
            raise
        return self._finish(_Started(request, chosen, ticket, started_at, fallback), result)

    def start(self, request: OperationRequest) -> str:
        started_at = time.time()
        chosen = self._route(request)
        ticket = self._begin_shadow(request, chosen)
        try:
            handle, fallback = self._start_primary(request, chosen)
        except BaseException:
            if ticket:
                ticket.abandon()
            raise
        with self._lock:
            self._started[handle] = _Started(request, chosen, ticket, started_at, fallback)
        return handle

    def poll(self, handle: str) -> OperationStatus:
        try:
            path, _ = parse_handle(handle)
        except ValueError as exc:
            raise UnknownHandle(str(exc)) from None
        status = self._runners[path].poll(handle)
        if status.state is OperationState.RUNNING or status.result is None:
            return status
        with self._lock:
            started = self._started.pop(handle, None)
        if started is None:  # started by another router process: report it, nothing of ours to finish
            return status
        return replace(status, result=self._finish(started, status.result))

    # -- routing ------------------------------------------------------------------------------------------------

    def decide(self, request: OperationRequest) -> Route:
        """The route this router would choose for `request` now (no side effects): for `op run --explain`."""
        return self._route(request)

    def _route(self, request: OperationRequest) -> Route:
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
        basis = "kill_switch" if decision.kill_switch else "default" if decision.default_used else "matched"
        if chosen.decision.reason.startswith("owned by"):
            basis = "owned"
        if unknown_owner is not None:
            basis = "ownership_unavailable"
            reason = f"{unknown_owner}; the flags said: {decision.reason}"
            chosen = replace(chosen, decision=replace(chosen.decision, reason=reason))
        self.metrics.decisions.labels(chosen.decision.stage, chosen.primary.value, basis).inc()
        return chosen

    def _current_owner(self, operation_id: str) -> tuple[Path | None, str | None]:
        """The recorded owner, or, when the store cannot say, the safe path and why it was chosen."""
        try:
            found = self._owners.owner(operation_id)
            return (found.path if found else None), None
        except sa.exc.SQLAlchemyError:
            # Without the ownership store, the durable path itself says whether it ever started this operation
            # (its workflow id derives from the operation id); if not, legacy is safe: a legacy retry dedupes.
            self.metrics.internal_errors.labels("ownership_store").inc()
            log.warning("ownership store unavailable; asking the durable path about %s", operation_id)
            if self._durable.has_started(operation_id):
                return Path.DURABLE, "ownership store unavailable: the durable path has this operation's workflow"
            return Path.LEGACY, "ownership store unavailable and no workflow exists: legacy, where a retry dedupes"

    def _claim(self, request: OperationRequest, chosen: Route) -> Path:
        try:
            return self._owners.claim(request.operation_id, chosen.primary, chosen.decision.reason).path
        except sa.exc.SQLAlchemyError:
            self.metrics.internal_errors.labels("ownership_store").inc()
            return chosen.primary

    def _with_decision(self, request: OperationRequest, decision: RouteDecision) -> OperationRequest:
        """The request with its decision, and the flag-set retry window, in its context (rule 5: decided outside)."""
        context = {**request.context, DECISION_CONTEXT_KEY: decision.to_json()}
        window = self._flags.decide(RETRY_WINDOW_KEY, request.dimensions(), {"operation_id": request.operation_id})
        if not window.default_used and isinstance(window.value, int) and not isinstance(window.value, bool):
            context[RETRY_WINDOW_CONTEXT_KEY] = window.value
        return replace(request, context=context)

    # -- the authoritative call ---------------------------------------------------------------------------------

    def _run_primary(self, request: OperationRequest, chosen: Route) -> tuple[OperationResult, bool]:
        path = self._claim(request, chosen)
        routed = self._with_decision(request, replace(chosen.decision, path=path))
        try:
            return self._runners[path].run(routed), False
        except RunnerUnavailable as exc:
            if self._may_fall_back(request, chosen, path, exc):
                return self._runners[Path.LEGACY].run(routed), True
            return _unavailable(request, path, exc), False

    async def _run_primary_async(self, request: OperationRequest, chosen: Route) -> tuple[OperationResult, bool]:
        path = await asyncio.to_thread(self._claim, request, chosen)
        routed = self._with_decision(request, replace(chosen.decision, path=path))
        try:
            return await self._runners[path].run_async(routed), False
        except RunnerUnavailable as exc:
            if await asyncio.to_thread(self._may_fall_back, request, chosen, path, exc):
                return await self._runners[Path.LEGACY].run_async(routed), True
            return _unavailable(request, path, exc), False

    def _start_primary(self, request: OperationRequest, chosen: Route) -> tuple[str, bool]:
        path = self._claim(request, chosen)
        routed = self._with_decision(request, replace(chosen.decision, path=path))
        try:
            return self._runners[path].start(routed), False
        except RunnerUnavailable as exc:
            if self._may_fall_back(request, chosen, path, exc):
                return self._runners[Path.LEGACY].start(routed), True
            raise

    def _may_fall_back(self, request: OperationRequest, chosen: Route, path: Path, exc: RunnerUnavailable) -> bool:
        """Rule 4: only from durable, only when the workflow was certainly not started, only if configured.

        "Certainly not started" speaks for this call only; an earlier attempt that owned the operation on the
        durable path may have started it, so only an operation's first attempt may fall back.
        """
        if path is not Path.DURABLE or exc.may_have_started or self._fallback is FallbackPolicy.FAIL:
            return False
        if chosen.owner is not None:
            return False
        reason = f"durable path unavailable before start: {exc.message}"
        try:
            moved = self._owners.reassign(request.operation_id, Path.DURABLE, Path.LEGACY, reason)
        except sa.exc.SQLAlchemyError:
            moved = True  # nothing recorded durable as the owner durably; the workflow certainly does not exist
        if moved:
            self.metrics.fallbacks.labels(request.operation).inc()
            log.warning("operation %s falls back to legacy: %s", request.operation_id, exc.message)
        return moved

    # -- shadows and records ------------------------------------------------------------------------------------

    def _begin_shadow(self, request: OperationRequest, chosen: Route) -> ShadowTicket | None:
        if chosen.shadow is None:
            return None
        try:
            shadowed = self._with_decision(request, chosen.decision)
            return self._shadows.begin(shadowed, chosen.shadow, self._runners[chosen.shadow])
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


def _unavailable(request: OperationRequest, path: Path, exc: RunnerUnavailable) -> OperationResult:
    hint = "" if path is Path.LEGACY else " (not falling back: the workflow may have started, or fallback is off)"
    return OperationResult(
        status=ResultStatus.FAILED,
        path=path,
        operation_id=request.operation_id,
        errors=(OperationError(ErrorKind.INFRASTRUCTURE, f"{path.value} path unavailable: {exc.message}{hint}"),),
    )
