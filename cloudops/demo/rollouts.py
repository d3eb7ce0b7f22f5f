"""The demo's guarded rollouts: one per scope, started together, ticked on a timer, each move told as it happens.

The plans are small so that they can progress within minutes: a step needs `min_ops` operations (or shadow
comparisons) and `min_duration_s` seconds, and the gates' statistical minimums follow `min_ops`. The gates
themselves are the production ones (`rollouts.gates`, sequential): a scope advances, holds or rolls back on its own
evidence. Two thresholds differ, and the demo says so on screen and in its summary (`gates_note`): a demo scope
sees a couple of dozen durable operations per step, and showing that a failure rate is within 2 points of legacy's
(the production default) takes hundreds, so the demo's failure margin is `DEMO_FAILURE_MARGIN`; and a scope's
durations mix operations of very different lengths (and worker kills stretch some to tens of seconds), so two dozen
of them bound a latency ratio only loosely: its latency bound is `DEMO_LATENCY_BOUND`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flags import SHADOW_SAMPLE_KEY, FlagStore
from rollouts.controller import RolloutController, TickResult
from rollouts.gates import Thresholds
from rollouts.leases import LeaseStore
from rollouts.model import Rollout, RolloutPlan, RolloutStatus
from rollouts.service import RolloutService

__all__ = [
    "DEMO_ACTOR",
    "DEMO_FAILURE_MARGIN",
    "DEMO_LATENCY_BOUND",
    "RolloutSettings",
    "RolloutTicker",
    "describe",
    "gates_note",
    "skip_racing_shadows",
    "stage_of",
    "start_rollouts",
]

log = logging.getLogger(__name__)

DEMO_ACTOR = "cloudops-demo"
DEMO_FAILURE_MARGIN = 0.25
"""How much higher durable's failure rate may be in the demo and still pass (absolute: 25 points)."""
DEMO_LATENCY_BOUND = 1.0
"""How much slower durable's typical latency may be in the demo and still pass (100%, twice as slow): a scope's
durations mix creates, resizes and destroys, and two dozen of them bound a ratio only that loosely."""


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """The plan every demo rollout follows."""

    steps: tuple[float, ...] = (50.0, 100.0)
    min_ops: int = 10
    min_duration_s: float = 10.0

    def thresholds(self) -> Thresholds:
        # Gate minimums (operations, matched comparisons) follow min_ops so small demos can move; the latency test
        # needs 8 samples at least.
        return Thresholds(
            min_samples=max(1, self.min_ops),
            min_matches=max(1, self.min_ops),
            min_latency_samples=max(8, self.min_ops),
            failure_margin=DEMO_FAILURE_MARGIN,
            latency_bound=DEMO_LATENCY_BOUND,
        )

    def plan(self, scope: Mapping[str, str]) -> RolloutPlan:
        return RolloutPlan(
            scope=dict(scope),
            steps=self.steps,
            min_ops=self.min_ops,
            min_duration_s=self.min_duration_s,
            thresholds=self.thresholds(),
        )


def gates_note(thresholds: Thresholds | None = None) -> str:
    """The sentence that says how the demo's gates differ from production's defaults."""
    th, default = thresholds or RolloutSettings().thresholds(), Thresholds()
    return (
        f"rollout gates: sequential (anytime-valid); demo failure margin {th.failure_margin:.0%} (points) and latency "
        f"bound {th.latency_bound:.0%}, production defaults {default.failure_margin:.0%} and "
        f"{default.latency_bound:.0%}: a demo step sees too few operations to show tighter ones; promotion and "
        f"rollback alpha {th.promotion_alpha:g} and {th.rollback_alpha:g} as in production"
    )


RACING_OPERATIONS = ("destroyServerGroup",)


def skip_racing_shadows(flags: FlagStore) -> list[str]:
    """Turn shadow sampling off for operations whose dry run races the real one; returns their names.

    A shadow runs beside the authoritative call, not before it: when the real destroy is done first, the other
    path's dry run finds no server group and reports NotFound, a mismatch that says nothing about either path.
    An operator does the same with this flag (`cloudops flags set cloudops.shadow.sample_percent 0
    --operation destroyServerGroup --reason ...`)."""
    for operation in RACING_OPERATIONS:
        flags.set_property(
            SHADOW_SAMPLE_KEY,
            0,
            {"operation": operation},
            actor=DEMO_ACTOR,
            reason=f"the dry run of {operation} races the real one and finds the group already gone",
        )
    return list(RACING_OPERATIONS)


def start_rollouts(
    controller: RolloutController, scopes: Sequence[Mapping[str, str]], settings: RolloutSettings
) -> list[Rollout]:
    """A rollout per scope; each puts its scope in shadow at once."""
    return [
        controller.start(settings.plan(scope), actor=DEMO_ACTOR, reason="cloudops demo: guarded rollout")
        for scope in scopes
    ]


def stage_of(rollout: Rollout) -> str:
    """The stage a rollout holds its scope at (its last phase once it has ended)."""
    return (rollout.target or rollout.phase).stage.value


def describe(rollout: Rollout) -> str:
    """Where a rollout is: `canary 50%`, `durable (completed)`, `shadow (rolled back)`."""
    at = rollout.target.label() if rollout.target else rollout.phase.label()
    if rollout.status is RolloutStatus.RUNNING:
        return at
    return f"{at} ({rollout.status.value.replace('_', ' ')})"


class RolloutTicker:
    """The rollout controller service (`rollouts.service.RolloutService`, with its leases) run in-process every
    `interval_s`; `on_change` hears each move of this demo's rollouts in plain words."""

    def __init__(
        self,
        controller: RolloutController,
        rollout_ids: Sequence[str],
        *,
        interval_s: float,
        on_change: Callable[[Rollout, str], None],
    ) -> None:
        self._controller = controller
        self._ids = tuple(rollout_ids)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._latest: dict[str, Rollout] = {}
        self._service = RolloutService(
            controller,
            LeaseStore(controller.store.engine),
            holder="cloudops-demo",
            interval_s=interval_s,
            on_tick=self._told,
        )

    @property
    def errors(self) -> int:
        return self._service.errors

    def start(self) -> None:
        self._latest = {r.id: r for r in (self._controller.get(i) for i in self._ids)}
        self._service.start()

    def stop(self) -> None:
        self._service.close()

    def current(self) -> list[Rollout]:
        with self._lock:
            return [self._latest[i] for i in self._ids if i in self._latest]

    def tick_once(self) -> None:
        """One pass of the controller now (the demo's last one, before its summary)."""
        self._service.tick_due()

    def _told(self, result: TickResult) -> None:
        after = result.rollout
        with self._lock:
            before = self._latest.get(after.id)
            self._latest[after.id] = after
        if before is not None and describe(before) != describe(after):
            self._on_change(after, f"{describe(before)} -> {describe(after)}")
