"""The statistics behind rollout gates and shadow reports, as pure functions (standard library only, no IO).

- `wilson_interval`: a confidence interval for a proportion that behaves at 0 and at small n (unlike Wald's).
- `proportion_worse_test`: is the candidate's failure rate higher than the baseline's? One-sided; a pooled
  two-proportion z-test when every expected cell count is at least 5, else Fisher's exact test (hypergeometric
  tail), so rare failures at low volume are judged exactly. A minimum-sample guard turns too little data into
  `inconclusive` instead of a false pass.
- `mann_whitney`: the Mann-Whitney U test (one-sided, "is the candidate stochastically larger?") with the normal
  approximation, tie correction and continuity correction (scipy's `method="asymptotic"`; good for n >= 8 per
  side), and two effect sizes: the common-language effect size P(X > Y) + P(X = Y)/2 and the Hodges-Lehmann shift
  (median of all pairwise differences), as Kayenta's judge uses.
- `percentile`: linear interpolation between closest ranks (Hyndman-Fan type 7, numpy's default) or the
  nearest-rank method (type 1, numpy's "inverted_cdf"). Reports and gates use linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from rollouts.pair_select import kth_difference
from router.describe import Interval, PercentileMethod, percentile, percentiles, wilson_interval, z_for

__all__ = [
    "HL_MAX_PAIRS",
    "Interval",
    "MannWhitney",
    "PercentileMethod",
    "ProportionTest",
    "Verdict",
    "fisher_greater_p",
    "hodges_lehmann",
    "mann_whitney",
    "percentile",
    "percentiles",
    "proportion_worse_test",
    "wilson_interval",
    "z_for",
]

_NORMAL = NormalDist()
HL_MAX_PAIRS = 250_000
"""Above this many pairs the Hodges-Lehmann shift is computed on evenly spaced order statistics of each sample."""


class Verdict(StrEnum):
    """What a test says: the data show a problem, show none, or are too few to say."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """One-sided test that the candidate's failure rate exceeds the baseline's.

    `p_value` is None when the test did not run (too few samples). `method` is "z" or "fisher".
    """

    verdict: Verdict
    candidate_failures: int
    candidate_n: int
    baseline_failures: int
    baseline_n: int
    p_value: float | None
    method: str
    z: float | None
    alpha: float
    min_samples: int

    @property
    def candidate_rate(self) -> float:
        return self.candidate_failures / self.candidate_n if self.candidate_n else 0.0

    @property
    def baseline_rate(self) -> float:
        return self.baseline_failures / self.baseline_n if self.baseline_n else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "candidateFailures": self.candidate_failures,
            "candidateN": self.candidate_n,
            "candidateRate": self.candidate_rate,
            "baselineFailures": self.baseline_failures,
            "baselineN": self.baseline_n,
            "baselineRate": self.baseline_rate,
            "pValue": self.p_value,
            "method": self.method,
            "z": self.z,
            "alpha": self.alpha,
            "minSamples": self.min_samples,
        }


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater_p(a: int, n_a: int, b: int, n_b: int) -> float:
    """Fisher's exact one-sided p-value that group A's rate exceeds group B's: P(X >= a) under the hypergeometric
    law of the failures given both margins (scipy's `fisher_exact([[a, n_a - a], [b, n_b - b]], "greater")`)."""
    total, failures = n_a + n_b, a + b
    top = min(failures, n_a)
    log_denominator = _log_comb(total, n_a)
    terms = [
        _log_comb(failures, x) + _log_comb(total - failures, n_a - x) - log_denominator
        for x in range(a, top + 1)
        if n_a - x <= total - failures
    ]
    if not terms:
        return 0.0
    peak = max(terms)
    return min(1.0, math.exp(peak) * sum(math.exp(t - peak) for t in terms))


def proportion_worse_test(
    candidate_failures: int,
    candidate_n: int,
    baseline_failures: int,
    baseline_n: int,
    *,
    alpha: float = 0.05,
    min_samples: int = 20,
) -> ProportionTest:
    """Is the candidate's failure rate significantly higher than the baseline's?

    FAIL when the one-sided p-value is below `alpha`; PASS when it is not and both groups have at least
    `min_samples` observations; INCONCLUSIVE when either group is smaller (the test is not run).
    """
    for failures, n in ((candidate_failures, candidate_n), (baseline_failures, baseline_n)):
        if n < 0 or not 0 <= failures <= n:
            raise ValueError(f"need 0 <= failures <= n, got {failures} of {n}")

    def result(verdict: Verdict, p: float | None, method: str, z: float | None) -> ProportionTest:
        return ProportionTest(
            verdict, candidate_failures, candidate_n, baseline_failures, baseline_n, p, method, z, alpha, min_samples
        )

    if min(candidate_n, baseline_n) < max(min_samples, 1):
        return result(Verdict.INCONCLUSIVE, None, "none", None)
    total = candidate_n + baseline_n
    failures = candidate_failures + baseline_failures
    pooled = failures / total
    expected = (candidate_n * pooled, candidate_n * (1 - pooled), baseline_n * pooled, baseline_n * (1 - pooled))
    if min(expected) < 5:
        p = fisher_greater_p(candidate_failures, candidate_n, baseline_failures, baseline_n)
        return result(Verdict.FAIL if p < alpha else Verdict.PASS, p, "fisher", None)
    se = math.sqrt(pooled * (1 - pooled) * (1 / candidate_n + 1 / baseline_n))
    z = (candidate_failures / candidate_n - baseline_failures / baseline_n) / se
    p = 1 - _NORMAL.cdf(z)
    return result(Verdict.FAIL if p < alpha else Verdict.PASS, p, "z", z)


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Mid-ranks (1-based, ties averaged) and the tie term sum(t^3 - t) over groups of tied values."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mid
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    return ranks, tie_term


def _thin(sorted_values: Sequence[float], size: int) -> list[float]:
    """`size` evenly spaced order statistics of a sorted sample (keeps its shape, bounds the work)."""
    if len(sorted_values) <= size:
        return list(sorted_values)
    step = (len(sorted_values) - 1) / (size - 1)
    return [sorted_values[round(i * step)] for i in range(size)]


def hodges_lehmann(candidate: Sequence[float], baseline: Sequence[float], max_pairs: int = HL_MAX_PAIRS) -> float:
    """The Hodges-Lehmann shift: the median of every difference candidate[i] - baseline[j].

    Above `max_pairs` pairs it uses evenly spaced order statistics of each sample (an approximation that keeps
    the estimate within a fraction of the samples' spacing while bounding the work).
    """
    if not candidate or not baseline:
        raise ValueError("the Hodges-Lehmann shift needs two non-empty samples")
    xs, ys = sorted(candidate), sorted(baseline)
    if len(xs) * len(ys) > max_pairs:
        side = max(2, math.isqrt(max_pairs))
        xs, ys = _thin(xs, side), _thin(ys, side)
    # The median of the sorted differences, selected without listing them (see rollouts.pair_select).
    pairs = len(xs) * len(ys)
    mid = pairs // 2
    if pairs % 2:
        return kth_difference(xs, ys, mid)
    return (kth_difference(xs, ys, mid - 1) + kth_difference(xs, ys, mid)) / 2


@dataclass(frozen=True, slots=True)
class MannWhitney:
    """One-sided Mann-Whitney U of candidate > baseline, with effect sizes.

    `u` is the candidate's U statistic (scipy's `mannwhitneyu(candidate, baseline).statistic`); `cles` is
    U / (n1 n2) = P(candidate > baseline) + P(tie) / 2 (0.5: no effect); `hl_shift` the Hodges-Lehmann shift in
    the samples' unit (positive: the candidate is larger).
    """

    u: float
    z: float
    p_value: float
    cles: float
    hl_shift: float
    candidate_n: int
    baseline_n: int

    def to_json(self) -> dict[str, float]:
        return {
            "u": self.u,
            "z": self.z,
            "pValue": self.p_value,
            "cles": self.cles,
            "hlShift": self.hl_shift,
            "candidateN": self.candidate_n,
            "baselineN": self.baseline_n,
        }


def mann_whitney(candidate: Sequence[float], baseline: Sequence[float]) -> MannWhitney:
    """The Mann-Whitney U test that the candidate tends to be larger than the baseline (normal approximation).

    Raises ValueError on an empty sample. With every value tied, the variance is zero: p is 1 (no evidence).
    """
    n1, n2 = len(candidate), len(baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError("the Mann-Whitney test needs two non-empty samples")
    ranks, tie_term = _ranks([*candidate, *baseline])
    u = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        z, p = 0.0, 1.0
    else:
        z = (u - mean - 0.5) / math.sqrt(variance)  # continuity correction toward the null
        p = 1 - _NORMAL.cdf(z)
    return MannWhitney(u, z, p, u / (n1 * n2), hodges_lehmann(candidate, baseline), n1, n2)
