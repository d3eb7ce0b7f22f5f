"""Rollout gates: from aggregated evidence to pass / fail / inconclusive, with reasons a person can read.

Pure: `evaluate(evidence, mode, thresholds, requirements)` reads numbers and returns a `GateResult`. The guarded
rollout (`rollouts.controller`) and the shadow report's verdicts (`cloudops.report`) both call it, so a report's "ready"
and a rollout's "pass" can never disagree.

Checks (each pass, fail or inconclusive, each with its evidence):

- `failure_rate` (canary): durable's failure rate is not significantly higher than legacy's
  (`stats.proportion_worse_test`, one-sided, with a minimum sample per path).
- `latency` (canary): durable's p99 is within `latency_bound` of legacy's. Beyond it, the check fails only when
  Mann-Whitney also finds durable slower overall (p < alpha) by a material effect (common-language effect size at
  least 0.5 + `min_cles_effect`); a p99 beyond the bound without that is held as inconclusive (tail noise is
  common at low volume; more data decides).
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

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from rollouts.stats import Verdict, mann_whitney, percentiles, proportion_worse_test, wilson_interval

__all__ = [
    "ComparisonCounts",
    "Evidence",
    "GateCheck",
    "GateMode",
    "GateResult",
    "PathSample",
    "Requirements",
    "Thresholds",
    "Verdict",
    "evaluate",
    "format_duration",
]


class GateMode(StrEnum):
    """Which checks apply: in shadow the durable path does not execute, so only the comparison counts."""

    SHADOW = "shadow"
    CANARY = "canary"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Gate thresholds. Rates are fractions (0.01 is 1%); `latency_bound` 0.2 lets durable's p99 be 20% above."""

    alpha: float = 0.05
    min_samples: int = 20
    max_mismatch_rate: float = 0.01
    max_candidate_error_rate: float = 0.05
    latency_bound: float = 0.20
    min_latency_samples: int = 20
    min_cles_effect: float = 0.06
    require_comparisons_in_canary: bool = True
    min_matches: int = 20
    max_ignored_share: float = 0.10

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.alpha < 0.5:
            problems.append(f"alpha must be between 0 and 0.5, got {self.alpha}")
        for name in ("max_mismatch_rate", "max_candidate_error_rate"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                problems.append(f"{name} must be a fraction from 0 to 1, got {value}")
        if not 0 <= self.latency_bound <= 10 or not math.isfinite(self.latency_bound):
            problems.append(f"latency_bound must be from 0 to 10 (0.2 = 20% worse), got {self.latency_bound}")
        if self.min_samples < 1:
            problems.append(f"min_samples must be at least 1, got {self.min_samples}")
        if self.min_matches < 1:
            problems.append(f"min_matches must be at least 1, got {self.min_matches}")
        if not 0 <= self.max_ignored_share <= 1 or not math.isfinite(self.max_ignored_share):
            problems.append(f"max_ignored_share must be a fraction from 0 to 1, got {self.max_ignored_share}")
        if self.min_latency_samples < 8:
            problems.append(
                f"min_latency_samples must be at least 8 (the test's approximation), got {self.min_latency_samples}"
            )
        if not 0 <= self.min_cles_effect < 0.5:
            problems.append(f"min_cles_effect must be from 0 to 0.5, got {self.min_cles_effect}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        """Thresholds from JSON; unknown names raise ValueError naming them (so a typo never goes unnoticed)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown threshold {unknown[0]!r}: the thresholds are {', '.join(sorted(known))}")
        return cls(**dict(data))


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a rollout step needs before it may pass (the report uses none)."""

    min_ops: int = 0
    min_duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PathSample:
    """Finished operations on one path: how many, how many failed, and their durations in seconds."""

    total: int = 0
    failures: int = 0
    latencies: tuple[float, ...] = ()

    @property
    def failure_rate(self) -> float:
        return self.failures / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class ComparisonCounts:
    """Shadow comparisons by outcome (the names of `router.compare.ComparisonOutcome`)."""

    match: int = 0
    mismatch: int = 0
    ignored: int = 0
    candidate_error: int = 0
    candidate_timeout: int = 0
    control_error: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> ComparisonCounts:
        """From {outcome: count}; outcomes this version does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in counts.items() if k in known})

    @property
    def compared(self) -> int:
        """Comparisons where both paths answered (matched, mismatched or ignored)."""
        return self.match + self.mismatch + self.ignored

    @property
    def judged(self) -> int:
        """Comparisons that say whether the plans agree: the mismatch rate's denominator. An ignored comparison
        is neither a match nor a mismatch, so it is not in it."""
        return self.match + self.mismatch

    @property
    def mismatch_rate(self) -> float | None:
        """mismatch / (match + mismatch); None before any comparison was judged."""
        return self.mismatch / self.judged if self.judged else None

    @property
    def ignored_share(self) -> float | None:
        """The share of answered comparisons that ignore rules took out; None before any."""
        return self.ignored / self.compared if self.compared else None

    @property
    def candidate_failures(self) -> int:
        return self.candidate_error + self.candidate_timeout

    @property
    def attempted(self) -> int:
        """Comparisons the candidate was asked for, leaving out those whose control broke."""
        return self.compared + self.candidate_failures

    @property
    def total(self) -> int:
        return self.attempted + self.control_error

    def to_json(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the gates read for one scope over one window. `baseline` says where legacy's numbers came from."""

    legacy: PathSample
    durable: PathSample
    comparisons: ComparisonCounts
    elapsed_s: float = 0.0
    baseline: str = "the same window"


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    outcome: Verdict
    reason: str
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome.value, "reason": self.reason, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class GateResult:
    """The combined outcome with every check; `reasons` lists the deciding checks' reasons first."""

    outcome: Verdict
    mode: GateMode
    checks: tuple[GateCheck, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        deciding = [c.reason for c in self.checks if c.outcome is self.outcome]
        return tuple(deciding + [c.reason for c in self.checks if c.outcome is not self.outcome])

    def check(self, name: str) -> GateCheck | None:
        return next((c for c in self.checks if c.name == name), None)

    def summary(self, limit: int = 1500) -> str:
        """One paragraph: the outcome and each check's reason, deciding ones first (for audit reasons)."""
        text = f"{self.outcome.value}: " + "; ".join(self.reasons)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "mode": self.mode.value, "checks": [c.to_json() for c in self.checks]}


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


def _rate(part: int, whole: int, confidence: float = 0.95) -> str:
    ci = wilson_interval(part, whole, confidence)
    return f"{_pct(ci.estimate)} ({part}/{whole}, {confidence:.0%} CI {_pct(ci.low)}-{_pct(ci.high)})"


def format_duration(seconds: float) -> str:
    """A short human duration: 0s, 850ms, 12.5s, 4m10s, 2h05m."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _failure_check(ev: Evidence, th: Thresholds) -> GateCheck:
    test = proportion_worse_test(
        ev.durable.failures,
        ev.durable.total,
        ev.legacy.failures,
        ev.legacy.total,
        alpha=th.alpha,
        min_samples=th.min_samples,
    )
    evidence = {**test.to_json(), "baseline": ev.baseline}
    durable, legacy = _rate(ev.durable.failures, ev.durable.total), _rate(ev.legacy.failures, ev.legacy.total)
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
            f"(one-sided {method} p={test.p_value:.3g} {sign} {th.alpha:g})"
        )
    return GateCheck("failure_rate", test.verdict, reason, evidence)


def _latency_check(ev: Evidence, th: Thresholds) -> GateCheck:
    durable, legacy = ev.durable.latencies, ev.legacy.latencies
    evidence: dict[str, Any] = {
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
            f"{_pct(th.max_ignored_share)} may be ignored): narrow the rules, or fix the differences they hide"
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
            f"mismatch rate {_rate(c.mismatch, c.judged)} {words[mismatch]} {_pct(th.max_mismatch_rate)}"
            + (f", {c.ignored} ignored" if c.ignored else "")
        )
    parts.append(
        f"candidate errors {_rate(c.candidate_failures, c.attempted)} {words[errors]} "
        f"{_pct(th.max_candidate_error_rate)}"
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
    """Judge one scope's evidence. `requirements` (min ops, min duration) apply to rollout steps only."""
    th = thresholds or Thresholds()
    checks: list[GateCheck] = []
    if mode is GateMode.CANARY:
        checks += [_failure_check(evidence, th), _latency_check(evidence, th)]
    checks.append(_mismatch_check(evidence, mode, th))
    if requirements is not None:
        checks += _requirement_checks(evidence, mode, requirements)
    return GateResult(_combine([c.outcome for c in checks]), mode, tuple(checks))
