"""rollouts.gates on constructed evidence: pass, each way to fail, inconclusive on small samples, requirements.

The canary checks here are the fixed-horizon family (`FIXED`); the sequential family, the default, is judged in
test_sequential_gates.py. The shadow checks are the same in both."""

from __future__ import annotations

import random

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
    format_duration,
)

FIXED = Thresholds(family=GateFamily.FIXED_HORIZON)


def _latencies(n: int, median: float, seed: int, spread: float = 0.2) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(max(0.001, rng.gauss(median, median * spread)) for _ in range(n))


def _path(n: int, failures: int, median: float = 1.0, seed: int = 1) -> PathSample:
    return PathSample(total=n, failures=failures, latencies=_latencies(n, median, seed))


def _evidence(
    *,
    legacy: PathSample | None = None,
    durable: PathSample | None = None,
    comparisons: ComparisonCounts | None = None,
    elapsed_s: float = 3600,
) -> Evidence:
    return Evidence(
        legacy=legacy or _path(400, 8, seed=1),
        durable=durable or _path(400, 6, seed=2),
        comparisons=comparisons or ComparisonCounts(match=390, ignored=5, mismatch=1, candidate_error=2),
        elapsed_s=elapsed_s,
    )


def test_healthy_canary_passes_every_check() -> None:
    result = evaluate(_evidence(), GateMode.CANARY, FIXED, Requirements(min_ops=100, min_duration_s=600))
    assert result.outcome is Verdict.PASS, result.summary()
    assert [c.name for c in result.checks] == ["failure_rate", "latency", "mismatch", "min_ops", "min_duration"]
    assert all(c.outcome is Verdict.PASS for c in result.checks)
    failure = result.check("failure_rate")
    assert failure is not None and failure.evidence["candidateFailures"] == 6 and failure.evidence["method"] == "z"
    assert result.to_json()["outcome"] == "pass"


def test_worse_durable_failure_rate_fails() -> None:
    result = evaluate(_evidence(durable=_path(400, 30, seed=2)), GateMode.CANARY, FIXED)
    assert result.outcome is Verdict.FAIL
    check = result.check("failure_rate")
    assert check is not None and check.outcome is Verdict.FAIL
    assert "is worse than legacy" in check.reason and "p=" in check.reason
    assert result.reasons[0] == check.reason  # the deciding reason comes first


def test_rare_failures_use_the_exact_test() -> None:
    result = evaluate(_evidence(legacy=_path(60, 0), durable=_path(60, 7, seed=2)), GateMode.CANARY, FIXED)
    check = result.check("failure_rate")
    assert check is not None and check.outcome is Verdict.FAIL and "Fisher exact" in check.reason


def test_mismatch_rate_above_threshold_fails() -> None:
    counts = ComparisonCounts(match=170, mismatch=30)
    result = evaluate(_evidence(comparisons=counts), GateMode.SHADOW)
    assert result.outcome is Verdict.FAIL
    assert [c.name for c in result.checks] == ["mismatch"]  # shadow mode judges comparisons only
    check = result.check("mismatch")
    assert check is not None and "above 1.00%" in check.reason
    assert check.evidence["mismatchRate"] == pytest.approx(0.15)


def test_candidate_errors_fail_even_without_any_comparable_pair() -> None:
    result = evaluate(_evidence(comparisons=ComparisonCounts(candidate_timeout=40)), GateMode.SHADOW)
    assert result.outcome is Verdict.FAIL
    assert "candidate errors" in result.reasons[0]


def test_slight_mismatch_excess_holds_rather_than_fails() -> None:
    # 1 mismatch in 40 is 2.5% > 1%, but the one-sided Wilson lower bound is below 1%: not yet certain.
    result = evaluate(_evidence(comparisons=ComparisonCounts(match=39, mismatch=1)), GateMode.SHADOW)
    assert result.outcome is Verdict.INCONCLUSIVE
    assert "holding for more data" in result.reasons[0]


def test_slower_durable_fails_on_latency() -> None:
    slow = PathSample(total=400, failures=6, latencies=_latencies(400, 1.8, seed=3))
    result = evaluate(_evidence(durable=slow), GateMode.CANARY, FIXED)
    assert result.outcome is Verdict.FAIL
    check = result.check("latency")
    assert check is not None and check.outcome is Verdict.FAIL
    assert check.evidence["mannWhitney"]["pValue"] < 0.05 and check.evidence["mannWhitney"]["cles"] > 0.56
    assert check.evidence["p99Ratio"] > 1.2
    assert "beyond the bound" in check.reason


def test_tail_only_regression_holds() -> None:
    # Same bulk distribution, a heavier tail: p99 is beyond the bound but the distributions do not differ overall.
    base = list(_latencies(400, 1.0, seed=4, spread=0.1))
    tail = base[:-8] + [5.0] * 8
    result = evaluate(
        _evidence(legacy=PathSample(400, 8, tuple(base)), durable=PathSample(400, 8, tuple(tail))),
        GateMode.CANARY,
        FIXED,
    )
    check = result.check("latency")
    assert check is not None and check.outcome is Verdict.INCONCLUSIVE and "holding" in check.reason
    assert result.outcome is Verdict.INCONCLUSIVE


def test_small_samples_are_inconclusive() -> None:
    result = evaluate(
        _evidence(durable=_path(5, 1, seed=2), comparisons=ComparisonCounts(match=5)),
        GateMode.CANARY,
        FIXED,
    )
    assert result.outcome is Verdict.INCONCLUSIVE
    outcomes = {c.name: c.outcome for c in result.checks}
    assert outcomes == {
        "failure_rate": Verdict.INCONCLUSIVE,
        "latency": Verdict.INCONCLUSIVE,
        "mismatch": Verdict.INCONCLUSIVE,
    }
    assert "too few operations" in result.reasons[0]


def test_requirements_hold_a_passing_step_but_never_block_a_failure() -> None:
    waiting = evaluate(_evidence(elapsed_s=30), GateMode.CANARY, FIXED, Requirements(1000, 600))
    assert waiting.outcome is Verdict.INCONCLUSIVE
    reasons = " ".join(waiting.reasons)
    assert "400 durable operations at this step (need 1000): waiting" in reasons
    assert f"{format_duration(30)} at this step" in reasons
    failing = evaluate(
        _evidence(durable=_path(400, 40, seed=2), elapsed_s=30), GateMode.CANARY, FIXED, Requirements(1000, 600)
    )
    assert failing.outcome is Verdict.FAIL


def test_canary_without_comparisons_depends_on_the_threshold() -> None:
    evidence = _evidence(comparisons=ComparisonCounts())
    assert evaluate(evidence, GateMode.CANARY, FIXED).outcome is Verdict.INCONCLUSIVE
    relaxed = Thresholds(family=GateFamily.FIXED_HORIZON, require_comparisons_in_canary=False)
    assert evaluate(evidence, GateMode.CANARY, relaxed).outcome is Verdict.PASS


def test_thresholds_validate_and_round_trip() -> None:
    custom = Thresholds(max_mismatch_rate=0.05, latency_bound=0.5, min_samples=10)
    assert Thresholds.from_json(custom.to_json()) == custom
    with pytest.raises(ValueError, match="unknown threshold 'max_mismatch'"):
        Thresholds.from_json({"max_mismatch": 0.1})
    with pytest.raises(ValueError, match="alpha"):
        Thresholds(alpha=0.9)
    with pytest.raises(ValueError, match="min_latency_samples"):
        Thresholds(min_latency_samples=3)
    looser = evaluate(_evidence(comparisons=ComparisonCounts(match=170, mismatch=3)), GateMode.SHADOW, custom)
    assert looser.outcome is Verdict.PASS


# Gates that cannot be fooled: ignored comparisons are neither matches nor mismatches (issue: a broad ignore rule
# moved a scope to canary with zero matching plans).


def test_ignored_comparisons_alone_never_pass_the_shadow_gate() -> None:
    result = evaluate(_evidence(comparisons=ComparisonCounts(ignored=25)), GateMode.SHADOW)
    check = result.check("mismatch")
    assert check is not None and check.outcome is Verdict.FAIL, check.reason if check else None
    assert "ignore rules hide 100% of comparisons" in check.reason


def test_the_mismatch_rate_is_over_matched_and_mismatched_only() -> None:
    # 2 mismatches in 100 judged is 2% (over 1%): with 300 ignored on top it must not read as 0.5%.
    counts = ComparisonCounts(match=98, mismatch=2, ignored=300)
    assert counts.mismatch_rate == 0.02 and counts.judged == 100 and counts.compared == 400
    relaxed = Thresholds(max_ignored_share=1.0)
    check = evaluate(_evidence(comparisons=counts), GateMode.SHADOW, relaxed).check("mismatch")
    assert check is not None and check.outcome is not Verdict.PASS
    assert check.evidence["mismatchRate"] == 0.02


def test_an_ignored_share_over_the_threshold_fails_and_names_it() -> None:
    counts = ComparisonCounts(match=170, mismatch=0, ignored=30)  # 15% ignored
    check = evaluate(_evidence(comparisons=counts), GateMode.SHADOW).check("mismatch")
    assert check is not None and check.outcome is Verdict.FAIL
    assert "ignore rules hide 15% of comparisons (30 of 200" in check.reason
    within = evaluate(_evidence(comparisons=ComparisonCounts(match=190, ignored=10)), GateMode.SHADOW)
    assert within.outcome is Verdict.PASS, within.summary()
    allowed = evaluate(_evidence(comparisons=counts), GateMode.SHADOW, Thresholds(max_ignored_share=0.2))
    assert allowed.outcome is Verdict.PASS


def test_too_few_matches_hold_even_when_nothing_mismatched() -> None:
    counts = ComparisonCounts(match=15, mismatch=0, candidate_error=0)
    check = evaluate(_evidence(comparisons=counts), GateMode.SHADOW, Thresholds(min_samples=10)).check("mismatch")
    assert check is not None and check.outcome is Verdict.INCONCLUSIVE
    assert "15 matched" in check.reason and "20 matched" in check.reason
    enough = evaluate(_evidence(comparisons=counts), GateMode.SHADOW, Thresholds(min_samples=10, min_matches=15))
    assert enough.outcome is Verdict.PASS


def test_a_small_sample_with_a_broad_ignore_rule_holds_rather_than_rolls_back() -> None:
    # Two of three ignored is a broad rule, but three comparisons are too few to roll a scope back on.
    check = evaluate(_evidence(comparisons=ComparisonCounts(match=1, ignored=2)), GateMode.SHADOW).check("mismatch")
    assert check is not None and check.outcome is Verdict.INCONCLUSIVE


def test_new_thresholds_validate() -> None:
    with pytest.raises(ValueError, match="min_matches"):
        Thresholds(min_matches=0)
    with pytest.raises(ValueError, match="max_ignored_share"):
        Thresholds(max_ignored_share=1.5)
    assert Thresholds.from_json({"min_matches": 5, "max_ignored_share": 0.2}) == Thresholds(
        min_matches=5, max_ignored_share=0.2
    )
