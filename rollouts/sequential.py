"""Sequential, anytime-valid tests for the rollout gates: a gate read at every tick keeps its error rates.

Pure functions over counts and samples (standard library only); the sequential gates (`rollouts.sequential_checks`)
read them. Both tests are Wald's sequential probability ratio test (SPRT) between two simple hypotheses about a
difference theta (durable minus legacy), in information time: with theta_hat the estimate and V its variance, the
score theta_hat / V behaves as Brownian motion with drift theta in information 1 / V (the approximation behind
group-sequential designs: Jennison & Turnbull, "Group Sequential Methods", 2000, ch. 3 and 13). The log likelihood
ratio of theta = a against theta = b is

    llr(a, b) = ((a - b) / V) * (theta_hat - (a + b) / 2)

whose exponential is a martingale under theta = b (a supermartingale beyond b, on the side away from a), so by
Ville's inequality the chance that it ever reaches log(1 / alpha), at any tick of any length of rollout, is at most
alpha. A weighted average of such ratios is one too; the gates use a few alternatives, most weight on the nearest,
so a durable 10x worse is rolled back in a fraction of the operations a durable at the margin needs. Hence:

- FAIL (durable is worse: roll back) when the mixture of llr(a, 0) over a in `WORSE_ALTERNATIVES` x m, with V the
  variance under theta = 0, reaches log(1 / rollback alpha);
- PASS (durable is within the margin m: promote) when the mixture of llr(a, m) over a in `WITHIN_ALTERNATIVES` x m,
  with V the variance under theta = m, reaches log(1 / promotion alpha): evidence that theta < m, the
  non-inferiority claim, not the absence of evidence against it;
- HOLD in between. Between 0 and m (the indifference zone) either decision is acceptable; the test still ends.

Against a fixed-sample test with the same two error rates, the SPRT needs about half the observations on average
at the two hypotheses (Wald & Wolfowitz 1948), and far fewer when the truth is far from both. The errors hold in the
Gaussian limit, like the asymptotic confidence sequences of Waudby-Smith et al. (2021); `tests/rollouts/
test_sequential.py` checks them by seeded simulation under continuous monitoring, rare failures included.

`mixture_interval` is the two-sided normal-mixture confidence sequence (Robbins 1970; Howard et al., "Time-uniform,
nonparametric, nonasymptotic confidence sequences", 2021, eq. (14)): the anytime-valid interval the gates show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "WITHIN_ALTERNATIVES",
    "WORSE_ALTERNATIVES",
    "LogMeans",
    "SequentialTest",
    "SprtVerdict",
    "log_means",
    "mixture_interval",
    "sprt",
    "sprt_latency",
    "sprt_proportions",
]

_TINY = 1e-12

WORSE_ALTERNATIVES: tuple[tuple[float, float], ...] = ((1.0, 0.8), (4.0, 0.1), (16.0, 0.1))
"""(alternative in margins, weight) for "worse": the margin itself, and 4 and 16 margins worse."""
WITHIN_ALTERNATIVES: tuple[tuple[float, float], ...] = ((0.0, 0.8), (-1.0, 0.1), (-4.0, 0.1))
"""(alternative in margins, weight) for "within the margin": equal to legacy, and 1 and 4 margins better."""


def _mixture_llr(estimate: float, variance: float, null: float, alternatives: Sequence[tuple[float, float]]) -> float:
    """log of the weighted average of the likelihood ratios of each alternative against `null` (log-sum-exp)."""
    terms = [math.log(w) + (a - null) / variance * (estimate - (a + null) / 2) for a, w in alternatives]
    peak = max(terms)
    return peak + math.log(math.fsum(math.exp(t - peak) for t in terms))


class SprtVerdict(StrEnum):
    """Where an SPRT stands: crossed the worse bound, crossed the within-margin bound, or neither yet."""

    WORSE = "worse"
    WITHIN_MARGIN = "within_margin"
    UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True)
class SequentialTest:
    """One look at an SPRT of theta = 0 against theta = margin (theta = durable minus legacy).

    `llr_worse` is the log likelihood ratio for "worse" (theta = margin over theta = 0) and `llr_within` the one for
    "within the margin" (theta = 0 over theta = margin); each decides when it reaches its bound, log(1 / its alpha).
    `interval` is the anytime-valid (1 - rollback alpha) normal-mixture confidence sequence for theta.
    """

    verdict: SprtVerdict
    estimate: float
    margin: float
    llr_worse: float
    llr_within: float
    worse_bound: float
    within_bound: float
    interval: tuple[float, float]

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "estimate": self.estimate,
            "margin": self.margin,
            "llrWorse": self.llr_worse,
            "llrWithin": self.llr_within,
            "worseBound": self.worse_bound,
            "withinBound": self.within_bound,
            "interval": list(self.interval),
        }


def mixture_interval(estimate: float, variance: float, alpha: float, scale: float) -> tuple[float, float]:
    """The two-sided normal-mixture confidence sequence for theta around `estimate` (variance `variance`).

    Valid at every look at once with probability 1 - alpha (in the Gaussian limit); `scale` is the standard
    deviation of the mixing distribution, the size of effect it is tightest for (the gates use the margin)."""
    if variance <= 0:
        return (estimate, estimate)
    ratio = scale * scale / variance
    radius = math.sqrt(variance * (1 + 1 / ratio) * (2 * math.log(1 / alpha) + math.log(1 + ratio)))
    return (estimate - radius, estimate + radius)


def sprt(
    estimate: float,
    variance_null: float,
    variance_margin: float,
    variance_estimate: float,
    *,
    margin: float,
    worse_alpha: float,
    within_alpha: float,
) -> SequentialTest:
    """The mixture SPRT of theta = 0 against theta = `margin` at one look, from the estimate and its variances.

    `variance_null` is the estimate's variance were theta 0 (it judges "worse"), `variance_margin` were theta the
    margin (it judges "within the margin"), `variance_estimate` the plug-in one (for the interval, which is shown,
    not used to decide: the SPRT's bounds are the decision). Raises ValueError on a margin or alphas out of range."""
    if not margin > 0 or not math.isfinite(margin):
        raise ValueError(f"the margin must be above 0, got {margin}")
    for name, value in (("worse_alpha", worse_alpha), ("within_alpha", within_alpha)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    worse_bound, within_bound = math.log(1 / worse_alpha), math.log(1 / within_alpha)
    # Durations that never vary (or counts at 0 and 1) leave no variance: the estimate is then all the evidence.
    variance_null, variance_margin = max(variance_null, _TINY), max(variance_margin, _TINY)
    worse = [(k * margin, w) for k, w in WORSE_ALTERNATIVES]
    within = [(k * margin, w) for k, w in WITHIN_ALTERNATIVES]
    llr_worse = _mixture_llr(estimate, variance_null, 0.0, worse)
    llr_within = _mixture_llr(estimate, variance_margin, margin, within)
    if llr_worse >= worse_bound:
        verdict = SprtVerdict.WORSE
    elif llr_within >= within_bound:
        verdict = SprtVerdict.WITHIN_MARGIN
    else:
        verdict = SprtVerdict.UNDECIDED
    interval = mixture_interval(estimate, variance_estimate, worse_alpha, margin)
    return SequentialTest(verdict, estimate, margin, llr_worse, llr_within, worse_bound, within_bound, interval)


def _smoothed(failures: int, n: int) -> float:
    """A rate for variances only: (failures + 1/2) / (n + 1), never 0 or 1, so zero failures still carry variance."""
    return (failures + 0.5) / (n + 1)


def sprt_proportions(
    candidate_failures: int,
    candidate_n: int,
    baseline_failures: int,
    baseline_n: int,
    *,
    margin: float,
    worse_alpha: float,
    within_alpha: float,
) -> SequentialTest:
    """The SPRT of the failure-rate difference p_candidate - p_baseline: 0 against `margin` (absolute, 0.02 = 2
    points). Under 0 the variance is the pooled rate's; under the margin the candidate's rate is the baseline's plus
    the margin, so a candidate with no failures yet passes only once its count could tell it from that rate."""
    for failures, n in ((candidate_failures, candidate_n), (baseline_failures, baseline_n)):
        if n < 1 or not 0 <= failures <= n:
            raise ValueError(f"need 0 <= failures <= n and n >= 1, got {failures} of {n}")
    estimate = candidate_failures / candidate_n - baseline_failures / baseline_n
    pooled = _smoothed(candidate_failures + baseline_failures, candidate_n + baseline_n)
    variance_null = pooled * (1 - pooled) * (1 / candidate_n + 1 / baseline_n)
    base = _smoothed(baseline_failures, baseline_n)
    shifted = min(base + margin, 1 - 1 / (2 * (candidate_n + 1)))
    variance_margin = shifted * (1 - shifted) / candidate_n + base * (1 - base) / baseline_n
    own = _smoothed(candidate_failures, candidate_n)
    variance_estimate = own * (1 - own) / candidate_n + base * (1 - base) / baseline_n
    return sprt(
        estimate,
        variance_null,
        variance_margin,
        variance_estimate,
        margin=margin,
        worse_alpha=worse_alpha,
        within_alpha=within_alpha,
    )


@dataclass(frozen=True, slots=True)
class LogMeans:
    """Count, mean and sample variance of the logarithms of positive durations (the latency test's summary)."""

    n: int
    mean: float
    variance: float


def log_means(durations: Sequence[float], floor_s: float = 1e-6) -> LogMeans:
    """LogMeans of `durations` in seconds; a duration under `floor_s` counts as `floor_s` (a log needs a positive)."""
    logs = [math.log(max(d, floor_s)) for d in durations]
    n = len(logs)
    if n == 0:
        return LogMeans(0, 0.0, 0.0)
    mean = math.fsum(logs) / n
    variance = math.fsum((x - mean) ** 2 for x in logs) / (n - 1) if n > 1 else 0.0
    return LogMeans(n, mean, variance)


def sprt_latency(
    candidate: LogMeans, baseline: LogMeans, *, bound: float, worse_alpha: float, within_alpha: float
) -> SequentialTest:
    """The SPRT of the latency ratio on the log scale: theta = mean log candidate - mean log baseline (the log of the
    ratio of geometric means), 0 against log(1 + `bound`) (0.2: durable 20% slower). Welch's variance."""
    if min(candidate.n, baseline.n) < 2:
        raise ValueError("the latency test needs at least two durations on each path")
    if not bound > 0:
        raise ValueError(f"the latency bound must be above 0, got {bound}")
    variance = candidate.variance / candidate.n + baseline.variance / baseline.n
    return sprt(
        candidate.mean - baseline.mean,
        variance,
        variance,
        variance,
        margin=math.log1p(bound),
        worse_alpha=worse_alpha,
        within_alpha=within_alpha,
    )
