"""The sequential canary checks (`GateFamily.SEQUENTIAL`, the default): anytime-valid, so read at every tick.

- `failure_rate`: Wald's SPRT (`rollouts.sequential.sprt_proportions`) of the difference of failure rates, durable
  minus legacy, 0 against `failure_margin`. PASS is evidence that durable is within the margin (non-inferiority),
  FAIL evidence that it is worse, HOLD neither yet. A small sample holds; it never passes by default.
- `latency`: the same SPRT on the log scale (`sprt_latency`): the ratio of the paths' geometric mean durations, 1
  against 1 + `latency_bound`. It judges the bulk of the distribution; p99s are shown beside it but not tested
  (a tail-only regression is not this check's to catch: a distribution-free p99 bound needs hundreds of timed
  operations per step).

Error rates, over a whole rollout of k canary steps (`Requirements.canary_steps`):

- a durable no worse than legacy is rolled back with probability at most `rollback_alpha`: any step and either
  check may roll it back, so each check at each step gets rollback_alpha / (2 k) (a union bound);
- a durable worse than a margin is promoted with probability at most `promotion_alpha`: it must pass every step,
  each on its own step's durable operations, so each step gets promotion_alpha ** (1 / k) (the product of the
  steps' chances). Exact when the steps' evidence is disjoint; a step whose window lacks legacy operations reads
  legacy's since the rollout started, reusing earlier steps' (`cloudops bench gates` measures the rate with it).
Next: `rollouts.gates.evaluate`, which runs these or the fixed-horizon ones (`rollouts.fixed_checks`).
"""

from __future__ import annotations

import math
from typing import Any

from rollouts.gate_text import format_duration, pct, rate
from rollouts.gate_values import Evidence, GateCheck, Requirements, Thresholds
from rollouts.sequential import SequentialTest, SprtVerdict, log_means, sprt_latency, sprt_proportions
from rollouts.stats import Verdict, percentiles

__all__ = [
    "CHECKS_THAT_ROLL_BACK",
    "promotion_alpha_per_step",
    "rollback_alpha_per_check",
    "sequential_failure_check",
    "sequential_latency_check",
]

CHECKS_THAT_ROLL_BACK = 2
"""The canary checks that share a step's part of `rollback_alpha`: failure rate and latency."""

_OUTCOME = {
    SprtVerdict.WORSE: Verdict.FAIL,
    SprtVerdict.WITHIN_MARGIN: Verdict.PASS,
    SprtVerdict.UNDECIDED: Verdict.INCONCLUSIVE,
}


def rollback_alpha_per_check(th: Thresholds, req: Requirements) -> float:
    """Each check's share of the rollout's rollback alpha, so the union over steps and checks stays within it."""
    return th.rollback_alpha / (req.canary_steps * CHECKS_THAT_ROLL_BACK)


def promotion_alpha_per_step(th: Thresholds, req: Requirements) -> float:
    """Each step's chance of passing a worse durable, so the product over the rollout's steps is `promotion_alpha`."""
    return float(th.promotion_alpha ** (1 / req.canary_steps))


def _standing(test: SequentialTest) -> str:
    return (
        f"evidence for within {test.llr_within:.2f} of {test.within_bound:.2f}, "
        f"for worse {test.llr_worse:.2f} of {test.worse_bound:.2f}"
    )


def _evidence(test: SequentialTest, th: Thresholds, req: Requirements, ev: Evidence) -> dict[str, Any]:
    return {
        **test.to_json(),
        "family": th.family.value,
        "promotionAlphaThisStep": promotion_alpha_per_step(th, req),
        "rollbackAlphaThisCheck": rollback_alpha_per_check(th, req),
        "baseline": ev.baseline,
    }


def sequential_failure_check(ev: Evidence, th: Thresholds, req: Requirements) -> GateCheck:
    d, lg = ev.durable, ev.legacy
    if min(d.total, lg.total) < th.min_samples:
        reason = (
            f"failure rate: too few operations to compare (durable {d.total}, legacy {lg.total}; "
            f"need {th.min_samples} on each path)"
        )
        evidence = {"family": th.family.value, "durableN": d.total, "legacyN": lg.total, "baseline": ev.baseline}
        return GateCheck("failure_rate", Verdict.INCONCLUSIVE, reason, evidence)
    alpha = rollback_alpha_per_check(th, req)
    test = sprt_proportions(
        d.failures, d.total, lg.failures, lg.total, margin=th.failure_margin, worse_alpha=alpha,
        within_alpha=promotion_alpha_per_step(th, req),
    )  # fmt: skip
    rates = f"durable {rate(d.failures, d.total)} vs legacy {rate(lg.failures, lg.total)}"
    detail = f"difference {test.estimate * 100:+.2f} points; sequential test, {_standing(test)}"
    outcome = _OUTCOME[test.verdict]
    if outcome is Verdict.PASS:
        reason = f"failure rate: {rates} is within the {pct(th.failure_margin)} margin ({detail})"
    elif outcome is Verdict.FAIL:
        reason = f"failure rate: {rates} is worse than legacy ({detail})"
    else:
        reason = f"failure rate: {rates}: cannot tell yet against the {pct(th.failure_margin)} margin ({detail})"
    evidence = {
        **_evidence(test, th, req, ev),
        "candidateFailures": d.failures,
        "candidateN": d.total,
        "baselineFailures": lg.failures,
        "baselineN": lg.total,
    }
    return GateCheck("failure_rate", outcome, reason, evidence)


def sequential_latency_check(ev: Evidence, th: Thresholds, req: Requirements) -> GateCheck:
    durable, legacy = ev.durable.latencies, ev.legacy.latencies
    described: dict[str, Any] = {"durable": percentiles(durable), "legacy": percentiles(legacy)}
    if min(len(durable), len(legacy)) < th.min_latency_samples:
        reason = (
            f"latency: too few timed operations (durable {len(durable)}, legacy {len(legacy)}; "
            f"need {th.min_latency_samples} on each path)"
        )
        return GateCheck("latency", Verdict.INCONCLUSIVE, reason, {**described, "family": th.family.value})
    alpha = rollback_alpha_per_check(th, req)
    d_logs, l_logs = log_means(durable), log_means(legacy)
    test = sprt_latency(
        d_logs, l_logs, bound=th.latency_bound, worse_alpha=alpha, within_alpha=promotion_alpha_per_step(th, req)
    )
    ratio = math.exp(test.estimate)
    typical = (
        f"typical (geometric mean) durable {format_duration(math.exp(d_logs.mean))} vs legacy "
        f"{format_duration(math.exp(l_logs.mean))} ({(ratio - 1) * 100:+.0f}%)"
    )
    p99 = f"p99 {format_duration(described['durable']['p99'])} vs {format_duration(described['legacy']['p99'])}"
    detail = f"sequential test, {_standing(test)}; {p99}, shown, not tested"
    outcome = _OUTCOME[test.verdict]
    if outcome is Verdict.PASS:
        reason = f"latency: {typical} within the bound +{th.latency_bound:.0%} ({detail})"
    elif outcome is Verdict.FAIL:
        reason = f"latency: {typical}: durable is slower ({detail})"
    else:
        reason = f"latency: {typical}: cannot tell yet against +{th.latency_bound:.0%} ({detail}); holding"
    evidence = {**_evidence(test, th, req, ev), **described, "ratio": ratio, "bound": th.latency_bound}
    return GateCheck("latency", outcome, reason, evidence)
