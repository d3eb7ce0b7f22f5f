"""Guarded rollouts: a plan per flag scope, moved phase by phase (shadow, canary steps, durable) by gates over the
router's recorded evidence, rolled back on failure, every transition on a timeline.

    controller = RolloutController(engine, SqlFlagStore(engine))
    rollout = controller.start(RolloutPlan({"application": "api"}), actor="alice")
    controller.tick(rollout.id)

Modules: `controller` (start, tick, pause, resume, abort: the shell that reads and writes), `model` (plan,
rollout, events, parsing), `store` (SQL, compare-and-set), `tick` (one tick's judgement as a pure transition),
`evidence` (reads the router's outcomes), `flag` (writes the stage flag), `gates` (the pure verdict over evidence;
its values in `gate_values`, its wording in `gate_text`), `sequential_checks` and `sequential` (the default canary
checks: anytime-valid SPRTs), `fixed_checks` and `stats` (the fixed-horizon checks, the benchmark's baseline, and
the descriptive statistics), `tables`, `errors`.

May import: `router` (the contract and the outcome tables it reads as evidence), `flags`. Never the gateway or the
console.
"""

from rollouts.controller import RolloutController, TickAction, TickResult
from rollouts.errors import (
    InvalidPlan,
    InvalidTransition,
    RolloutConflict,
    RolloutError,
    RolloutNotFound,
    RolloutStoreUnavailable,
)
from rollouts.gates import Thresholds
from rollouts.model import Rollout, RolloutEvent, RolloutPlan, RolloutStatus

__all__ = [
    "InvalidPlan",
    "InvalidTransition",
    "Rollout",
    "RolloutConflict",
    "RolloutController",
    "RolloutError",
    "RolloutEvent",
    "RolloutNotFound",
    "RolloutPlan",
    "RolloutStatus",
    "RolloutStoreUnavailable",
    "Thresholds",
    "TickAction",
    "TickResult",
]
