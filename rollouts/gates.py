"""Rollout gates: from aggregated evidence to pass / fail / inconclusive, with reasons a person can read.

Pure: `evaluate(evidence, mode, thresholds, requirements)` reads numbers and returns a `GateResult`. The guarded
rollout (`rollouts.controller`) and the shadow report's verdicts (`cloudops.report`) both call it, so a report's "ready"
and a rollout's "pass" can never disagree. The values are in `rollouts.gate_values`.

Checks (each pass, fail or inconclusive, each with its evidence):

- `failure_rate` and `latency` (canary), by `thresholds.family`: sequential (the default,
  `rollouts.sequential_checks`: anytime-valid tests that keep their error rates however often they are read, and
  pass only on evidence that durable is within its margins) or fixed-horizon (`rollouts.fixed_checks`: today's
  one-look tests, kept as the benchmark's baseline).
- `mismatch` (shadow and canary): the shadow mismatch rate (mismatch / (match + mismatch): an ignored comparison
  is neither) and the candidate error rate ((error + timeout) / attempted) are under their thresholds. A rate
  above its threshold fails only when the one-sided Wilson lower bound is above it too; otherwise it holds. The
  check holds until `min_matches` comparisons matched, so ignore rules can never stand in for matching plans, and
  it fails when ignore rules hide more than `max_ignored_share` of the comparisons (a rule that broad says
  nothing about the paths). In canary it needs comparisons too, unless `require_comparisons_in_canary` is off.
- `min_ops`, `min_duration`: a step may pass only after enough operations and enough time; never a failure.

A failing check fails the whole result at once, whatever the others say (fail fast: a rollback needs no minimum
duration). Otherwise any inconclusive check holds; all passing passes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rollouts.fixed_checks import fixed_failure_check, fixed_latency_check
from rollouts.gate_text import format_duration, pct, rate
from rollouts.gate_values import (
    ComparisonCounts,
    Evidence,
    GateCheck,
    GateFamily,
    GateMode,
    GateResult,
    PathSample,
    Requirements,
    Thresholds,
)
from rollouts.sequential_checks import sequential_failure_check, sequential_latency_check
from rollouts.stats import Verdict, wilson_interval

__all__ = [
    "ComparisonCounts",
    "Evidence",
    "GateCheck",
    "GateFamily",
    "GateMode",
    "GateResult",
    "PathSample",
    "Requirements",
    "Thresholds",
    "Verdict",
    "evaluate",
    "format_duration",
]


def _rate_verdict(part: int, whole: int, limit: float, th: Thresholds) -> Verdict:
    if whole < th.min_samples:
        return Verdict.INCONCLUSIVE
    if part / whole <= limit:
        return Verdict.PASS
    lower = wilson_interval(part, whole, 1 - th.alpha, two_sided=False).low
    return Verdict.FAIL if lower > limit else Verdict.INCONCLUSIVE


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE if Verdict.INCONCLUSIVE in verdicts else Verdict.PASS


def _mismatch_check(ev: Evidence, mode: GateMode, th: Thresholds) -> GateCheck:
    c = ev.comparisons
    if mode is GateMode.CANARY and c.total == 0 and not th.require_comparisons_in_canary:
        reason = "shadow: no comparisons in this window (not required in canary by these thresholds)"
        return GateCheck("mismatch", Verdict.PASS, reason, c.to_json())
    mismatch = _rate_verdict(c.mismatch, c.judged, th.max_mismatch_rate, th)
    errors = _rate_verdict(c.candidate_failures, c.attempted, th.max_candidate_error_rate, th)
    evidence = {
        **c.to_json(),
        "mismatchRate": c.mismatch_rate,
        "ignoredShare": c.ignored_share,
        "candidateErrorRate": c.candidate_failures / c.attempted if c.attempted else None,
        "maxMismatchRate": th.max_mismatch_rate,
        "maxIgnoredShare": th.max_ignored_share,
        "maxCandidateErrorRate": th.max_candidate_error_rate,
        "minMatches": th.min_matches,
    }
    hidden = c.ignored_share
    if hidden is not None and hidden > th.max_ignored_share and c.compared >= th.min_samples:
        reason = (
            f"shadow: ignore rules hide {hidden * 100:.0f}% of comparisons ({c.ignored} of {c.compared}; at most "
            f"{pct(th.max_ignored_share)} may be ignored): narrow the rules, or fix the differences they hide"
        )
        return GateCheck("mismatch", Verdict.FAIL, reason, evidence)
    outcome = _combine([mismatch, errors])
    if outcome is not Verdict.FAIL and (c.judged < th.min_samples or c.match < th.min_matches):
        reason = (
            f"shadow: too few comparisons ({c.match} matched, {c.mismatch} mismatched, {c.ignored} ignored, "
            f"{c.attempted} attempted; need {th.min_samples} judged and {th.min_matches} matched)"
        )
        return GateCheck("mismatch", Verdict.INCONCLUSIVE, reason, evidence)
    words = {Verdict.PASS: "within", Verdict.FAIL: "above", Verdict.INCONCLUSIVE: "possibly above"}
    parts = []
    if c.judged:
        parts.append(
            f"mismatch rate {rate(c.mismatch, c.judged)} {words[mismatch]} {pct(th.max_mismatch_rate)}"
            + (f", {c.ignored} ignored" if c.ignored else "")
        )
    parts.append(
        f"candidate errors {rate(c.candidate_failures, c.attempted)} {words[errors]} {pct(th.max_candidate_error_rate)}"
    )
    tail = "; holding for more data" if outcome is Verdict.INCONCLUSIVE else ""
    return GateCheck("mismatch", outcome, "shadow: " + ", ".join(parts) + tail, evidence)


def _requirement_checks(ev: Evidence, mode: GateMode, req: Requirements) -> list[GateCheck]:
    ops = ev.durable.total if mode is GateMode.CANARY else ev.comparisons.attempted
    what = "durable operations" if mode is GateMode.CANARY else "shadow comparisons"
    enough = ops >= req.min_ops
    checks = [
        GateCheck(
            "min_ops",
            Verdict.PASS if enough else Verdict.INCONCLUSIVE,
            f"{ops} {what} at this step (need {req.min_ops})" + ("" if enough else ": waiting"),
            {"ops": ops, "required": req.min_ops},
        )
    ]
    long_enough = ev.elapsed_s >= req.min_duration_s
    checks.append(
        GateCheck(
            "min_duration",
            Verdict.PASS if long_enough else Verdict.INCONCLUSIVE,
            f"{format_duration(ev.elapsed_s)} at this step (need {format_duration(req.min_duration_s)})"
            + ("" if long_enough else ": waiting"),
            {"elapsedS": ev.elapsed_s, "requiredS": req.min_duration_s},
        )
    )
    return checks


def evaluate(
    evidence: Evidence,
    mode: GateMode,
    thresholds: Thresholds | None = None,
    requirements: Requirements | None = None,
) -> GateResult:
    """Judge one scope's evidence. `requirements` (min ops, min duration) apply to rollout steps only; their
    `canary_steps` share the rollback alpha (none given: one step, as the report judges a scope)."""
    th = thresholds or Thresholds()
    checks: list[GateCheck] = []
    if mode is GateMode.CANARY:
        if th.family is GateFamily.SEQUENTIAL:
            req = requirements or Requirements()
            checks += [sequential_failure_check(evidence, th, req), sequential_latency_check(evidence, th, req)]
        else:
            checks += [fixed_failure_check(evidence, th), fixed_latency_check(evidence, th)]
    checks.append(_mismatch_check(evidence, mode, th))
    if requirements is not None:
        checks += _requirement_checks(evidence, mode, requirements)
    return GateResult(_combine([c.outcome for c in checks]), mode, tuple(checks))
