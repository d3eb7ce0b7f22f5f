"""The values the rollout gates read and return: thresholds, requirements, evidence, checks and results.

Pure and frozen; `rollouts.gates.evaluate` turns an `Evidence` into a `GateResult` under `Thresholds`. The checks
live in `rollouts.sequential_checks` (the default family) and `rollouts.fixed_checks` (today's fixed-horizon tests,
kept as the benchmark's baseline); the shadow and requirement checks in `rollouts.gates`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from rollouts.stats import Verdict

__all__ = [
    "ComparisonCounts",
    "Evidence",
    "GateCheck",
    "GateFamily",
    "GateMode",
    "GateResult",
    "PathSample",
    "Requirements",
    "Thresholds",
    "Verdict",
]


class GateMode(StrEnum):
    """Which checks apply: in shadow the durable path does not execute, so only the comparison counts."""

    SHADOW = "shadow"
    CANARY = "canary"


class GateFamily(StrEnum):
    """How a canary's failure and latency checks decide.

    `sequential` (the default): anytime-valid SPRTs, whose error rates hold however often a gate is read, and
    which pass only on evidence that durable is within its margin. `fixed_horizon`: the one-sided proportion test
    and Mann-Whitney, valid once at a sample size fixed in advance; read at every tick their alpha does not hold
    (kept as the baseline `cloudops bench gates` measures the sequential family against)."""

    SEQUENTIAL = "sequential"
    FIXED_HORIZON = "fixed_horizon"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Gate thresholds. Rates are fractions (0.01 is 1%).

    Sequential family: `failure_margin` is how much higher (absolute, 0.02 = 2 points) durable's failure rate may
    be and still pass; `latency_bound` (0.2) how much slower durable's typical latency (geometric mean) may be;
    `promotion_alpha` the chance a whole rollout promotes a durable worse than those margins (each of its k steps
    gets promotion_alpha ** (1 / k): a worse durable must pass them all); `rollback_alpha` the chance a whole rollout
    rolls back a durable no worse than legacy (split over its canary steps and their two checks).
    Fixed-horizon family: `alpha`, `latency_bound` on p99 with `min_cles_effect`. The shadow checks use `alpha`."""

    alpha: float = 0.05
    min_samples: int = 20
    max_mismatch_rate: float = 0.01
    max_candidate_error_rate: float = 0.05
    latency_bound: float = 0.20
    min_latency_samples: int = 20
    min_cles_effect: float = 0.06
    require_comparisons_in_canary: bool = True
    min_matches: int = 20
    max_ignored_share: float = 0.10
    family: GateFamily = GateFamily.SEQUENTIAL
    failure_margin: float = 0.02
    promotion_alpha: float = 0.05
    rollback_alpha: float = 0.05

    def __post_init__(self) -> None:
        problems = []
        try:
            object.__setattr__(self, "family", GateFamily(self.family))
        except ValueError:
            problems.append(f"family must be one of {', '.join(f.value for f in GateFamily)}, got {self.family!r}")
        for name in ("alpha", "promotion_alpha", "rollback_alpha"):
            value = getattr(self, name)
            if not 0 < value < 0.5:
                problems.append(f"{name} must be between 0 and 0.5, got {value}")
        for name in ("max_mismatch_rate", "max_candidate_error_rate"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                problems.append(f"{name} must be a fraction from 0 to 1, got {value}")
        if not 0 < self.failure_margin < 1:
            problems.append(f"failure_margin must be above 0 and below 1 (0.02 = 2 points), got {self.failure_margin}")
        if not 0 < self.latency_bound <= 10 or not math.isfinite(self.latency_bound):
            problems.append(f"latency_bound must be above 0 and at most 10 (0.2 = 20% worse), got {self.latency_bound}")
        if self.min_samples < 1:
            problems.append(f"min_samples must be at least 1, got {self.min_samples}")
        if self.min_matches < 1:
            problems.append(f"min_matches must be at least 1, got {self.min_matches}")
        if not 0 <= self.max_ignored_share <= 1 or not math.isfinite(self.max_ignored_share):
            problems.append(f"max_ignored_share must be a fraction from 0 to 1, got {self.max_ignored_share}")
        if self.min_latency_samples < 8:
            problems.append(
                f"min_latency_samples must be at least 8 (the test's approximation), got {self.min_latency_samples}"
            )
        if not 0 <= self.min_cles_effect < 0.5:
            problems.append(f"min_cles_effect must be from 0 to 0.5, got {self.min_cles_effect}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "family": self.family.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        """Thresholds from JSON; unknown names raise ValueError naming them (so a typo never goes unnoticed).
        Thresholds stored before a name existed take its default (a rollout stored before the sequential gates
        is judged by them from its next tick)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown threshold {unknown[0]!r}: the thresholds are {', '.join(sorted(known))}")
        return cls(**dict(data))


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a rollout step needs before it may pass (the report uses none). `canary_steps` is how many canary steps
    the rollout has: they share its `rollback_alpha`."""

    min_ops: int = 0
    min_duration_s: float = 0.0
    canary_steps: int = 1

    def __post_init__(self) -> None:
        if self.canary_steps < 1:
            raise ValueError(f"canary_steps must be at least 1, got {self.canary_steps}")


@dataclass(frozen=True, slots=True)
class PathSample:
    """Finished operations on one path: how many, how many failed, and their durations in seconds."""

    total: int = 0
    failures: int = 0
    latencies: tuple[float, ...] = ()

    @property
    def failure_rate(self) -> float:
        return self.failures / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class ComparisonCounts:
    """Shadow comparisons by outcome (the names of `router.compare.ComparisonOutcome`)."""

    match: int = 0
    mismatch: int = 0
    ignored: int = 0
    candidate_error: int = 0
    candidate_timeout: int = 0
    control_error: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> ComparisonCounts:
        """From {outcome: count}; outcomes this version does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in counts.items() if k in known})

    @property
    def compared(self) -> int:
        """Comparisons where both paths answered (matched, mismatched or ignored)."""
        return self.match + self.mismatch + self.ignored

    @property
    def judged(self) -> int:
        """Comparisons that say whether the plans agree: the mismatch rate's denominator. An ignored comparison
        is neither a match nor a mismatch, so it is not in it."""
        return self.match + self.mismatch

    @property
    def mismatch_rate(self) -> float | None:
        """mismatch / (match + mismatch); None before any comparison was judged."""
        return self.mismatch / self.judged if self.judged else None

    @property
    def ignored_share(self) -> float | None:
        """The share of answered comparisons that ignore rules took out; None before any."""
        return self.ignored / self.compared if self.compared else None

    @property
    def candidate_failures(self) -> int:
        return self.candidate_error + self.candidate_timeout

    @property
    def attempted(self) -> int:
        """Comparisons the candidate was asked for, leaving out those whose control broke."""
        return self.compared + self.candidate_failures

    @property
    def total(self) -> int:
        return self.attempted + self.control_error

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the gates read for one scope over one window. `baseline` says where legacy's numbers came from."""

    legacy: PathSample
    durable: PathSample
    comparisons: ComparisonCounts
    elapsed_s: float = 0.0
    baseline: str = "the same window"


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    outcome: Verdict
    reason: str
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome.value, "reason": self.reason, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class GateResult:
    """The combined outcome with every check; `reasons` lists the deciding checks' reasons first."""

    outcome: Verdict
    mode: GateMode
    checks: tuple[GateCheck, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        deciding = [c.reason for c in self.checks if c.outcome is self.outcome]
        return tuple(deciding + [c.reason for c in self.checks if c.outcome is not self.outcome])

    def check(self, name: str) -> GateCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def summary(self, limit: int = 1500) -> str:
        """One paragraph: the outcome and each check's reason, deciding ones first (for audit reasons)."""
        text = f"{self.outcome.value}: " + "; ".join(self.reasons)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "mode": self.mode.value, "checks": [c.to_json() for c in self.checks]}
