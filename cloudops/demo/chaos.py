"""Killing the durable worker now and then, as a crash or an OOM kill would, while the workload runs.

Every `every_s` seconds the worker gets SIGKILL (no graceful shutdown) and is started again after `down_s`, until
`until()` says the workload is nearly done (a kill then would only delay its last operations).
Temporal retries the activities it was running once their heartbeat timeout passes, and the new process resumes
its workflows from their histories; the demo's numbers show what that costs (latency) and what it does not
(failures).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["WorkerChaos", "WorkerRestarter"]

log = logging.getLogger(__name__)


class WorkerRestarter(Protocol):
    """`cloudops.devstack.EmbeddedStack` satisfies it."""

    def restart_worker(self, down_s: float = 0.0) -> float: ...


class WorkerChaos:
    """A thread that restarts the worker the hard way every `every_s` seconds until `stop()`."""

    def __init__(
        self,
        stack: WorkerRestarter,
        *,
        every_s: float,
        down_s: float = 2.0,
        on_event: Callable[[str], None] = lambda _: None,
        until: Callable[[], bool] = lambda: False,
    ) -> None:
        self._stack = stack
        self._every_s = every_s
        self._down_s = down_s
        self._on_event = on_event
        self._until = until
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-chaos", daemon=True)
        self.kill_times: list[float] = []  # epoch seconds
        self.failures: list[str] = []

    @property
    def kills(self) -> int:
        return len(self.kill_times)

    def start(self) -> None:
        if self._every_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            if self._until():
                return
            self._on_event("chaos: SIGKILL to the durable worker; starting a new one")
            self.kill_times.append(time.time())
            try:
                gone = self._stack.restart_worker(self._down_s)
            except Exception as exc:  # the demo goes on; the summary says the worker could not come back
                self.failures.append(str(exc))
                log.exception("the worker did not restart")
                self._on_event(f"chaos: the worker did not come back: {exc}")
                return
            self._on_event(f"chaos: worker back after {gone:.1f}s")
