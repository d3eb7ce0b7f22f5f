"""The rollout dashboard's numbers, as a pure function of outcome and comparison rows (no IO).

Per scope (the dimensions in `group_by`, application and operation by default): operations per path, failure
rates with Wilson intervals, latency percentiles, fallbacks, and the shadow comparisons by outcome with the match
rate. The rates are the rollout gates' own (`rollouts.gates.ComparisonCounts`): the match and mismatch rates count
the comparisons where both paths answered; candidate errors and timeouts have their own rate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollouts.gates import ComparisonCounts
from rollouts.stats import Interval, percentiles, wilson_interval

__all__ = [
    "DEFAULT_GROUP_BY",
    "ComparisonRow",
    "OutcomeRow",
    "PathStats",
    "ScopeStats",
    "ShadowStats",
    "rollup",
]

DEFAULT_GROUP_BY = ("application", "operation")
_DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One row of `operation_outcomes`, as the dashboard reads it."""

    operation_id: str
    dimensions: Mapping[str, str]
    path: str
    stage: str
    status: str
    error_kind: str | None
    fallback: bool
    duration_s: float
    finished_at: datetime


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


@dataclass(frozen=True, slots=True)
class PathStats:
    """One path's operations in a scope."""

    operations: int
    failures: int
    failure_interval: Interval
    fallbacks: int
    latency: Mapping[str, float] | None
    error_kinds: Mapping[str, int]

    @property
    def failure_rate(self) -> float:
        return self.failures / self.operations if self.operations else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "failures": self.failures,
            "failureRate": self.failure_rate,
            "failureInterval": self.failure_interval.to_json(),
            "fallbacks": self.fallbacks,
            "latency": dict(self.latency) if self.latency else None,
            "errorKinds": dict(self.error_kinds),
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
            "paths": {name: stats.to_json() for name, stats in self.paths.items()},
            "shadow": self.shadow.to_json(),
            "stages": dict(self.stages),
        }


def _key(dimensions: Mapping[str, str], group_by: Sequence[str]) -> tuple[str, ...]:
    return tuple(dimensions.get(d, "") for d in group_by)


def _path_stats(rows: Sequence[OutcomeRow]) -> PathStats:
    failures = sum(1 for r in rows if r.status != "succeeded")
    return PathStats(
        operations=len(rows),
        failures=failures,
        failure_interval=wilson_interval(failures, len(rows)),
        fallbacks=sum(1 for r in rows if r.fallback),
        latency=percentiles([r.duration_s for r in rows]),
        error_kinds=dict(Counter(r.error_kind for r in rows if r.error_kind)),
    )


def rollup(
    outcomes: Iterable[OutcomeRow],
    comparisons: Iterable[ComparisonRow],
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
) -> list[ScopeStats]:
    """Stats per scope, busiest first; `group_by` names dimensions (an empty one: everything as one scope)."""
    unknown = [d for d in group_by if d not in _DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group by {unknown[0]!r}: the dimensions are {', '.join(_DIMENSIONS)}")
    by_scope: dict[tuple[str, ...], dict[str, list[OutcomeRow]]] = defaultdict(lambda: defaultdict(list))
    stages: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for row in outcomes:
        key = _key(row.dimensions, group_by)
        by_scope[key][row.path].append(row)
        stages[key][row.stage] += 1
    shadows: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for comparison in comparisons:
        shadows[_key(comparison.dimensions, group_by)][comparison.outcome] += 1
    scopes = []
    for key in set(by_scope) | set(shadows):
        counts = shadows.get(key, Counter())
        scopes.append(
            ScopeStats(
                scope=dict(zip(group_by, key, strict=True)),
                paths={path: _path_stats(rows) for path, rows in sorted(by_scope.get(key, {}).items())},
                shadow=ShadowStats(sum(counts.values()), dict(counts)),
                stages=dict(stages.get(key, Counter())),
            )
        )
    return sorted(scopes, key=lambda s: (-s.operations, -s.shadow.comparisons, tuple(s.scope.values())))
