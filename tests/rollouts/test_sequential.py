"""rollouts.sequential against scipy and known values, and its error rates under continuous monitoring.

The monitoring simulations are seeded and small (a few hundred runs, a look every few observations): each checks
that the chance of a wrong verdict at any look stays within its alpha plus the simulation's noise (three binomial
standard errors), which a fixed-sample test read the same way does not (its rate is shown beside, far above).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from rollouts.sequential import (
    WITHIN_ALTERNATIVES,
    WORSE_ALTERNATIVES,
    LogMeans,
    SprtVerdict,
    log_means,
    mixture_interval,
    sprt,
    sprt_latency,
    sprt_proportions,
)


def _slack(alpha: float, runs: int) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_the_llrs_are_normal_likelihood_ratios_mixed_over_the_alternatives() -> None:
    estimate, v0, v1, margin = 0.013, 2e-5, 3e-5, 0.02
    test = sprt(estimate, v0, v1, v0, margin=margin, worse_alpha=0.01, within_alpha=0.05)

    def mixture(variance: float, null: float, alternatives: tuple[tuple[float, float], ...]) -> float:
        sd = math.sqrt(variance)
        ratios = [
            w * math.exp(stats.norm.logpdf(estimate, k * margin, sd) - stats.norm.logpdf(estimate, null, sd))
            for k, w in alternatives
        ]
        return math.log(sum(ratios))

    assert test.llr_worse == pytest.approx(mixture(v0, 0.0, WORSE_ALTERNATIVES), rel=1e-9)
    assert test.llr_within == pytest.approx(mixture(v1, margin, WITHIN_ALTERNATIVES), rel=1e-9)
    assert test.worse_bound == pytest.approx(math.log(100)) and test.within_bound == pytest.approx(math.log(20))
    assert sum(w for _, w in WORSE_ALTERNATIVES) == pytest.approx(1) == sum(w for _, w in WITHIN_ALTERNATIVES)


def test_the_mixture_interval_is_where_the_mixture_martingale_reaches_one_over_alpha() -> None:
    # Robbins' normal mixture: M = integral of exp(l S - l^2 I / 2) over l ~ N(0, scale^2), with S = I (estimate -
    # theta) and I = 1 / variance; the interval's ends are the thetas where M = 1 / alpha.
    estimate, variance, alpha, scale = 0.4, 0.01, 0.05, 0.3
    low, high = mixture_interval(estimate, variance, alpha, scale)
    info = 1 / variance
    for end in (low, high):
        score = info * (estimate - end)
        value, _ = integrate.quad(
            lambda lam, s=score: math.exp(lam * s - lam * lam * info / 2) * stats.norm.pdf(lam, 0, scale), -60, 60
        )
        assert value == pytest.approx(1 / alpha, rel=1e-6)
    assert high - estimate == pytest.approx(estimate - low)
    assert mixture_interval(1.0, 0.0, 0.05, 1.0) == (1.0, 1.0)


def test_log_means_match_numpy() -> None:
    rng = np.random.default_rng(5)
    durations = rng.lognormal(0.3, 0.7, 200)
    found = log_means(durations.tolist())
    assert found.n == 200
    assert found.mean == pytest.approx(np.log(durations).mean(), rel=1e-12)
    assert found.variance == pytest.approx(np.log(durations).var(ddof=1), rel=1e-12)
    assert log_means([]) == LogMeans(0, 0.0, 0.0) and log_means([0.0, 1.0]).mean == pytest.approx(math.log(1e-6) / 2)


def test_clear_cases_decide_and_bad_input_is_refused() -> None:
    kwargs = {"margin": 0.02, "worse_alpha": 0.025, "within_alpha": 0.05}
    assert sprt_proportions(300, 1000, 30, 1000, **kwargs).verdict is SprtVerdict.WORSE
    assert sprt_proportions(0, 1000, 30, 1000, **kwargs).verdict is SprtVerdict.WITHIN_MARGIN
    # Zero failures in 40 operations cannot tell 0% from legacy's 3% plus the margin: hold, never pass by default.
    assert sprt_proportions(0, 40, 30, 1000, **kwargs).verdict is SprtVerdict.UNDECIDED
    same = LogMeans(500, 0.0, 0.25)
    slower = LogMeans(500, math.log(1.5), 0.25)
    assert sprt_latency(slower, same, bound=0.2, worse_alpha=0.025, within_alpha=0.05).verdict is SprtVerdict.WORSE
    assert (
        sprt_latency(same, same, bound=0.2, worse_alpha=0.025, within_alpha=0.05).verdict is SprtVerdict.WITHIN_MARGIN
    )
    for bad in ({"margin": 0.0}, {"worse_alpha": 1.0}, {"within_alpha": 0.0}):
        with pytest.raises(ValueError):
            sprt_proportions(1, 10, 1, 10, **{**kwargs, **bad})
    with pytest.raises(ValueError, match="failures <= n"):
        sprt_proportions(11, 10, 1, 10, **kwargs)
    with pytest.raises(ValueError, match="two durations"):
        sprt_latency(LogMeans(1, 0.0, 0.0), same, bound=0.2, worse_alpha=0.05, within_alpha=0.05)


def _monitor_proportions(p_durable: float, p_legacy: float, runs: int, looks: int, per_look: int) -> list[SprtVerdict]:
    """The first verdict of each run, looking after every `per_look` operations per path (continuous monitoring)."""
    rng = np.random.default_rng(17)
    durable = rng.binomial(1, p_durable, (runs, looks * per_look)).reshape(runs, looks, per_look).sum(2).cumsum(1)
    legacy = rng.binomial(1, p_legacy, (runs, looks * per_look)).reshape(runs, looks, per_look).sum(2).cumsum(1)
    first = []
    for run in range(runs):
        verdict = SprtVerdict.UNDECIDED
        for look in range(looks):
            n = (look + 1) * per_look
            test = sprt_proportions(
                int(durable[run, look]), n, int(legacy[run, look]), n, margin=0.02, worse_alpha=0.05, within_alpha=0.05
            )
            if test.verdict is not SprtVerdict.UNDECIDED:
                verdict = test.verdict
                break
        first.append(verdict)
    return first


def test_equal_rare_failure_rates_are_rarely_called_worse_however_often_they_are_read() -> None:
    runs = 300
    first = _monitor_proportions(0.03, 0.03, runs, looks=150, per_look=20)
    worse = sum(v is SprtVerdict.WORSE for v in first) / runs
    assert worse <= _slack(0.05, runs), worse
    assert sum(v is SprtVerdict.WITHIN_MARGIN for v in first) / runs > 0.9  # and it does decide


def test_a_durable_at_the_margin_is_rarely_passed_however_often_it_is_read() -> None:
    runs = 300
    first = _monitor_proportions(0.05, 0.03, runs, looks=150, per_look=20)  # 2 points worse: exactly the margin
    within = sum(v is SprtVerdict.WITHIN_MARGIN for v in first) / runs
    assert within <= _slack(0.05, runs), within


def test_the_mixture_interval_covers_at_every_look_at_once() -> None:
    # Gaussian observations, the interval read after every 5: the true mean must stay inside at all looks together
    # in at least 1 - alpha of the runs. A fixed 95% interval read the same way misses far more often.
    runs, n, every, alpha, mean = 400, 1000, 5, 0.05, 0.3
    rng = np.random.default_rng(23)
    sums = rng.normal(mean, 1.0, (runs, n)).cumsum(1)[:, every - 1 :: every]
    counts = np.arange(every, n + 1, every)
    anytime_miss = fixed_miss = 0
    for run in range(runs):
        estimates = sums[run] / counts
        ends = [mixture_interval(e, 1 / c, alpha, 0.2) for e, c in zip(estimates, counts, strict=True)]
        anytime_miss += any(not low <= mean <= high for low, high in ends)
        fixed_miss += bool(np.any(np.abs(estimates - mean) > 1.96 / np.sqrt(counts)))
    assert anytime_miss / runs <= _slack(alpha, runs), anytime_miss / runs
    assert fixed_miss / runs > 2 * alpha  # the repeated-looks problem the sequential gates solve
