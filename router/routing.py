"""RoutingRunner: the drop-in CloudOperationRunner that lets flags choose the path of every operation.

For each operation: decide (flags, in memory) -> claim it for the path the flags give, or find the owner an
earlier attempt left (rule 2), keeping with the claim what a finisher needs -> run the authoritative path and
return its result unchanged, with the decision attached -> shadow the other path in dry run when the stage and
the sample say so -> record the outcome and the comparison off the caller's path, exactly once, whichever
process sees the operation finish (router/finishing.py). The routing table itself is `router.policy.route`; the
reconciler that finishes operations whose starter died is router/reconciler.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from flags import SHADOW_SAMPLE_KEY, STAGE_KEY
from router.contract import (
    DEFAULT_OPTIONS,
    DurablePathRunner,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    PathRunner,
    RunOptions,
)
from router.errors import OwnershipUnavailable
from router.finishing import Finisher, RecordSink, Tracked
from router.metrics import RouterMetrics
from router.ownership import OwnershipStore, StartedOperation
from router.policy import (
    DEFAULT_SHADOW_SAMPLE_PERCENT,
    DecisionView,
    Route,
    route,
    sample_bucket,
    shadow_sample_percent,
)
from router.primary import FlagSource, PrimaryCall
from router.reconciler import Reconciler, ReconcileSettings
from router.routing_values import FallbackPolicy, RouteBasis
from router.shadow import ShadowExecutor, ShadowTicket
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
        self._shadows = shadows
        self.metrics = metrics
        self._default_sample = default_shadow_sample_percent
        self._started: dict[OperationHandle, Tracked] = {}
        self._lock = threading.Lock()
        self._resources = tuple(resources)
        self._finisher = Finisher(owners=owners, records=records, metrics=metrics)
        self._primary = PrimaryCall(
            runners=self._runners, flags=flags, owners=owners, metrics=metrics, fallback=fallback
        )
        self._reconciler: Reconciler | None = None

    def start_reconciler(self, settings: ReconcileSettings) -> Reconciler:
        """Run the reconciler on a daemon thread of this router (stopped by `close()`): it polls, through this
        router, the operations whose outcome nobody recorded within `settings.grace_s`."""
        if self._reconciler is None:
            self._reconciler = Reconciler(self._owners, self.poll, self.metrics, settings=settings, forget=self._forget)
            self._reconciler.start()
        return self._reconciler

    def close(self) -> None:
        """Release what this router owns: shadow threads, record buffers (flushed), clients, engines.

        Shadows of operations started here but never polled to the end are abandoned first: their authoritative
        side will not be observed by this router any more; a shadow that finishes now keeps its half for whoever
        does observe it (router/claims.py)."""
        if self._reconciler is not None:
            self._reconciler.close()
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

    def _forget(self, handle: OperationHandle) -> None:
        """Let the path drop what it keeps to poll a handle this router does not track (LegacyRunner.forget)."""
        with self._lock:
            if handle in self._started:
                return
        forget = getattr(self._runners[handle.path], "forget", None)
        if callable(forget):
            forget(handle)

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
            chosen, path = self._claimed_route(request, options)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                result, fallback = self._primary.run(request, chosen, options, path)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
            tracked = Tracked(request, chosen, ticket, started_at, fallback, options.dry_run)
            return self._finisher.finish(tracked, result)

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        started_at = time.time()
        _refuse_decision(options)
        with operation_span(request, "run") as span:
            chosen, path = await asyncio.to_thread(self._claimed_route, request, options)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                result, fallback = await self._primary.run_async(request, chosen, options, path)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
            tracked = Tracked(request, chosen, ticket, started_at, fallback, options.dry_run)
            return self._finisher.finish(tracked, result)

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        started_at = time.time()
        _refuse_decision(options)
        with operation_span(request, "start") as span:
            chosen, path = self._claimed_route(request, options)
            span.decided(chosen, self._provider_name())
            ticket = None if options.dry_run else self._begin_shadow(request, chosen, options)
            try:
                handle, fallback = self._primary.start(request, chosen, options, path)
            except BaseException:
                if ticket:
                    ticket.abandon()
                raise
        with self._lock:
            tracked = self._started.setdefault(
                handle, Tracked(request, chosen, ticket, started_at, fallback, options.dry_run, span.context())
            )
        if tracked.ticket is not ticket and ticket:  # a repeated start of an operation already tracked
            ticket.abandon()
        return handle

    def poll(self, handle: OperationHandle) -> OperationStatus:
        """The path's status; once finished, with the decision attached and the outcome recorded (exactly once,
        whoever polls: an operation started by another process is finished from its ownership row)."""
        with self._lock:
            known = self._started.get(handle)
        with resumed(known.trace if known else None, "cloudops.poll", {"cloudops.handle": str(handle)}):
            status = self._runners[handle.path].poll(handle)
        if status.state is OperationState.RUNNING or status.result is None:
            return status
        with self._lock:
            tracked = self._started.pop(handle, None)
        if tracked is None:  # started by another process, or before a restart of this one
            return replace(status, result=self._finisher.finish_elsewhere(handle, status.result))
        return replace(status, result=self._finisher.finish(tracked, status.result))

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
        """The route from the flags and the recorded owner, read first (a dry run, `decide`)."""
        flagged = self._flagged(request)
        try:
            found = self._owners.owner(request.operation_id)
            chosen = flagged.routed(found.path if found else None)
        except OwnershipUnavailable:
            chosen = self._unknown_owner(request, flagged)
        return self._counted(chosen) if count else chosen

    def _claimed_route(self, request: OperationRequest, options: RunOptions) -> tuple[Route, Path]:
        """The route of a call and the path it runs on. A real operation is claimed first, for the path the flags
        give: one statement that either makes the claim or finds the owner an earlier attempt left (rule 2), where
        reading the owner and then claiming took two transactions on the caller's path. A found owner is routed on
        exactly as a read one was. A dry run claims nothing: it reads the owner."""
        if options.dry_run:
            chosen = self._route(request)
            return chosen, chosen.primary
        flagged = self._flagged(request)
        fresh = flagged.routed(None)
        try:
            claim = self._owners.claim(
                request.operation_id, fresh.primary, fresh.decision.reason, _start_of(request, fresh)
            )
        except OwnershipUnavailable:
            chosen = self._unknown_owner(request, flagged)
            return self._counted(chosen), chosen.primary
        return self._counted(fresh if claim.won else flagged.routed(claim.path)), claim.path

    def _flagged(self, request: OperationRequest) -> _Flagged:
        dims = request.dimensions()
        attrs = {"operation_id": request.operation_id, "execution_id": request.execution_id or ""}
        decision = self._flags.decide(STAGE_KEY, dims, attrs)
        sample = self._flags.decide(SHADOW_SAMPLE_KEY, dims, attrs)
        return _Flagged(decision, shadow_sample_percent(sample, self._default_sample), request.operation_id)

    def _counted(self, chosen: Route) -> Route:
        self.metrics.decisions.labels(chosen.decision.stage, chosen.primary.value, chosen.basis.value).inc()
        return chosen

    def _unknown_owner(self, request: OperationRequest, flagged: _Flagged) -> Route:
        """The route when the ownership store cannot say who owns the operation: the durable path itself says
        whether it ever started it (its workflow id derives from the operation id); if not, legacy is safe, where
        a retry dedupes."""
        self.metrics.internal_errors.labels("ownership_store").inc()
        log.warning("ownership store unavailable; asking the durable path about %s", request.operation_id)
        if self._durable.has_started(request.operation_id):
            owner, why = Path.DURABLE, ": the durable path has this operation's workflow"
        else:
            owner, why = Path.LEGACY, " and no workflow exists: legacy, where a retry dedupes"
        said = f"ownership store unavailable{why}; the flags said: {flagged.decision.reason}"
        chosen = flagged.routed(owner)
        decided = replace(chosen.decision, reason=said)
        return replace(chosen, decision=decided, basis=RouteBasis.OWNERSHIP_UNAVAILABLE)

    # -- shadows and records ------------------------------------------------------------------------------------

    def _begin_shadow(self, request: OperationRequest, chosen: Route, options: RunOptions) -> ShadowTicket | None:
        if chosen.shadow is None:
            return None
        try:
            shadowed = self._primary.options(request, chosen.decision, options)
            return self._shadows.begin(request, chosen.shadow, self._runners[chosen.shadow], shadowed)
        except Exception:
            self.metrics.internal_errors.labels("shadow_begin").inc()
            log.exception("could not start a shadow for %s", request.operation_id)
            return None


@dataclass(frozen=True, slots=True)
class _Flagged:
    """What the flags say of one operation, routed once its owner is known (or known to be none)."""

    decision: DecisionView
    sample_percent: float
    operation_id: str

    def routed(self, owner: Path | None) -> Route:
        bucket = sample_bucket(self.operation_id)
        return route(self.decision, shadow_sample_percent=self.sample_percent, shadow_bucket=bucket, owner=owner)


def _start_of(request: OperationRequest, chosen: Route) -> StartedOperation:
    """What the claim keeps for a finisher in another process (the context stays out: outcomes never keep it).

    The claim comes before the shadow begins, so that the shadow's half always finds the row; it names the
    shadow the route asks for (one skipped at the cap or by the breaker then leaves a control half unpaired)."""
    bare = replace(request, context={})
    return StartedOperation(bare, chosen.decision, datetime.now(UTC), chosen.shadow)


def _refuse_decision(options: RunOptions) -> None:
    """The router decides; a decision passed in would be overruled silently, so it is refused."""
    if options.decision is not None:
        raise ValueError("RoutingRunner makes the routing decision itself: run it without RunOptions.decision")
