"""The fixed-horizon canary checks (`GateFamily.FIXED_HORIZON`): today's tests, kept as the benchmark's baseline.

- `failure_rate`: durable's failure rate is not significantly higher than legacy's (`stats.proportion_worse_test`,
  one-sided, a minimum sample per path). It passes unless it can show durable is worse: a small sample passes.
- `latency`: durable's p99 within `latency_bound` of legacy's; beyond it, a fail only when Mann-Whitney also finds
  durable slower overall (p < alpha) by a material effect (common-language effect size at least 0.5 +
  `min_cles_effect`), else a hold.

Each test's alpha holds for one look at a sample size fixed in advance. Read at every tick, as a rollout reads its
gates, the chance of a false verdict grows with the number of looks (`cloudops bench gates` measures by how much).
Next: `rollouts.sequential_checks`, the default family, and `rollouts.gates.evaluate`, which picks one.
"""

from __future__ import annotations

import math
from typing import Any

from rollouts.gate_text import format_duration, rate
from rollouts.gate_values import Evidence, GateCheck, Thresholds
from rollouts.stats import Verdict, mann_whitney, percentiles, proportion_worse_test

__all__ = ["fixed_failure_check", "fixed_latency_check"]


def fixed_failure_check(ev: Evidence, th: Thresholds) -> GateCheck:
    test = proportion_worse_test(
        ev.durable.failures,
        ev.durable.total,
        ev.legacy.failures,
        ev.legacy.total,
        alpha=th.alpha,
        min_samples=th.min_samples,
    )
    evidence = {**test.to_json(), "family": th.family.value, "baseline": ev.baseline}
    durable, legacy = rate(ev.durable.failures, ev.durable.total), rate(ev.legacy.failures, ev.legacy.total)
    if test.verdict is Verdict.INCONCLUSIVE:
        reason = (
            f"failure rate: too few operations to compare (durable {ev.durable.total}, legacy {ev.legacy.total}; "
            f"need {th.min_samples} on each path)"
        )
    else:
        method = "Fisher exact" if test.method == "fisher" else "two-proportion z"
        worse = "is worse than" if test.verdict is Verdict.FAIL else "is not worse than"
        sign = "<" if test.verdict is Verdict.FAIL else ">="
        reason = (
            f"failure rate: durable {durable} {worse} legacy {legacy} "
            f"(one-sided {method} p={test.p_value:.3g} {sign} {th.alpha:g}, fixed-horizon)"
        )
    return GateCheck("failure_rate", test.verdict, reason, evidence)


def fixed_latency_check(ev: Evidence, th: Thresholds) -> GateCheck:
    durable, legacy = ev.durable.latencies, ev.legacy.latencies
    evidence: dict[str, Any] = {
        "family": th.family.value,
        "durable": percentiles(durable),
        "legacy": percentiles(legacy),
        "bound": th.latency_bound,
        "baseline": ev.baseline,
    }
    if min(len(durable), len(legacy)) < th.min_latency_samples:
        reason = (
            f"latency: too few timed operations (durable {len(durable)}, legacy {len(legacy)}; "
            f"need {th.min_latency_samples} on each path)"
        )
        return GateCheck("latency", Verdict.INCONCLUSIVE, reason, evidence)
    d99, l99 = evidence["durable"]["p99"], evidence["legacy"]["p99"]
    ratio = d99 / l99 if l99 > 0 else (math.inf if d99 > 0 else 1.0)
    test = mann_whitney(durable, legacy)
    evidence.update({"p99Ratio": ratio if math.isfinite(ratio) else None, "mannWhitney": test.to_json()})
    change = f"{(ratio - 1) * 100:+.0f}%" if math.isfinite(ratio) else "from zero"
    p99s = (
        f"p99 durable {format_duration(d99)} vs legacy {format_duration(l99)} ({change}, bound +{th.latency_bound:.0%})"
    )
    stats = f"Mann-Whitney p={test.p_value:.3g}, CLES {test.cles:.2f}, shift {test.hl_shift * 1000:+.0f}ms"
    if ratio <= 1 + th.latency_bound:
        return GateCheck("latency", Verdict.PASS, f"latency: {p99s} within the bound ({stats})", evidence)
    if test.p_value < th.alpha and test.cles >= 0.5 + th.min_cles_effect:
        reason = f"latency: {p99s} beyond the bound, and durable is slower overall ({stats})"
        return GateCheck("latency", Verdict.FAIL, reason, evidence)
    reason = (
        f"latency: {p99s} beyond the bound, but the distributions do not differ materially ({stats}); "
        "holding for more data"
    )
    return GateCheck("latency", Verdict.INCONCLUSIVE, reason, evidence)
