"""CPU seconds per process, read from /proc: what a benchmark divides by its operations to get CPU per operation.

`cpu_seconds` is one process's user + system time (every thread, not its children); `CpuWindow` snapshots a set
of named processes at the start and end of a measured window and reports each one's share. Linux only: where
/proc is missing a process reads as None and the report says so instead of guessing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuWindow", "cpu_seconds", "per_operation_ms"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far; None when it is gone or /proc is unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of proc(5))


@dataclass(frozen=True, slots=True)
class CpuWindow:
    """CPU seconds of named processes at the start of a window; `since` gives each one's share of it."""

    start: Mapping[str, float | None]
    pids: Mapping[str, int]

    @classmethod
    def open(cls, pids: Mapping[str, int]) -> CpuWindow:
        return cls({name: cpu_seconds(pid) for name, pid in pids.items()}, dict(pids))

    def since(self) -> dict[str, float | None]:
        """Each process's CPU seconds since `open` (None when it was not readable at either end)."""
        out: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            before, now = self.start[name], cpu_seconds(pid)
            out[name] = round(now - before, 3) if before is not None and now is not None else None
        return out


def per_operation_ms(cpu_s: Mapping[str, float | None], ops: int) -> dict[str, float | None]:
    """CPU milliseconds per operation of each process, and `total` over those that could be read."""
    out: dict[str, float | None] = {
        name: round(1000 * seconds / ops, 2) if seconds is not None and ops else None for name, seconds in cpu_s.items()
    }
    known = [seconds for seconds in cpu_s.values() if seconds is not None]
    out["total"] = round(1000 * sum(known) / ops, 2) if ops else None
    return out
