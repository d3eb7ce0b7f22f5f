"""Finishing an operation: the result the caller gets (decision and timings attached), the shadow's control, the
metrics, and the outcome record, for the starter and for any other process that sees the operation finish.

The starter knows its request, route and shadow ticket in memory (`Tracked`); a process that did not start the
operation (another orchestrator's poll, a restart, the reconciler) reads the same facts from the operation's
ownership row (`StartedOperation`, router/ownership.py). Either way the record goes to the buffered writer,
which records it only if no one else has (router/claims.py), so an operation has exactly one outcome row
whoever polls it. `RoutingRunner` (router/routing.py) calls `finish` and `finish_elsewhere`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Protocol

from router.compare import Observation
from router.contract import OperationHandle, OperationRequest, OperationResult, Timings
from router.errors import OwnershipUnavailable
from router.metrics import RouterMetrics
from router.ownership import Ownership, OwnershipStore
from router.policy import Route
from router.records import OutcomeRecord
from router.shadow import ShadowRecord, ShadowTicket

__all__ = ["Finisher", "RecordSink", "Tracked"]

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    def record_outcome(self, record: OutcomeRecord) -> None: ...
    def record_comparison(self, record: ShadowRecord) -> None: ...


@dataclass
class Tracked:
    """An operation this process started, as it knows it until a poll sees it finish."""

    request: OperationRequest
    route: Route
    ticket: ShadowTicket | None
    started_at: float
    fallback: bool
    dry_run: bool = False  # a dry run through the router: planned on its path, neither shadowed nor recorded
    trace: object | None = None  # the operation span's context (router.tracing), so polls continue its trace


class Finisher:
    """Turns a finished path result into the router's result and its record; never raises for a record."""

    def __init__(self, *, owners: OwnershipStore, records: RecordSink, metrics: RouterMetrics) -> None:
        self.owners = owners
        self._records = records
        self._metrics = metrics

    def finish(self, tracked: Tracked, result: OperationResult) -> OperationResult:
        """The starter's finish: its shadow ticket gets the control here, so the comparison is made in memory."""
        duration = time.time() - tracked.started_at
        decision = replace(tracked.route.decision, path=result.path)
        result = replace(result, decision=decision, timings=result.timings or Timings.since(tracked.started_at))
        if tracked.ticket:
            tracked.ticket.complete(Observation.of(result, duration))
        if tracked.dry_run:  # a plan, not an outcome: the rollout's evidence counts operations only
            return result
        self._record(OutcomeRecord(tracked.request, result, decision.stage, duration, fallback=tracked.fallback))
        return result

    def finish_elsewhere(self, handle: OperationHandle, result: OperationResult) -> OperationResult:
        """The finish of an operation another process (or an earlier life of this one) started, from its row.

        Nothing is recorded when no row names the operation with what its starter knew (claimed before migration
        0006, or its ownership lives elsewhere), or when its outcome is recorded already.
        """
        try:
            owner = self.owners.by_handle(str(handle))
            if owner is None and result.operation_id:
                owner = self.owners.owner(result.operation_id)
        except OwnershipUnavailable as exc:
            self._metrics.internal_errors.labels("ownership_store").inc()
            log.warning("cannot record the outcome behind %s now: %s", handle, exc.message)
            return result
        if owner is None or owner.started is None or owner.finished_at is not None:
            return result
        return self._finish_owned(owner, result)

    def _finish_owned(self, owner: Ownership, result: OperationResult) -> OperationResult:
        started = owner.started
        assert started is not None
        began = started.started_at.timestamp()
        # The path's own close time when it has one (a workflow's); else now, which a late poll overstates.
        ended = result.timings.finished_at if result.timings else time.time()
        ended = max(ended, began)
        decision = replace(started.decision, path=result.path)
        result = replace(
            result,
            operation_id=result.operation_id or owner.operation_id,
            decision=decision,
            timings=Timings(began, ended),
        )
        control = Observation.of(result, ended - began) if started.shadow is not None else None
        record = OutcomeRecord(started.request, result, decision.stage, ended - began, owner.fallback, control)
        self._record(record)
        return result

    def _record(self, record: OutcomeRecord) -> None:
        result = record.result
        try:
            kind = result.errors[0].kind.value if result.errors else ""
            operation = record.request.operation
            self._metrics.operations.labels(result.path.value, operation, result.status.value, kind).inc()
            self._metrics.duration.labels(result.path.value, operation).observe(record.duration_s)
            self._records.record_outcome(record)
        except Exception:
            self._metrics.internal_errors.labels("record_outcome").inc()
            log.exception("could not record the outcome of %s", record.request.operation_id)
