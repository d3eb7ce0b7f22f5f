"""The rollout dashboard's numbers, as pure functions (no IO) of the router read model's aggregates.

Per scope (the dimensions in `group_by`, application and operation by default): operations per path (the
router's `PathStats`: failure rates with Wilson intervals, latency percentiles, fallbacks), and the shadow
comparisons by outcome with the match rate. The rates are the rollout gates' own
(`rollouts.gates.ComparisonCounts`): the match rate counts the comparisons where both paths answered, the
mismatch rate only the matched and mismatched ones (an ignored comparison is neither); candidate errors and
timeouts have their own rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollouts.gates import ComparisonCounts
from router.read_values import PathStats

__all__ = [
    "DEFAULT_GROUP_BY",
    "ComparisonRow",
    "PathStats",
    "ScopeStats",
    "ShadowStats",
    "path_json",
    "scope_stats",
]

DEFAULT_GROUP_BY = ("application", "operation")


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One row of `shadow_comparisons`, diffs included."""

    operation_id: str
    dimensions: Mapping[str, str]
    control_path: str
    candidate_path: str
    outcome: str
    diffs: Sequence[Mapping[str, Any]]
    compared_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "operationId": self.operation_id,
            "dimensions": dict(self.dimensions),
            "controlPath": self.control_path,
            "candidatePath": self.candidate_path,
            "outcome": self.outcome,
            "diffs": [dict(d) for d in self.diffs],
            "comparedAt": self.compared_at.isoformat(),
        }


def path_json(stats: PathStats) -> dict[str, Any]:
    """One path's operations in a scope, as the dashboard's JSON shows them."""
    return {
        "operations": stats.operations,
        "failures": stats.failures,
        "failureRate": stats.failure_rate,
        "failureInterval": stats.failure_interval.to_json(),
        "fallbacks": stats.fallbacks,
        "latency": dict(stats.latency) if stats.latency else None,
        "errorKinds": stats.recorded_error_kinds,
    }


@dataclass(frozen=True, slots=True)
class ShadowStats:
    """Shadow comparisons by outcome, with the rates the rollout gates use (`rollouts.gates.ComparisonCounts`)."""

    comparisons: int
    outcomes: Mapping[str, int]

    @property
    def counts(self) -> ComparisonCounts:
        return ComparisonCounts.of(self.outcomes)

    @property
    def match_rate(self) -> float | None:
        """Matches among the comparisons where both paths answered (ignored differences are not matches)."""
        compared = self.counts.compared
        return self.counts.match / compared if compared else None

    @property
    def mismatch_rate(self) -> float | None:
        """The gates' mismatch rate: mismatches among matched and mismatched comparisons (ignored are neither)."""
        return self.counts.mismatch_rate

    @property
    def candidate_error_rate(self) -> float | None:
        attempted = self.counts.attempted
        return self.counts.candidate_failures / attempted if attempted else None

    def to_json(self) -> dict[str, Any]:
        return {
            "comparisons": self.comparisons,
            "outcomes": dict(self.outcomes),
            "matchRate": self.match_rate,
            "mismatchRate": self.mismatch_rate,
            "candidateErrorRate": self.candidate_error_rate,
        }


@dataclass(frozen=True, slots=True)
class ScopeStats:
    """Everything the dashboard shows for one scope."""

    scope: Mapping[str, str]
    paths: Mapping[str, PathStats]
    shadow: ShadowStats
    stages: Mapping[str, int] = field(default_factory=dict)

    @property
    def operations(self) -> int:
        return sum(p.operations for p in self.paths.values())

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.scope.items()) or "everything"

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": dict(self.scope),
            "operations": self.operations,
            "paths": {name: path_json(stats) for name, stats in self.paths.items()},
            "shadow": self.shadow.to_json(),
            "stages": dict(self.stages),
        }


def scope_stats(
    paths: Mapping[tuple[str, ...], Mapping[str, PathStats]],
    comparisons: Mapping[tuple[str, ...], Mapping[str, int]],
    group_by: Sequence[str],
) -> list[ScopeStats]:
    """Stats per scope, busiest first, from path statistics and comparison counts keyed by `group_by`'s values
    (what `router.read_model.OutcomeReadModel` returns)."""
    scopes = []
    for key in set(paths) | set(comparisons):
        counts = comparisons.get(key, {})
        by_path = paths.get(key, {})
        stages: Counter[str] = Counter()
        for stats in by_path.values():
            stages.update(stats.stages)
        scopes.append(
            ScopeStats(
                scope=dict(zip(group_by, key, strict=True)),
                paths={path: by_path[path] for path in sorted(by_path)},
                shadow=ShadowStats(sum(counts.values()), dict(counts)),
                stages=dict(stages),
            )
        )
    return sorted(scopes, key=lambda s: (-s.operations, -s.shadow.comparisons, tuple(s.scope.values())))
