"""Simulated rollouts for `cloudops bench gates`: synthetic operation streams judged by the real gates every minute.

A rollout goes through canary steps (no shadow phase: the mismatch check is not what is measured). Each minute
`rate` operations arrive; each goes to durable with the step's percent, fails with its path's failure rate, and
takes a log-normal duration. At the tick the step's evidence is built as `rollouts.evidence.EvidenceReader` builds
it (durable from the step's window; legacy from the window, or from the rollout's start when the window holds
fewer than `min_samples`; latencies a bounded uniform sample per path, like the read model's) and judged by
`rollouts.gates.evaluate`: pass moves on (past the last step: promoted), fail rolls back, inconclusive waits.
A `Policy` says which gates judge and when: at every tick, or once when the step has `horizon` durable operations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rollouts.gates import (
    ComparisonCounts,
    Evidence,
    GateMode,
    PathSample,
    Requirements,
    Thresholds,
    Verdict,
    evaluate,
)

__all__ = ["Decision", "Outcome", "Policy", "Reservoir", "Scenario", "simulate"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """Two synthetic paths: failure rates, and log-normal durations (median seconds, log-scale sigma); durable's
    durations are legacy's times `durable_slowdown` (1.5: every quantile, p99 included, 50% slower)."""

    name: str
    legacy_failure: float
    durable_failure: float
    durable_slowdown: float = 1.0
    median_s: float = 2.0
    sigma: float = 0.5

    @property
    def worse(self) -> bool:
        """Whether promoting durable here is an error (it fails more, or is slower)."""
        return self.durable_failure > self.legacy_failure or self.durable_slowdown > 1.0


@dataclass(frozen=True, slots=True)
class Policy:
    """Which gates judge and when: at every tick (`horizon` None), or once per step at `horizon` durable ops."""

    name: str
    thresholds: Thresholds
    horizon: int | None = None


class Decision:
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    UNDECIDED = "undecided"  # no decision within the simulation's limit


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one simulated rollout ended, after how many durable and total operations and minutes."""

    decision: str
    durable_ops: int
    total_ops: int
    minutes: int


@dataclass(slots=True)
class Reservoir:
    """A uniform sample of at most `size` values of a stream (Vitter's algorithm R), as the read model bounds its
    latency sample per path."""

    size: int
    rng: random.Random
    values: list[float] = field(default_factory=list)
    seen: int = 0

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.size:
            self.values[slot] = value


@dataclass(slots=True)
class _Counts:
    total: int
    failures: int
    latencies: Reservoir

    def sample(self) -> PathSample:
        return PathSample(self.total, self.failures, tuple(self.latencies.values))


def _counts(size: int, rng: random.Random) -> _Counts:
    return _Counts(0, 0, Reservoir(size, rng))


def simulate(
    scenario: Scenario,
    policy: Policy,
    *,
    steps: tuple[float, ...],
    rate: int,
    seed: int,
    latency_sample: int,
    max_minutes: int,
) -> Outcome:
    """One rollout of `scenario` under `policy`, from `seed` (the same seed gives every policy the same stream).

    At a fixed horizon only a fail rolls back and anything else moves on (the one-look design's rule, and today's
    gates' meaning: a check that cannot show harm does not stop the rollout); `max_minutes` per step without a
    decision ends it undecided."""
    rng = random.Random(seed)
    keep = random.Random(seed + 1)  # the reservoirs' own draws, so sampling never shifts the stream
    th = policy.thresholds
    requirements = Requirements(canary_steps=len(steps))
    since_start = _counts(latency_sample, keep)
    durable_ops = total_ops = minutes = 0
    for percent in steps:
        durable, legacy = _counts(latency_sample, keep), _counts(latency_sample, keep)
        verdict = Verdict.INCONCLUSIVE
        for minute in range(1, max_minutes + 1):
            _arrive(scenario, rate, percent / 100, rng, durable, legacy, since_start)
            if policy.horizon is not None and durable.total < policy.horizon:
                continue
            baseline = legacy if legacy.total >= th.min_samples else since_start
            evidence = Evidence(baseline.sample(), durable.sample(), ComparisonCounts(), elapsed_s=minute * 60.0)
            verdict = evaluate(evidence, GateMode.CANARY, th, requirements).outcome
            if verdict is not Verdict.INCONCLUSIVE or policy.horizon is not None:
                break
        durable_ops += durable.total
        total_ops += durable.total + legacy.total
        minutes += minute
        if verdict is Verdict.INCONCLUSIVE and policy.horizon is None:
            return Outcome(Decision.UNDECIDED, durable_ops, total_ops, minutes)
        if verdict is Verdict.FAIL:
            return Outcome(Decision.ROLLED_BACK, durable_ops, total_ops, minutes)
    return Outcome(Decision.PROMOTED, durable_ops, total_ops, minutes)


def _arrive(
    scenario: Scenario,
    rate: int,
    share: float,
    rng: random.Random,
    durable: _Counts,
    legacy: _Counts,
    since_start: _Counts,
) -> None:
    """One minute of operations: each to durable with probability `share`, failing and timed by its path."""
    for _ in range(rate):
        on_durable = rng.random() < share
        failed = rng.random() < (scenario.durable_failure if on_durable else scenario.legacy_failure)
        seconds = rng.lognormvariate(0.0, scenario.sigma) * scenario.median_s
        if on_durable:
            seconds *= scenario.durable_slowdown
        for counts in (durable,) if on_durable else (legacy, since_start):
            counts.total += 1
            counts.failures += failed
            counts.latencies.add(seconds)
