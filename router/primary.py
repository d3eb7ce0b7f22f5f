"""The authoritative call of a RoutingRunner, on the path its claim gave (rule 2, claimed in router/routing.py):
give the path its options (the decision, rule 5, and the retry window), run or start it there, and fall back to
legacy only when the durable workflow was certainly not started (rule 4). The handle a path gives is kept with
the claim, so a process that did not start the operation can poll it and record its outcome
(router/finishing.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol, runtime_checkable

from flags import RETRY_WINDOW_KEY
from router.contract import (
    ErrorKind,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    Path,
    PathRunner,
    ResultStatus,
    RouteDecision,
    RunOptions,
)
from router.errors import OwnershipUnavailable, RunnerUnavailable
from router.metrics import RouterMetrics
from router.ownership import OwnershipStore
from router.policy import DecisionView, Route
from router.routing_values import FallbackPolicy

__all__ = ["FlagSource", "PrimaryCall"]

log = logging.getLogger(__name__)


class FlagSource(Protocol):
    """The flags the router reads: in memory, never raising (`flags.FlagClient` satisfies it)."""

    def decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = ...) -> DecisionView: ...


@runtime_checkable
class _Waits(Protocol):
    """A path that can wait for a handle it gave (LegacyRunner.result): the router keeps the handle first."""

    def result(self, handle: OperationHandle) -> OperationResult: ...
    async def result_async(self, handle: OperationHandle) -> OperationResult: ...


class PrimaryCall:
    """Runs an operation on its authoritative path for a RoutingRunner; see the module docstring."""

    def __init__(
        self,
        *,
        runners: Mapping[Path, PathRunner],
        flags: FlagSource,
        owners: OwnershipStore,
        metrics: RouterMetrics,
        fallback: FallbackPolicy,
    ) -> None:
        self._runners = runners
        self._flags = flags
        self._owners = owners
        self._metrics = metrics
        self._fallback = fallback

    def options(self, request: OperationRequest, decision: RouteDecision, options: RunOptions) -> RunOptions:
        """What the path gets: the decision (rule 5: decided outside the workflow) and the retry window, the
        caller's or else the one flags set for the scope."""
        window = options.retry_window_seconds
        if window is None:
            found = self._flags.decide(RETRY_WINDOW_KEY, request.dimensions(), {"operation_id": request.operation_id})
            value = found.value
            if not found.default_used and isinstance(value, int) and not isinstance(value, bool) and value > 0:
                window = value
        return RunOptions(dry_run=options.dry_run, decision=decision, retry_window_seconds=window)

    def run(
        self, request: OperationRequest, chosen: Route, options: RunOptions, path: Path
    ) -> tuple[OperationResult, bool]:
        """Run on `path` (what the claim gave), falling back as rule 4 allows; the result and whether it fell back."""
        routed = self.options(request, replace(chosen.decision, path=path), options)
        try:
            return self._run_on(path, request, routed), False
        except RunnerUnavailable as exc:
            if self._may_fall_back(request, chosen, path, exc, options):
                return self._run_on(Path.LEGACY, request, routed), True
            return _unavailable(request, path, exc), False

    async def run_async(
        self, request: OperationRequest, chosen: Route, options: RunOptions, path: Path
    ) -> tuple[OperationResult, bool]:
        routed = self.options(request, replace(chosen.decision, path=path), options)
        try:
            return await self._run_on_async(path, request, routed), False
        except RunnerUnavailable as exc:
            if await asyncio.to_thread(self._may_fall_back, request, chosen, path, exc, options):
                return await self._run_on_async(Path.LEGACY, request, routed), True
            return _unavailable(request, path, exc), False

    def start(
        self, request: OperationRequest, chosen: Route, options: RunOptions, path: Path
    ) -> tuple[OperationHandle, bool]:
        routed = self.options(request, replace(chosen.decision, path=path), options)
        try:
            handle, fallback = self._runners[path].start(request, routed), False
        except RunnerUnavailable as exc:
            if not self._may_fall_back(request, chosen, path, exc, options):
                raise
            handle, fallback = self._runners[Path.LEGACY].start(request, routed), True
        if not options.dry_run:
            self._note_handle(request, handle)
        return handle, fallback

    def _run_on(self, path: Path, request: OperationRequest, routed: RunOptions) -> OperationResult:
        """Run on `path`. The legacy task id is known only once the POST has answered, so the router starts it,
        keeps the handle for any process that finishes it, then waits; the durable handle derives from the
        operation id, so the durable path simply runs (its result arrives by push)."""
        runner = self._runners[path]
        if path is Path.DURABLE or routed.dry_run or not isinstance(runner, _Waits):
            return runner.run(request, routed)
        handle = runner.start(request, routed)
        self._note_handle(request, handle)
        return runner.result(handle)

    async def _run_on_async(self, path: Path, request: OperationRequest, routed: RunOptions) -> OperationResult:
        runner = self._runners[path]
        if path is Path.DURABLE or routed.dry_run or not isinstance(runner, _Waits):
            return await runner.run_async(request, routed)
        handle = await asyncio.to_thread(runner.start, request, routed)
        await asyncio.to_thread(self._note_handle, request, handle)
        return await runner.result_async(handle)

    def _note_handle(self, request: OperationRequest, handle: OperationHandle) -> None:
        try:
            self._owners.note_handle(request.operation_id, str(handle))
        except OwnershipUnavailable:
            # Without the handle another process cannot poll a legacy task; the starter still records it.
            self._metrics.internal_errors.labels("ownership_store").inc()

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
            self._metrics.fallbacks.labels(request.operation).inc()
            log.warning("operation %s falls back to legacy: %s", request.operation_id, exc.message)
        return moved


def _unavailable(request: OperationRequest, path: Path, exc: RunnerUnavailable) -> OperationResult:
    hint = "" if path is Path.LEGACY else " (not falling back: the workflow may have started, or fallback is off)"
    return OperationResult(
        status=ResultStatus.FAILED,
        path=path,
        operation_id=request.operation_id,
        errors=(OperationError(ErrorKind.INFRASTRUCTURE, f"{path.value} path unavailable: {exc.message}{hint}"),),
    )
