"""The rollout controller as a service: every running rollout ticked on an interval, by one replica at a time.

    service = RolloutService(controller, LeaseStore(engine), holder="controller-1", interval_s=30)
    service.start()          # a thread; `cloudops rollout controller` runs `run_until(stop)` in the foreground

`cloudops dev` runs it beside the console, so rollouts advance by themselves; the demo runs it in-process and
tells each move as it happens (`on_tick`). Each pass lists the running rollouts (and those whose flag write is
still pending), takes each one's lease (rollouts/leases.py) and ticks the ones it holds. A tick that fails (a busy
database, a flag store down) is logged and counted, and the next pass tries again; a pass never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flags import FlagError
from rollouts.controller import RolloutController
from rollouts.errors import RolloutError
from rollouts.leases import LeaseStore
from rollouts.model import RolloutStatus
from rollouts.tick import TickResult

__all__ = ["RolloutService"]

log = logging.getLogger(__name__)


class RolloutService:
    """Ticks every rollout it holds the lease of, every `interval_s`."""

    def __init__(
        self,
        controller: RolloutController,
        leases: LeaseStore,
        *,
        holder: str,
        interval_s: float = 30.0,
        lease_ttl_s: float | None = None,
        on_tick: Callable[[TickResult], None] = lambda result: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be above 0, got {interval_s}")
        self.controller = controller
        self.leases = leases
        self.holder = holder
        self.interval_s = interval_s
        # A lease outlives a few missed passes, so a slow pass never hands a rollout to another replica mid-tick.
        self.lease_ttl_s = lease_ttl_s if lease_ttl_s is not None else 3 * interval_s
        self._on_tick = on_tick
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self.errors = 0

    def tick_due(self) -> list[TickResult]:
        """One pass: tick every running (or flag-pending) rollout whose lease this replica holds."""
        results: list[TickResult] = []
        try:
            due = self.controller.list((RolloutStatus.RUNNING,), limit=1000)
            due += [r for r in self.controller.list(limit=1000) if not r.flag_synced and not r.status.active]
        except (RolloutError, FlagError) as exc:
            self.errors += 1
            log.warning("rollout controller %s: cannot list rollouts: %s", self.holder, exc)
            return results
        for rollout in due:
            try:
                if not self.leases.acquire(rollout.id, self.holder, self._clock(), self.lease_ttl_s):
                    continue
                result = self.controller.tick(rollout.id)
            except (RolloutError, FlagError) as exc:  # the next pass tries again
                self.errors += 1
                log.warning("rollout controller %s: tick of %s failed: %s", self.holder, rollout.id, exc)
                continue
            results.append(result)
            self._on_tick(result)
        self.passes += 1
        return results

    def run_until(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set, then give back the leases this replica holds."""
        while not stop.is_set():
            self.tick_due()
            stop.wait(self.interval_s)
        self._release_all()

    def start(self) -> None:
        """Run in a daemon thread until `close()`."""
        self._thread = threading.Thread(
            target=self.run_until, args=(self._stop,), name=f"rollouts-{self.holder}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=30)

    def _release_all(self) -> None:
        try:
            for rollout in self.controller.list((RolloutStatus.RUNNING, RolloutStatus.PAUSED), limit=1000):
                self.leases.release(rollout.id, self.holder)
        except (RolloutError, FlagError):
            pass  # the leases lapse after their ttl
