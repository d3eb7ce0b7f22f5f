"""The gate evidence as the console renders it (`console.gate_view`): rows built from real `rollouts.gates.evaluate`
results, so the wording follows what the gates actually store."""

from __future__ import annotations

from console.gate_view import GateRow, gate_table, threshold_rows
from rollouts.gates import ComparisonCounts, Evidence, GateMode, PathSample, Requirements, Thresholds, evaluate
from rollouts.model import RolloutPlan


def _rows(evidence: Evidence, mode: GateMode, th: Thresholds, req: Requirements) -> dict[str, GateRow]:
    table = gate_table(evaluate(evidence, mode, th, req).to_json(), th)
    assert table is not None
    return {row.name: row for row in table.rows}


def test_a_shadow_hold_says_how_many_more_matched_comparisons_and_operations_it_needs() -> None:
    th = Thresholds(min_matches=20, min_samples=20)
    evidence = Evidence(PathSample(), PathSample(), ComparisonCounts(match=8, mismatch=0), elapsed_s=30)
    rows = _rows(evidence, GateMode.SHADOW, th, Requirements(min_ops=50, min_duration_s=600))
    mismatch = rows["mismatch"]
    assert mismatch.verdict == "hold"
    assert "needs 12 more matched comparisons" in mismatch.needs
    assert "20 matched" in mismatch.threshold
    assert "95% CI" in mismatch.observed
    assert rows["min_ops"].needs == "needs 42 more shadow comparisons"
    assert rows["min_duration"].needs == "needs 9m30s more"


def test_a_canary_with_few_durable_operations_says_how_many_more_each_path_needs() -> None:
    th = Thresholds(min_samples=20, require_comparisons_in_canary=False)
    evidence = Evidence(PathSample(total=40), PathSample(total=5), ComparisonCounts(), elapsed_s=1000)
    rows = _rows(evidence, GateMode.CANARY, th, Requirements(min_ops=30, min_duration_s=600, canary_steps=3))
    failure = rows["failure_rate"]
    assert failure.verdict == "hold"
    assert failure.needs == "needs 15 more durable operations"
    assert rows["min_ops"].needs == "needs 25 more durable operations"
    assert rows["min_duration"].verdict == "pass" and rows["min_duration"].needs == ""


def test_a_judged_failure_rate_shows_both_rates_with_their_intervals_and_the_margin() -> None:
    th = Thresholds(min_samples=20, require_comparisons_in_canary=False)
    evidence = Evidence(PathSample(total=500, failures=5), PathSample(total=500, failures=60), ComparisonCounts())
    failure = _rows(evidence, GateMode.CANARY, th, Requirements())["failure_rate"]
    assert failure.verdict == "fail"
    assert "durable 12.0% (60/500, 95% CI" in failure.observed
    assert "vs legacy 1.00% (5/500" in failure.observed
    assert "2.00% points above legacy" in failure.threshold
    assert failure.needs == ""


def test_an_unknown_check_keeps_its_reason_and_no_result_renders_as_none() -> None:
    stored = {"outcome": "inconclusive", "mode": "canary", "checks": [{"name": "new_check", "outcome": "inconclusive",
              "reason": "something new", "evidence": {}}]}  # fmt: skip
    table = gate_table(stored, Thresholds())
    assert table is not None and table.rows[0].observed == "something new" and table.outcome == "hold"
    assert gate_table(None, Thresholds()) is None
    assert gate_table({"outcome": "pass"}, Thresholds()) is None


def test_the_thresholds_table_names_what_the_mismatch_gate_wants() -> None:
    plan = RolloutPlan(scope={"application": "api"}, min_ops=100, thresholds=Thresholds(min_matches=20))
    rows = dict(threshold_rows(plan))
    assert rows["matched comparisons needed"] == "20"
    assert rows["operations per step"] == "at least 100"
    assert rows["time per step"] == "at least 10m00s"


def test_the_judged_shortfall_is_said_only_beyond_the_matched_one() -> None:
    th = Thresholds(min_matches=5, min_samples=20)
    evidence = Evidence(PathSample(), PathSample(), ComparisonCounts(match=2, mismatch=0), elapsed_s=30)
    mismatch = _rows(evidence, GateMode.SHADOW, th, Requirements())["mismatch"]
    assert mismatch.needs == "needs 18 more judged comparisons, 3 of them matched"
    th = Thresholds(min_matches=5, min_samples=3)
    mismatch = _rows(evidence, GateMode.SHADOW, th, Requirements())["mismatch"]
    assert mismatch.needs == "needs 3 more matched comparisons"
