"""Decision counters shared by both backends: how many decisions of each kind, and every failure by its cause."""

from __future__ import annotations

import threading
from collections import Counter

from flags.decision import Decision, ReasonKind

__all__ = ["DecisionCounters"]


class DecisionCounters:
    """Thread-safe counts: `decisions`, one per ReasonKind (`match`, `no_match`, ...), `error.<cause>` per
    DecisionError, `default_used`, plus whatever the owner counts (`refresh`, `refresh_error`, ...)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[ReasonKind, int] = dict.fromkeys(ReasonKind, 0)
        self._counts: Counter[str] = Counter()

    def count(self, decision: Decision) -> None:
        with self._lock:  # uncontended: a fraction of a microsecond, and exact
            self._kinds[decision.reason_kind] += 1
        if decision.default_used:
            with self._lock:
                self._counts["default_used"] += 1
                if decision.error is not None:
                    self._counts[f"error.{decision.error.value}"] += 1

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            found = {kind.value: n for kind, n in self._kinds.items()}
            found["decisions"] = sum(self._kinds.values())
            found.update(self._counts)
            return found

    def after_fork(self) -> None:
        """A fresh lock in a forked child (the parent's may have been held by a thread that no longer exists)."""
        self._lock = threading.Lock()
