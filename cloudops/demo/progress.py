"""The demo's progress: counters shared by the pipeline threads, and a display that suits the terminal.

On a terminal the status is one line rewritten in place, with events (a rollout moving, a worker killed) printed
above it; anywhere else (a log file, CI) each event is a line and the status is printed every `plain_every_s`.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from cloudops.demo.pipelines import PipelineOutcome, PipelineStatus, StepRecord

__all__ = ["Progress", "Tally", "TallySnapshot", "status_line"]


@dataclass(frozen=True, slots=True)
class TallySnapshot:
    planned: int
    done: int
    by_path: dict[str, int]
    failed_by_path: dict[str, int]
    pipelines: dict[str, int]
    in_flight: int = 0
    oldest_s: float = 0.0


class Tally:
    """Every finished operation and pipeline, counted as they arrive from the pipeline threads."""

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self._lock = threading.Lock()
        self._records: list[StepRecord] = []
        self._outcomes: list[PipelineOutcome] = []
        self._running: dict[str, float] = {}

    def begin(self, operation_id: str) -> None:
        with self._lock:
            self._running[operation_id] = time.monotonic()

    def add(self, record: StepRecord) -> None:
        with self._lock:
            self._running.pop(record.operation_id, None)
            self._records.append(record)

    def finished(self, outcomes: list[PipelineOutcome]) -> None:
        with self._lock:
            self._outcomes.extend(outcomes)

    def records(self) -> list[StepRecord]:
        with self._lock:
            return list(self._records)

    def outcomes(self) -> list[PipelineOutcome]:
        with self._lock:
            return list(self._outcomes)

    def snapshot(self) -> TallySnapshot:
        with self._lock:
            paths = Counter(r.path for r in self._records)
            failed = Counter(r.path for r in self._records if not r.succeeded)
            pipelines = Counter(o.status.value for o in self._outcomes)
            return TallySnapshot(
                planned=self.planned,
                done=len(self._records),
                by_path={p: paths[p] for p in ("legacy", "durable")},
                failed_by_path={p: failed[p] for p in ("legacy", "durable")},
                pipelines={s.value: pipelines[s.value] for s in PipelineStatus},
                in_flight=len(self._running),
                oldest_s=time.monotonic() - min(self._running.values()) if self._running else 0.0,
            )


def status_line(snap: TallySnapshot, stages: Counter[str], kills: int, elapsed_s: float) -> str:
    """`[1:23] 312/480 ops | legacy 250 (12 failed) | durable 62 (0 failed) | rollouts ... | worker kills 2`."""
    minutes, seconds = divmod(int(elapsed_s), 60)
    paths = " | ".join(f"{p} {snap.by_path[p]} ({snap.failed_by_path[p]} failed)" for p in ("legacy", "durable"))
    rollouts = ", ".join(f"{stage} {n}" for stage, n in sorted(stages.items())) or "none"
    line = (
        f"[{minutes}:{seconds:02d}] {snap.done}/{snap.planned} ops | {paths} | rollouts: {rollouts} "
        f"| worker kills {kills}"
    )
    if snap.oldest_s >= 30:  # say why the end is slow in coming: an operation waits for a retry
        line += f" | {snap.in_flight} running, oldest {int(snap.oldest_s)}s"
    return line


class Progress:
    """Writes events and the status line to `stream`; safe to call from several threads."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool,
        plain_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = tty
        self._plain_every_s = plain_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._line = ""
        # None, not 0.0: a monotonic clock counts from boot, so on a machine up for less than plain_every_s a
        # 0.0 here would swallow the first status.
        self._last_plain: float | None = None

    def event(self, text: str) -> None:
        """A line that stays (above the status line on a terminal)."""
        with self._lock:
            if self._tty and self._line:
                self._stream.write("\r\x1b[K")
            self._stream.write(text + "\n")
            if self._tty and self._line:
                self._stream.write(self._line)
            self._stream.flush()

    def status(self, line: str) -> None:
        """The current status: rewritten in place on a terminal, printed now and then elsewhere."""
        with self._lock:
            if self._tty:
                # A line wider than the terminal wraps, and `\r` would then rewrite only its last part.
                self._line = line[: max(20, shutil.get_terminal_size().columns - 1)]
                self._stream.write("\r\x1b[K" + self._line)
                self._stream.flush()
                return
            now = self._clock()
            if self._last_plain is None or now - self._last_plain >= self._plain_every_s:
                self._last_plain = now
                self._stream.write(line + "\n")
                self._stream.flush()

    def finish(self, line: str) -> None:
        """The last status, on a line of its own."""
        with self._lock:
            self._stream.write(("\r\x1b[K" if self._tty else "") + line + "\n")
            self._line = ""
            self._stream.flush()
