"""`cloudops bench gates`: error rates and operations to a decision of the rollout gates, over simulated rollouts.

Each trial is one rollout through --steps, ticked every minute over a synthetic stream (`bench._gate_sim`), in five
scenarios: durable equal to legacy; durable failing 2x and 10x as often; durable 50% slower (every quantile, p99
included); legacy failing 3% with durable 0.01%. Three policies judge the same streams (same seeds):

- `sequential`: the default gates (`GateFamily.SEQUENTIAL`), read at every tick;
- `fixed_every_tick`: today's fixed-horizon gates (`GateFamily.FIXED_HORIZON`), read at every tick, as a rollout
  reads them: their stated alpha does not hold under that;
- `fixed_calibrated`: the same fixed-horizon gates made valid: alpha split over the steps and the two canary
  checks (Bonferroni, as the sequential gates split `rollback_alpha`), read once per step when it has N durable
  operations, N the smallest of a doubling grid whose rates meet the targets in this run (at N a fail rolls back,
  anything else moves on).

Reported per policy and scenario: the false promotion rate (a worse durable promoted), the false rollback rate (an
equal or better one rolled back), and the median durable (and total) operations to the rollout's decision.
Targets: sequential false promotion <= 5% in every worse scenario, false rollback <= 5%, and fewer median durable
operations than the calibrated baseline in every scenario (a rollout still undecided after --max-minutes at a
step counts against the false rates). The mismatch check is out of the simulation
(comparisons are not required in canary), and steps need no minimum operations or duration.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import click

from bench._gate_sim import Decision, Outcome, Policy, Scenario, simulate
from bench._support import Target, emit, json_option
from rollouts.gates import GateFamily, Thresholds

__all__ = ["SCENARIOS", "command"]

LEGACY_FAILURE = 0.03
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("equal", LEGACY_FAILURE, LEGACY_FAILURE),
    Scenario("fails_2x", LEGACY_FAILURE, 2 * LEGACY_FAILURE),
    Scenario("fails_10x", LEGACY_FAILURE, 10 * LEGACY_FAILURE),
    Scenario("p99_50pct_slower", LEGACY_FAILURE, LEGACY_FAILURE, durable_slowdown=1.5),
    Scenario("better", LEGACY_FAILURE, 0.0001),
)
HORIZON_GRID = (25, 50, 100, 200, 400, 800, 1600, 3200, 6400)
MAX_FALSE = 0.05


def _rates(outcomes: Sequence[Outcome], scenario: Scenario) -> dict[str, Any]:
    n = len(outcomes)
    share = {d: sum(o.decision == d for o in outcomes) / n for d in (Decision.PROMOTED, Decision.ROLLED_BACK)}
    undecided = sum(o.decision == Decision.UNDECIDED for o in outcomes) / n
    decided = [o for o in outcomes if o.decision != Decision.UNDECIDED]
    false_rate = share[Decision.PROMOTED] if scenario.worse else share[Decision.ROLLED_BACK]
    return {
        "trials": n,
        "promoted": share[Decision.PROMOTED],
        "rolled_back": share[Decision.ROLLED_BACK],
        "undecided": undecided,
        "false_promotion" if scenario.worse else "false_rollback": false_rate,
        "median_durable_ops": statistics.median(o.durable_ops for o in decided) if decided else None,
        "median_total_ops": statistics.median(o.total_ops for o in decided) if decided else None,
        "median_minutes": statistics.median(o.minutes for o in decided) if decided else None,
    }


def _false_rate(rates: dict[str, Any]) -> float:
    return float(rates.get("false_promotion", rates.get("false_rollback", 0.0))) + float(rates["undecided"])


def _run(policy: Policy, scenario: Scenario, trials: int, sim: Callable[..., Outcome]) -> dict[str, Any]:
    return _rates([sim(scenario, policy, seed=trial) for trial in range(trials)], scenario)


def _calibrate(
    thresholds: Thresholds, trials: int, sim: Callable[..., Outcome]
) -> tuple[Policy | None, dict[str, Any], list[dict[str, Any]]]:
    """The smallest horizon of the grid whose rates meet the error targets in every scenario (and its rates)."""
    tried: list[dict[str, Any]] = []
    for horizon in HORIZON_GRID:
        policy = Policy("fixed_calibrated", thresholds, horizon=horizon)
        rates: dict[str, Any] = {}
        for scenario in SCENARIOS:
            rates[scenario.name] = _run(policy, scenario, trials, sim)
            if _false_rate(rates[scenario.name]) > MAX_FALSE:
                tried.append({"horizon": horizon, "met": False, "missed_in": scenario.name})
                break
        else:
            tried.append({"horizon": horizon, "met": True})
            return policy, rates, tried
    return None, {}, tried


def _parse_steps(ctx: click.Context, param: click.Parameter, text: str) -> tuple[float, ...]:
    from rollouts.errors import InvalidPlan
    from rollouts.model import parse_steps

    try:
        return parse_steps(text)
    except InvalidPlan as exc:
        raise click.BadParameter(exc.message) from None


@click.command()
@click.option("--trials", type=click.IntRange(1, 100_000), default=300, show_default=True, help="Rollouts per cell.")
@click.option("--rate", type=click.IntRange(1, 100_000), default=100, show_default=True, help="Operations a minute.")
@click.option("--steps", default="10,50,100", show_default=True, callback=_parse_steps, help="Canary percents.")
@click.option(
    "--latency-sample", type=click.IntRange(8), default=400, show_default=True, help="Durations kept per path."
)
@click.option(
    "--max-minutes", type=click.IntRange(1), default=600, show_default=True, help="Ticks a step may hold before the "
    "rollout counts as undecided.",
)  # fmt: skip
@json_option
def command(
    trials: int, rate: int, steps: tuple[float, ...], latency_sample: int, max_minutes: int, as_json: bool
) -> None:
    """False promotions, false rollbacks and operations to a decision: sequential gates against today's."""
    started = time.monotonic()

    def sim(scenario: Scenario, policy: Policy, *, seed: int) -> Outcome:
        return simulate(
            scenario, policy, steps=steps, rate=rate, seed=seed, latency_sample=latency_sample, max_minutes=max_minutes
        )

    sequential = Thresholds(require_comparisons_in_canary=False)
    fixed = replace(sequential, family=GateFamily.FIXED_HORIZON)
    split = sequential.rollback_alpha / (len(steps) * 2)
    results: dict[str, dict[str, Any]] = {}
    for policy in (Policy("sequential", sequential), Policy("fixed_every_tick", fixed)):
        results[policy.name] = {s.name: _run(policy, s, trials, sim) for s in SCENARIOS}
    calibrated, rates, tried = _calibrate(replace(fixed, alpha=split), trials, sim)
    results["fixed_calibrated"] = rates
    targets, ratios = _targets(results, calibrated is not None)
    report = {
        "scenarios": {
            s.name: {
                "legacy_failure": s.legacy_failure,
                "durable_failure": s.durable_failure,
                "durable_slowdown": s.durable_slowdown,
                "latency": f"log-normal, median {s.median_s}s, sigma {s.sigma}",
                "worse": s.worse,
            }
            for s in SCENARIOS
        },
        "policies": {
            "sequential": sequential.to_json(),
            "fixed_every_tick": fixed.to_json(),
            "fixed_calibrated": {"alpha": split, "horizon_durable_ops_per_step": calibrated and calibrated.horizon},
        },
        "calibration": {"grid": list(HORIZON_GRID), "tried": tried},
        "results": results,
        "ratios_sequential_to_calibrated_median_durable_ops": ratios,
        "targets": [t.to_json() for t in targets],
    }
    emit(report, started)


def _targets(results: dict[str, dict[str, Any]], calibrated: bool) -> tuple[list[Target], dict[str, float | None]]:
    targets: list[Target] = []
    ratios: dict[str, float | None] = {}
    for scenario in SCENARIOS:
        seq = results["sequential"][scenario.name]
        kind = "false_promotion" if scenario.worse else "false_rollback"
        targets.append(Target.at_most(f"sequential {kind} in {scenario.name}", _false_rate(seq), MAX_FALSE))
        base = results["fixed_calibrated"].get(scenario.name) if calibrated else None
        ratio = None
        if base and base["median_durable_ops"] and seq["median_durable_ops"] is not None:
            ratio = round(seq["median_durable_ops"] / base["median_durable_ops"], 3)
        ratios[scenario.name] = ratio
        name = f"sequential / calibrated fixed median durable ops in {scenario.name}"
        targets.append(Target.at_most(name, ratio, 1.0) if ratio is not None else Target(name, None, 1.0, "<=", False))
    return targets, ratios
