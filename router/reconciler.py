"""The reconciler: records the outcome of operations whose starter died (or never polled them to the end).

Every `interval_s` it lists, a page at a time, the ownership rows with no recorded outcome claimed more than
`grace_s` ago, and polls each through the router that owns it (`RoutingRunner.poll`): the durable path answers
from the workflow (its result once closed), the legacy path from the legacy task (`GET /task/{id}`). A finished
one is recorded by the same exactly-once claim as any other poll (router/claims.py), so a live starter that
polls it too records nothing twice. Polling is read-only: the reconciler never starts, resumes or re-runs an
operation, so it cannot run a mutation twice.

`due` is the pure core (which rows to ask about, and by which handle); `Reconciler` is its thin shell, a daemon
thread owned by the RoutingRunner that `build_routing_runner` makes (router/factory.py), in every process that
builds one: an orchestrator's, `cloudops op`, the gateway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from durable_runner.contract import workflow_id_for
from router.contract import OperationHandle, OperationState, OperationStatus, Path
from router.errors import RouterError, UnknownHandle
from router.metrics import RouterMetrics
from router.ownership import Ownership, OwnershipStore

__all__ = ["ReconcileSettings", "Reconciler", "due"]

log = logging.getLogger(__name__)

_MAX_SKIP = 64


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """How often to look (`interval_s`), how old an unrecorded claim must be to be asked about (`grace_s`: long
    enough that a live starter's own poll usually records it first), and how many rows one page reads."""

    interval_s: float = 60.0
    grace_s: float = 300.0
    page_size: int = 100


def due(rows: Sequence[Ownership], now: datetime, grace_s: float) -> list[OperationHandle]:
    """The handles to poll: unfinished rows older than the grace period, by the handle their path gave, or for a
    durable one that gave none, the workflow id its operation id names. A legacy row without a handle (its
    starter died before the POST answered) cannot be asked about and is left out."""
    cutoff = now - timedelta(seconds=grace_s)
    handles = []
    for row in rows:
        if row.finished_at is not None or row.claimed_at >= cutoff:
            continue
        if row.handle:
            try:
                handles.append(OperationHandle.parse(row.handle))
            except RouterError:
                continue
        elif row.path is Path.DURABLE:
            handles.append(OperationHandle(Path.DURABLE, workflow_id_for(row.operation_id)))
    return handles


class Reconciler:
    """Polls overdue operations through `poll` on a daemon thread; `run_once` is one whole pass."""

    def __init__(
        self,
        owners: OwnershipStore,
        poll: Callable[[OperationHandle], OperationStatus],
        metrics: RouterMetrics,
        forget: Callable[[OperationHandle], None] = lambda handle: None,
        settings: ReconcileSettings = ReconcileSettings(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._owners = owners
        self._poll = poll
        self._forget = forget
        self._running: set[OperationHandle] = set()  # seen running by the last whole pass
        # Handles their path does not know (a start it refused, never retried): asked again after 1, 2, 4, ...
        # passes, at most _MAX_SKIP, so such rows cost little while a retry may still finish them.
        self._unknown: dict[OperationHandle, tuple[int, int]] = {}  # handle -> (passes to skip, current backoff)
        self._metrics = metrics
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cloudops-reconciler", daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stopping.wait(self.settings.interval_s):
            try:
                self.run_once()
            except Exception:  # the store is down, say: the next pass tries again
                self._metrics.internal_errors.labels("reconciler").inc()
                log.exception("reconciler pass failed")

    def run_once(self) -> int:
        """One pass over every overdue operation; how many finished ones it handed to the recorder."""
        now = self._clock()
        cutoff = now - timedelta(seconds=self.settings.grace_s)
        after, finished = "", 0
        running: set[OperationHandle] = set()
        listed: set[OperationHandle] = set()
        while not self._stopping.is_set():
            page = self._owners.unfinished(cutoff, after=after, limit=self.settings.page_size)
            for handle in due(page, now, self.settings.grace_s):
                listed.add(handle)
                if self._stopping.is_set():
                    break
                finished += self._check(handle, running)
            if len(page) < self.settings.page_size:
                break
            after = page[-1].operation_id
        if not self._stopping.is_set():
            # Recorded elsewhere since the last pass: the path may let go of what it kept to poll them.
            for handle in self._running - running:
                self._forget(handle)
            self._running = running
            self._unknown = {h: skip for h, skip in self._unknown.items() if h in listed}
        return finished

    def _check(self, handle: OperationHandle, running: set[OperationHandle]) -> int:
        skip, backoff = self._unknown.get(handle, (0, 0))
        if skip > 0:
            self._unknown[handle] = (skip - 1, backoff)
            return 0
        try:
            status = self._poll(handle)
        except UnknownHandle:
            backoff = min(max(1, backoff * 2), _MAX_SKIP)
            self._unknown[handle] = (backoff, backoff)
            return 0
        except RouterError as exc:  # the path is down: next pass
            log.info("reconciler cannot poll %s now: %s", handle, exc.message)
            return 0
        self._unknown.pop(handle, None)
        if status.state is OperationState.RUNNING or status.result is None:
            running.add(handle)
            return 0
        self._metrics.reconciled.labels(handle.path.value).inc()
        return 1
