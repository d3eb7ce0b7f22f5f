"""The read model's values: one path's statistics (`PathStats`) and one differing field's counts (`FieldCount`).

Pure values, no IO: the console's dashboard, the shadow report and the rollout gates' evidence all show these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.describe import Interval, percentiles, wilson_interval

__all__ = ["FieldCount", "PathStats", "ScopeKey"]

ScopeKey = tuple[str, ...]
"""A scope's values of the dimensions a read grouped by, in the order it named them."""

_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PathStats:
    """One path's finished operations in a scope: counts by status and error kind, fallbacks, stages seen, and a
    latency sample bounded per scope (every duration when there are at most the read model's `latency_sample`).

    `latency` holds the sample's p50/p95/p99 (linear), `failure_interval` the failure rate's 95% Wilson interval.
    """

    path: str
    total: int = 0
    failures: int = 0
    fallbacks: int = 0
    statuses: Mapping[tuple[str, str | None], int] = field(default_factory=dict)
    stages: Mapping[str, int] = field(default_factory=dict)
    latencies: tuple[float, ...] = ()
    latency: Mapping[str, float] | None = None
    failure_interval: Interval = field(default_factory=lambda: wilson_interval(0, 0))

    @classmethod
    def of(
        cls,
        path: str,
        statuses: Mapping[tuple[str, str | None], int],
        fallbacks: int = 0,
        latencies: Sequence[float] = (),
        stages: Mapping[str, int] | None = None,
    ) -> PathStats:
        """From operation counts per (status, error kind), the fallbacks and the latency sample."""
        total = sum(statuses.values())
        failures = sum(n for (status, _), n in statuses.items() if status == _FAILED)
        return cls(
            path=path,
            total=total,
            failures=failures,
            fallbacks=fallbacks,
            statuses=dict(statuses),
            stages=dict(stages or {}),
            latencies=tuple(latencies),
            latency=percentiles(latencies),
            failure_interval=wilson_interval(failures, total),
        )

    @property
    def operations(self) -> int:
        return self.total

    @property
    def failure_rate(self) -> float:
        return self.failures / self.total if self.total else 0.0

    @property
    def error_kinds(self) -> dict[str, int]:
        """Failed operations by error kind ("unknown" when a failure recorded none)."""
        kinds: dict[str, int] = {}
        for (status, kind), n in self.statuses.items():
            if status == _FAILED:
                kinds[kind or "unknown"] = kinds.get(kind or "unknown", 0) + n
        return kinds

    @property
    def recorded_error_kinds(self) -> dict[str, int]:
        """Operations by the error kind recorded on them, whatever their status (the dashboard's count)."""
        kinds: dict[str, int] = {}
        for (_, kind), n in self.statuses.items():
            if kind:
                kinds[kind] = kinds.get(kind, 0) + n
        return kinds


@dataclass(frozen=True, slots=True)
class FieldCount:
    """A field path that differed in a scope's comparisons: in how many mismatched comparisons (not ignored), how
    many of its differences were ignored, and its newest examples as (operation id, the field diff's JSON)."""

    path: str
    mismatches: int
    ignored: int
    examples: tuple[tuple[str, Mapping[str, Any]], ...]

    def with_example(self, operation_id: str, diff: Mapping[str, Any]) -> FieldCount:
        return FieldCount(self.path, self.mismatches, self.ignored, (*self.examples, (operation_id, diff)))
