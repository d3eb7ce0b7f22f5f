"""The gateway's driver: a background loop that moves every unfinished gateway task on, one operation at a time.

Each tick it takes (or renews) the lease of the unfinished tasks nobody else holds, and for each one: starts the
operation in progress through the RoutingRunner (`start`; its handle is stored in its string form), or checks on
it (`poll`), and once it
has finished records its final view and moves on to the next operation, which starts with the results of those
before it in its context (`cloudops.priorResults`). A list stops at its first failure.

Nothing here is needed to answer a request, and nothing is lost with the process: a restarted gateway (or another
one) takes the lease when it lapses and continues from the database. Two rules keep a restart safe:

- an operation whose path already owns it (`operation_owners`) is never started afresh when it is durable: its
  workflow id derives from its operation id, so the driver polls `durable:cloudop-<id>` instead, and only
  starts it when Temporal says no such workflow exists (a re-start could otherwise fall back to legacy while
  Temporal is unreachable, running the operation twice);
- a legacy operation is never started again: its handle is in the database, and a retryable task waits for
  the caller's `:resume`, as Clouddriver's does.

Whichever gateway process polls an operation to its end records its outcome, once (the router finishes an
operation another process started from its ownership row: router/finishing.py), and the router's reconciler,
running inside every gateway, records those no gateway polls any more (router/reconciler.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

import sqlalchemy as sa

from durable_runner.contract import workflow_id_for
from gateway.model import PRIOR_RESULTS_KEY, GatewayTask, OpRecord, OpState, OpView
from gateway.sources import LegacyTasks, ProgressSource
from gateway.store import GatewayStore
from gateway.task_json import (
    durable_view,
    legacy_state,
    legacy_view,
    prior_results,
    result_view,
    unstarted_view,
)
from router.contract import (
    CloudOperationRunner,
    ErrorKind,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationStatus,
    Path,
)
from router.errors import OwnershipUnavailable, RouterError, UnknownHandle
from router.ownership import OwnershipStore
from router.tracing import resumed

__all__ = ["Driver", "DriverSettings"]

log = logging.getLogger(__name__)

_MAX_TRACES = 10_000  # submitting traces kept for tasks not started yet; the oldest go first


@dataclass(frozen=True, slots=True)
class DriverSettings:
    """`tick_s` between rounds; `lease_s` how long a silent process keeps its tasks; `start_timeout_s` how long an
    operation no path will take is retried before it fails; `legacy_poll_interval_s` the pace of polls of a legacy
    task that cannot be read (the consecutive-404 count then advances once per interval, as Orca's does)."""

    tick_s: float = 1.0
    lease_s: float = 15.0
    start_timeout_s: float = 300.0
    legacy_poll_interval_s: float = 5.0
    workers: int = 8


class Driver:
    """Drives gateway tasks; `start()` runs it on a thread, `run_once()` runs one round on the caller's."""

    def __init__(
        self,
        *,
        store: GatewayStore,
        runner: CloudOperationRunner,
        owners: OwnershipStore,
        legacy: LegacyTasks,
        progress: ProgressSource,
        owner_id: str,
        settings: DriverSettings = DriverSettings(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.owner_id = owner_id
        self.settings = settings
        self._store = store
        self._runner = runner
        self._owners = owners
        self._legacy = legacy
        self._progress = progress
        self._clock = clock
        self._next_poll: dict[str, float] = {}
        # The submitting request's trace per task, so the operations this driver starts later, on its pool,
        # continue it (in this process: a task another gateway took over starts a trace of its own).
        self._traces: OrderedDict[str, object] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="gateway-driver")

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="gateway-driver", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the round in progress, stop, and release this process's leases so another takes over at once."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            self._store.release(self.owner_id)
        except sa.exc.SQLAlchemyError:
            log.warning("could not release the gateway's leases; they lapse in %ss", self.settings.lease_s)

    def wake(self) -> None:
        """Run the next round now (a task was submitted or resumed)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once(block=False)
            except Exception:  # the database is down, say: keep going, the next round tries again
                log.exception("gateway driver round failed")
            self._wake.wait(self.settings.tick_s)
            self._wake.clear()

    # -- rounds -------------------------------------------------------------------------------------------------

    def run_once(self, block: bool = True) -> list[str]:
        """One round: lease the unfinished tasks and move each on as far as it can go now; their ids.

        Each task moves on in the pool, on its own: a slow answer about one (a query waiting on a busy worker)
        never holds the others back. `block` waits for this round's tasks (tests); the loop does not, and skips a
        task whose previous move is still under way.
        """
        task_ids = self._store.claim(self.owner_id, self.settings.lease_s)
        futures = []
        for task_id in task_ids:
            with self._lock:
                if task_id in self._in_flight:
                    continue
                self._in_flight.add(task_id)
            futures.append(self._pool.submit(self._advance_safely, task_id))
        if block:
            wait(futures)
        return task_ids

    def _advance_safely(self, task_id: str) -> None:
        try:
            self.advance(task_id)
        except Exception:
            log.exception("could not move gateway task %s on; trying again next round", task_id)
        finally:
            with self._lock:
                self._in_flight.discard(task_id)

    def advance(self, task_id: str) -> None:
        """Move one task on: its operations in order, as long as each one finishes at once."""
        while not self._stopping.is_set():
            task = self._store.get(task_id)
            if task is None or task.owner_id != self.owner_id or task.current is None:
                return
            op = task.current
            view = self._step(task, op)
            if view is None or not self._store.finish_op(task.id, op.spec.position, view, self.owner_id):
                return
            if op.handle:
                with self._lock:
                    self._next_poll.pop(op.handle, None)
            if view.state is OpState.FAILED:
                return

    def _step(self, task: GatewayTask, op: OpRecord) -> OpView | None:
        """The operation's final view once it has finished; None while it has not (or cannot be started yet)."""
        if op.handle is None:
            started = self._start(task, op)
            if not isinstance(started, str):
                return started
            op = replace(op, handle=started, state=OpState.RUNNING)
        if op.path is Path.DURABLE:
            return self._check_durable(op)
        return self._check_legacy(task, op)

    # -- start --------------------------------------------------------------------------------------------------

    def request(self, task: GatewayTask, op: OpRecord) -> OperationRequest:
        """The router's request for an operation: its own context, plus the results of those before it."""
        context = dict(op.spec.context)
        if op.spec.position:
            earlier = (o.view for o in task.ops[: op.spec.position] if o.view is not None)
            context[PRIOR_RESULTS_KEY] = prior_results(earlier)
        return OperationRequest(
            operation_id=op.spec.operation_id,
            operation=op.spec.name,
            stage_type=op.spec.stage_type,
            account=op.spec.account,
            application=op.spec.application,
            provider=op.spec.provider,
            context=context,
            execution_id=task.execution_id,
        )

    def remember_trace(self, task_id: str, context: object | None) -> None:
        """Continue the trace `context` (the submitting request's) when this task's operations start."""
        if context is None:
            return
        with self._lock:
            self._traces[task_id] = context
            while len(self._traces) > _MAX_TRACES:
                self._traces.popitem(last=False)

    def _start(self, task: GatewayTask, op: OpRecord) -> str | OpView | None:
        """A handle; or the failed view once the start deadline has passed; or None to try again next round."""
        first_attempt = self._store.note_attempt(task.id, op.spec.position)
        with self._lock:
            submitted = self._traces.get(task.id)
        try:
            with resumed(submitted, "cloudops.gateway.start", {"cloudops.gateway.task_id": task.id}):
                handle = self._existing_durable(op) or str(self._runner.start(self.request(task, op)))
        except Exception as exc:
            why = exc.message if isinstance(exc, RouterError) else f"{type(exc).__name__}: {exc}"
            if self._clock() - first_attempt < self.settings.start_timeout_s:
                log.warning("could not start %s yet: %s", op.spec.operation_id, why)
                return None
            message = f"no path took the operation within {self.settings.start_timeout_s:g}s: {why}"
            return unstarted_view(op.spec, OperationError(ErrorKind.INFRASTRUCTURE, message, "RunnerUnavailable"))
        self._store.set_handle(task.id, op.spec.position, handle)
        return handle

    def _existing_durable(self, op: OpRecord) -> str | None:
        """The durable handle of an operation an earlier attempt started on the durable path, if it exists.

        Raises what the poll raises when Temporal cannot say (so the start waits rather than risk a fallback).
        """
        try:
            owner = self._owners.owner(op.spec.operation_id)
        except OwnershipUnavailable:
            owner = None  # the router itself then asks Temporal whether the workflow exists before falling back
        if owner is None or owner.path is not Path.DURABLE:
            return None
        handle = OperationHandle(Path.DURABLE, workflow_id_for(op.spec.operation_id))
        try:
            self._runner.poll(handle)
        except UnknownHandle:
            return None  # certainly never started: a fresh start is safe
        return str(handle)

    # -- checks -------------------------------------------------------------------------------------------------

    def _check_durable(self, op: OpRecord) -> OpView | None:
        assert op.handle is not None and op.run_id is not None
        try:
            status = self._runner.poll(OperationHandle.parse(op.handle))
        except UnknownHandle as exc:
            error = OperationError(ErrorKind.INFRASTRUCTURE, f"the workflow is gone: {exc.message}", "WorkflowNotFound")
            return unstarted_view(op.spec, error)
        except RouterError as exc:
            log.info("cannot poll %s yet: %s", op.handle, exc.message)
            return None
        if status.result is None:
            return None
        return durable_view(op.spec, op.handle, self._progress.progress(op.run_id), status.result)

    def _check_legacy(self, task: GatewayTask, op: OpRecord) -> OpView | None:
        assert op.handle is not None and op.run_id is not None
        read = self._legacy.read(op.run_id)
        if read.task is not None:
            state = legacy_state(read.task)
            if state is OpState.RETRYABLE:
                if op.state is not OpState.RETRYABLE:
                    self._store.mark(task.id, op.spec.position, OpState.RETRYABLE)
                return None  # the caller decides: `:resume`, as Orca does for Clouddriver
            if op.state is OpState.RETRYABLE:
                self._store.mark(task.id, op.spec.position, OpState.RUNNING)
            if state is OpState.RUNNING:
                return None
        elif not self._due(op.handle):
            return None
        try:
            status = self._runner.poll(OperationHandle.parse(op.handle))
        except RouterError as exc:
            log.info("cannot poll %s yet: %s", op.handle, exc.message)
            return None
        if status.result is None:
            return None
        final = read.task if read.task is not None else self._legacy.read(op.run_id).task
        if final is not None and legacy_state(final).finished:
            return legacy_view(op.spec, op.handle, final, _state_of(status))
        return result_view(op.spec, op.handle, status.result)

    def _due(self, handle: str) -> bool:
        """Whether an unreadable legacy task's handle may be polled now (once per legacy poll interval)."""
        now = self._clock()
        with self._lock:
            if now < self._next_poll.get(handle, 0.0):
                return False
            self._next_poll[handle] = now + self.settings.legacy_poll_interval_s
        return True


def _state_of(status: OperationStatus) -> OpState:
    return OpState.SUCCEEDED if status.result is not None and status.result.succeeded else OpState.FAILED
