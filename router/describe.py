"""Descriptive statistics the router's read model shows: Wilson intervals for rates, percentiles of latencies.

Pure functions, standard library only. `rollouts.stats` re-exports them beside its tests (the gates' statistics).
- `wilson_interval`: a confidence interval for a proportion that behaves at 0 and at small n (unlike Wald's).
- `percentile`: linear interpolation between closest ranks (Hyndman-Fan type 7, numpy's default) or the
  nearest-rank method (type 1, numpy's "inverted_cdf"). Reports and gates use linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

__all__ = ["Interval", "PercentileMethod", "percentile", "percentiles", "wilson_interval", "z_for"]

_NORMAL = NormalDist()


class PercentileMethod(StrEnum):
    LINEAR = "linear"  # Hyndman-Fan type 7 (numpy's default)
    NEAREST_RANK = "nearest_rank"  # Hyndman-Fan type 1 (numpy's "inverted_cdf")


@dataclass(frozen=True, slots=True)
class Interval:
    """A proportion's point estimate with the bounds of its confidence interval, all in [0, 1]."""

    estimate: float
    low: float
    high: float
    confidence: float

    def to_json(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence}


def z_for(confidence: float, *, two_sided: bool = True) -> float:
    """The standard normal quantile for a confidence level (1.96 for 0.95 two-sided, 1.645 one-sided)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    tail = (1 - confidence) / 2 if two_sided else 1 - confidence
    return _NORMAL.inv_cdf(1 - tail)


def wilson_interval(successes: int, n: int, confidence: float = 0.95, *, two_sided: bool = True) -> Interval:
    """The Wilson score interval for `successes` out of `n`; with n == 0 it is the whole of [0, 1].

    With `two_sided=False` each bound is a one-sided bound at `confidence` (use `low` or `high`, not both).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return Interval(0.0, 0.0, 1.0, confidence)
    z = z_for(confidence, two_sided=two_sided)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(p, low, high, confidence)


def percentile(values: Sequence[float], q: float, method: PercentileMethod = PercentileMethod.LINEAR) -> float:
    """The q-th percentile (0 <= q <= 100) of a non-empty sample; see the module docstring for the methods."""
    if not values:
        raise ValueError("a percentile of an empty sample is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    n = len(ordered)
    if method is PercentileMethod.NEAREST_RANK:
        rank = max(1, math.ceil(q / 100 * n))
        return ordered[rank - 1]
    position = q / 100 * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentiles(
    values: Sequence[float], qs: Sequence[float] = (50, 95, 99), method: PercentileMethod = PercentileMethod.LINEAR
) -> dict[str, float] | None:
    """{"p50": ..., "p95": ..., "p99": ...} for a sample (sorted once), or None when it is empty."""
    if not values:
        return None
    ordered = sorted(values)
    return {f"p{q:g}": percentile(ordered, q, method) for q in qs}
