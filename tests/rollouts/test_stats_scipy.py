"""rollouts.stats against scipy and numpy on many generated inputs (seeded, so a failure reproduces)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import scipy.stats as st

from rollouts.stats import (
    PercentileMethod,
    Verdict,
    fisher_greater_p,
    hodges_lehmann,
    mann_whitney,
    percentile,
    percentiles,
    proportion_worse_test,
    wilson_interval,
    z_for,
)


def _close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


@pytest.mark.parametrize("seed", range(4))
def test_wilson_interval_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        n = rng.randint(1, 5000)
        k = rng.choice([0, n, rng.randint(0, n), rng.randint(0, min(n, 5))])
        confidence = rng.choice([0.9, 0.95, 0.99])
        ours = wilson_interval(k, n, confidence)
        theirs = st.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        assert _close(ours.low, theirs.low, abs_=1e-12), (k, n, confidence)
        assert _close(ours.high, theirs.high, abs_=1e-12), (k, n, confidence)
        assert ours.low <= ours.estimate <= ours.high


def test_wilson_edge_cases() -> None:
    assert wilson_interval(0, 0).to_json() == {"estimate": 0.0, "low": 0.0, "high": 1.0, "confidence": 0.95}
    assert wilson_interval(0, 10).low == 0.0
    assert wilson_interval(10, 10).high == 1.0
    one_sided = wilson_interval(3, 100, 0.95, two_sided=False)
    two_sided = wilson_interval(3, 100, 0.90)
    assert _close(one_sided.low, two_sided.low)  # a one-sided 95% bound is a two-sided 90% bound
    assert _close(z_for(0.95), st.norm.ppf(0.975))
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
    with pytest.raises(ValueError):
        z_for(1.5)


@pytest.mark.parametrize("seed", range(4))
def test_fisher_one_sided_matches_scipy(seed: int) -> None:
    rng = random.Random(100 + seed)
    for _ in range(150):
        na, nb = rng.randint(1, 400), rng.randint(1, 400)
        a, b = rng.randint(0, min(na, 12)), rng.randint(0, min(nb, 12))
        if rng.random() < 0.3:
            a, b = rng.randint(0, na), rng.randint(0, nb)
        ours = fisher_greater_p(a, na, b, nb)
        theirs = st.fisher_exact([[a, na - a], [b, nb - b]], alternative="greater").pvalue
        assert _close(ours, theirs, rel=1e-7, abs_=1e-12), (a, na, b, nb, ours, theirs)


@pytest.mark.parametrize("seed", range(3))
def test_two_proportion_z_matches_scipy_chi_square(seed: int) -> None:
    rng = random.Random(200 + seed)
    checked = 0
    while checked < 150:
        na, nb = rng.randint(50, 20000), rng.randint(50, 20000)
        pa, pb = rng.uniform(0.02, 0.5), rng.uniform(0.02, 0.5)
        a, b = int(na * pa), int(nb * pb)
        test = proportion_worse_test(a, na, b, nb, min_samples=20)
        if test.method != "z":
            continue
        checked += 1
        # The pooled z-test squared is Pearson's chi-square without continuity correction.
        chi2 = st.chi2_contingency([[a, na - a], [b, nb - b]], correction=False).statistic
        assert test.z is not None and test.p_value is not None
        assert _close(test.z**2, chi2, rel=1e-7)
        assert _close(test.p_value, st.norm.sf(test.z), rel=1e-7, abs_=1e-14)
        assert test.verdict is (Verdict.FAIL if test.p_value < 0.05 else Verdict.PASS)


def test_proportion_test_guards_and_method_choice() -> None:
    small = proportion_worse_test(3, 10, 0, 500, min_samples=20)
    assert small.verdict is Verdict.INCONCLUSIVE and small.p_value is None
    rare = proportion_worse_test(6, 100, 0, 100)  # expected failure counts under 5: exact test
    assert rare.method == "fisher" and rare.verdict is Verdict.FAIL
    equal = proportion_worse_test(2, 100, 2, 100)
    assert equal.method == "fisher" and equal.verdict is Verdict.PASS
    better = proportion_worse_test(10, 1000, 60, 1000)
    assert better.method == "z" and better.verdict is Verdict.PASS and better.p_value is not None
    assert better.p_value > 0.99
    with pytest.raises(ValueError):
        proportion_worse_test(5, 4, 0, 10)


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_matches_scipy(seed: int) -> None:
    rng = random.Random(300 + seed)
    for _ in range(60):
        n1, n2 = rng.randint(8, 120), rng.randint(8, 120)
        shift = rng.choice([0.0, 0.2, 1.0])
        digits = rng.choice([0, 1, 3])  # coarse rounding makes many ties
        xs = [round(rng.gauss(shift, 1), digits) for _ in range(n1)]
        ys = [round(rng.gauss(0, 1), digits) for _ in range(n2)]
        ours = mann_whitney(xs, ys)
        theirs = st.mannwhitneyu(xs, ys, alternative="greater", method="asymptotic", use_continuity=True)
        assert _close(ours.u, float(theirs.statistic))
        assert _close(ours.p_value, float(theirs.pvalue), rel=1e-7, abs_=1e-14), (n1, n2, digits)
        assert _close(ours.cles, float(theirs.statistic) / (n1 * n2))
        assert _close(ours.hl_shift, float(np.median(np.subtract.outer(xs, ys))), abs_=1e-9)


def test_mann_whitney_degenerate_and_effect_direction() -> None:
    tied = mann_whitney([1.0] * 10, [1.0] * 12)
    assert tied.p_value == 1.0 and tied.cles == 0.5 and tied.hl_shift == 0.0
    slower = mann_whitney([x + 10 for x in range(20)], list(range(20)))
    assert slower.p_value < 0.01 and slower.cles == 0.875 and slower.hl_shift == 10
    with pytest.raises(ValueError):
        mann_whitney([], [1.0])


def test_hodges_lehmann_thinning_stays_close() -> None:
    rng = random.Random(7)
    xs = [rng.expovariate(1) + 0.3 for _ in range(1500)]
    ys = [rng.expovariate(1) for _ in range(1500)]
    exact = float(np.median(np.subtract.outer(xs, ys)))
    thinned = hodges_lehmann(xs, ys, max_pairs=40_000)
    assert abs(thinned - exact) < 0.05


@pytest.mark.parametrize("method", list(PercentileMethod))
def test_percentiles_match_numpy(method: PercentileMethod) -> None:
    numpy_method = "linear" if method is PercentileMethod.LINEAR else "inverted_cdf"
    rng = random.Random(400)
    for _ in range(300):
        values = [rng.lognormvariate(0, 1) for _ in range(rng.randint(1, 300))]
        for q in (0, 1, 50, 95, 99, 99.9, 100):
            expected = float(np.percentile(values, q, method=numpy_method))
            assert _close(percentile(values, q, method), expected), (len(values), q)
    assert percentiles([]) is None
    assert percentiles([1.0, 2.0, 3.0]) == {"p50": 2.0, "p95": 2.9, "p99": 2.98}
    with pytest.raises(ValueError):
        percentile([1.0], 101)
