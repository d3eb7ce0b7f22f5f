"""The reliability benchmark's cloud outage: the sim cloud hard down for S seconds every M, its state intact.

A real cloud outage is the provider's API answering every call with an error (AWS's 503 ServiceUnavailable,
RequestLimitExceeded storms) while the resources it already runs keep running. The sim cloud's hard-down switch
(`POST /admin/hard-down`, cloud/sim/simulator.py) is exactly that: every API call fails with CloudUnavailable
before it touches anything, and the server groups, instances and journal stay as they were. Stopping the process
instead would model the endpoint vanishing and would need the sim cloud to persist its state, which it does not.

`outage_phase` is the pure schedule (tested in tests/bench/test_reliability_logic.py); `Outage` is the thread that
flips the switch on it. Next: bench/reliability.py, which starts one per row in the cloud-outage scenario.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

__all__ = ["Outage", "OutagePhase", "outage_phase"]


@dataclass(frozen=True, slots=True)
class OutagePhase:
    """Where a moment falls in the schedule: down or up, and for how many more seconds."""

    down: bool
    remaining_s: float


def outage_phase(elapsed_s: float, every_s: float, down_for_s: float) -> OutagePhase:
    """Each period of `every_s` seconds is up for `every_s - down_for_s`, then down for `down_for_s`: the first
    outage starts one up-time after the start, so the workload is in full flight when it begins."""
    if not 0 < down_for_s < every_s:
        raise ValueError(f"an outage must last more than 0 s and less than its period ({down_for_s} of {every_s})")
    into = max(0.0, elapsed_s) % every_s
    up_for = every_s - down_for_s
    if into < up_for:
        return OutagePhase(False, up_for - into)
    return OutagePhase(True, every_s - into)


class Outage:
    """Turns the sim cloud at `url` hard down (every account and region) on `outage_phase`'s schedule until
    `stop()`, which brings it back up. Counts the outages and the seconds spent down; a switch that cannot be
    flipped is recorded, never raised, so the run still reports."""

    def __init__(self, url: str, every_s: float, down_for_s: float) -> None:
        outage_phase(0.0, every_s, down_for_s)  # refuses an impossible schedule before anything starts
        self.url = url.rstrip("/")
        self.every_s = every_s
        self.down_for_s = down_for_s
        self.outages = 0
        self.down_s = 0.0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloud-outage", daemon=True)

    def start(self) -> Outage:
        self._thread.start()
        return self

    def _switch(self, down: bool) -> bool:
        try:
            httpx.post(f"{self.url}/admin/hard-down", json={"down": down}, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            self.errors.append(f"hard-down {down}: {type(exc).__name__}: {exc}")
            return False
        return True

    def _run(self) -> None:
        started = time.monotonic()
        while True:
            phase = outage_phase(time.monotonic() - started, self.every_s, self.down_for_s)
            if not phase.down:
                if self._stop.wait(phase.remaining_s):
                    return
                continue
            if not self._switch(True):
                return
            self.outages += 1
            went_down = time.monotonic()
            self._stop.wait(phase.remaining_s)
            self._switch(False)
            self.down_s += time.monotonic() - went_down
            if self._stop.is_set():
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def to_json(self) -> dict[str, object]:
        return {
            "down_for_s": self.down_for_s,
            "every_s": self.every_s,
            "outages": self.outages,
            "seconds_down": round(self.down_s, 1),
            "switch_errors": self.errors,
        }
