"""The sequential gate family (the default) on constructed evidence: what passes, fails and holds, and why.

The issue it answers: a fixed-horizon failure gate passes a small sample because it cannot show durable is worse.
A sequential gate passes only on evidence that durable is within its margin, holds when the data cannot tell, and
shares its error rates over the rollout's steps.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from rollouts.gates import (
    ComparisonCounts,
    Evidence,
    GateFamily,
    GateMode,
    PathSample,
    Requirements,
    Thresholds,
    Verdict,
    evaluate,
)

NO_SHADOW = Thresholds(require_comparisons_in_canary=False)


def _path(n: int, failures: int, median: float = 1.0, seed: int = 1, spread: float = 0.3) -> PathSample:
    rng = random.Random(seed)
    return PathSample(n, failures, tuple(rng.lognormvariate(0, spread) * median for _ in range(min(n, 2000))))


def _evidence(legacy: PathSample, durable: PathSample) -> Evidence:
    return Evidence(legacy=legacy, durable=durable, comparisons=ComparisonCounts(), elapsed_s=600)


def test_the_default_family_is_sequential_and_a_healthy_canary_passes_on_evidence() -> None:
    assert Thresholds().family is GateFamily.SEQUENTIAL
    result = evaluate(_evidence(_path(3000, 90), _path(3000, 45, seed=2)), GateMode.CANARY, NO_SHADOW)
    assert result.outcome is Verdict.PASS, result.summary()
    failure, latency = result.check("failure_rate"), result.check("latency")
    assert failure is not None and latency is not None
    assert "within the 2.00% margin" in failure.reason and failure.evidence["family"] == "sequential"
    assert failure.evidence["llrWithin"] >= failure.evidence["withinBound"]
    assert "within the bound +20%" in latency.reason and "shown, not tested" in latency.reason


def test_a_small_clean_sample_holds_where_the_fixed_horizon_gate_passes_it() -> None:
    evidence = _evidence(_path(400, 12), _path(40, 0, seed=2))
    fixed = evaluate(evidence, GateMode.CANARY, replace(NO_SHADOW, family=GateFamily.FIXED_HORIZON))
    sequential = evaluate(evidence, GateMode.CANARY, NO_SHADOW)
    assert fixed.check("failure_rate").outcome is Verdict.PASS  # type: ignore[union-attr]
    check = sequential.check("failure_rate")
    assert check is not None and check.outcome is Verdict.INCONCLUSIVE
    assert "cannot tell yet against the 2.00% margin" in check.reason
    assert sequential.outcome is Verdict.INCONCLUSIVE


def test_too_few_operations_hold_with_the_minimum_named() -> None:
    result = evaluate(_evidence(_path(400, 12), _path(5, 0, seed=2)), GateMode.CANARY, NO_SHADOW)
    check = result.check("failure_rate")
    assert check is not None and check.outcome is Verdict.INCONCLUSIVE
    assert "too few operations" in check.reason and "need 20 on each path" in check.reason
    assert result.check("latency").outcome is Verdict.INCONCLUSIVE  # type: ignore[union-attr]


def test_a_durable_failing_ten_times_as_often_fails_within_a_few_dozen_operations() -> None:
    result = evaluate(_evidence(_path(400, 12), _path(40, 12, seed=2)), GateMode.CANARY, NO_SHADOW)
    check = result.check("failure_rate")
    assert result.outcome is Verdict.FAIL and check is not None and check.outcome is Verdict.FAIL
    assert "is worse than legacy" in check.reason and result.reasons[0] == check.reason


def test_a_slower_durable_fails_on_latency_and_a_faster_one_passes() -> None:
    slow = evaluate(_evidence(_path(400, 0), _path(100, 0, median=1.5, seed=2)), GateMode.CANARY, NO_SHADOW)
    check = slow.check("latency")
    assert check is not None and check.outcome is Verdict.FAIL and "durable is slower" in check.reason
    assert check.evidence["ratio"] == pytest.approx(1.5, rel=0.1)
    fast = evaluate(_evidence(_path(400, 0), _path(100, 0, median=0.5, seed=2)), GateMode.CANARY, NO_SHADOW)
    assert fast.check("latency").outcome is Verdict.PASS  # type: ignore[union-attr]


def test_the_error_rates_are_shared_over_the_rollout_steps() -> None:
    evidence = _evidence(_path(3000, 90), _path(3000, 45, seed=2))
    result = evaluate(evidence, GateMode.CANARY, NO_SHADOW, Requirements(canary_steps=4))
    check = result.check("failure_rate")
    assert check is not None
    # Rollback: a union over 4 steps and 2 checks. Promotion: a worse durable must pass all 4 steps.
    assert check.evidence["rollbackAlphaThisCheck"] == pytest.approx(0.05 / 8)
    assert check.evidence["promotionAlphaThisStep"] == pytest.approx(0.05**0.25)
    one_step = evaluate(evidence, GateMode.CANARY, NO_SHADOW).check("failure_rate")
    assert one_step is not None and one_step.evidence["promotionAlphaThisStep"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="canary_steps"):
        Requirements(canary_steps=0)


def test_shadow_mode_is_the_same_in_both_families() -> None:
    counts = ComparisonCounts(match=170, mismatch=30)
    evidence = Evidence(_path(0, 0), _path(0, 0), counts)
    for family in GateFamily:
        result = evaluate(evidence, GateMode.SHADOW, Thresholds(family=family))
        assert result.outcome is Verdict.FAIL and [c.name for c in result.checks] == ["mismatch"]


def test_sequential_thresholds_validate_and_round_trip() -> None:
    custom = Thresholds(family=GateFamily.FIXED_HORIZON, failure_margin=0.01, promotion_alpha=0.1)
    data = custom.to_json()
    assert data["family"] == "fixed_horizon" and Thresholds.from_json(data) == custom
    assert Thresholds.from_json({"family": "sequential"}).family is GateFamily.SEQUENTIAL
    # Thresholds stored before the sequential gates take their defaults.
    assert Thresholds.from_json({"alpha": 0.05, "min_samples": 20}).family is GateFamily.SEQUENTIAL
    for bad, message in (
        ({"family": "bayesian"}, "family must be one of sequential, fixed_horizon"),
        ({"failure_margin": 0}, "failure_margin must be above 0"),
        ({"rollback_alpha": 0.7}, "rollback_alpha must be between 0 and 0.5"),
        ({"promotion_alpha": 0}, "promotion_alpha must be between 0 and 0.5"),
        ({"latency_bound": 0}, "latency_bound must be above 0"),
    ):
        with pytest.raises(ValueError, match=message):
            Thresholds.from_json(bad)
