"""Guarded rollouts: a plan stored in SQL, moved step by step by its gates, with every transition on its timeline.

    controller = RolloutController(engine, SqlFlagStore(engine))
    rollout = controller.start(RolloutPlan({"application": "api"}, steps=(1, 5, 25, 50, 100)), actor="alice")
    controller.tick(rollout.id)          # from `cloudops rollout tick|watch`, a cron job, or the console

The phases are shadow (gated on the shadow comparison only: durable does not execute yet), then canary at each
step, then durable (the rollout completes). On each tick the evidence since the step started is judged by
`rollouts.gates.evaluate`:

- pass: the next phase is written to the stage flag (actor `rollout:<id>`, the evidence summary as reason);
- fail: the scope goes back at once to the last phase that passed (legacy if none) and the rollout ends as
  `rolled_back`; start a new rollout to try again;
- inconclusive: hold (the timeline records a hold when the set of held checks changes, not on every tick).

People can `pause` (ticks hold), `resume` (the step's evidence window restarts, since traffic during a pause may
not reflect the step, and the step's flag value is re-applied) and `abort` (the scope returns to legacy, or with
`keep=True` stays as it is). If someone changes the flag outside the rollout, the next tick pauses it and says so.

Every change is a compare-and-set on the rollout's version (`RolloutStore.save`), so two tickers never both
advance; the flag is written after the change commits, and a failed write is retried on the next tick. A tick's
judgement is the pure `rollouts.tick.judge`; this controller reads what it needs and applies what it returns.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flags import FlagStore, MigrationStage as Stage
from rollouts.errors import InvalidTransition, RolloutConflict
from rollouts.evidence import EvidenceReader
from rollouts.flag import FlagKeeper, phase_of
from rollouts.gates import Evidence
from rollouts.model import (
    LEGACY,
    EventKind,
    Rollout,
    RolloutEvent,
    RolloutPlan,
    RolloutStatus,
)
from rollouts.store import RolloutStore
from rollouts.tick import TickAction, TickResult, Transition, flag_override, judge

__all__ = ["RolloutController", "TickAction", "TickResult"]


_ATTEMPTS = 5
_LOST = "another ticker moved it first"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RolloutController:
    """Starts, ticks, pauses, resumes and aborts rollouts; the console and the CLI both drive rollouts with it."""

    def __init__(
        self,
        engine: sa.Engine,
        flags: FlagStore,
        *,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = lambda: f"ro-{secrets.token_hex(4)}",
    ) -> None:
        self.store = RolloutStore(engine)
        self.evidence = EvidenceReader(engine)
        self._flag = FlagKeeper(self.store, flags, clock)
        self._clock = clock
        self._new_id = new_id

    # -- reads --------------------------------------------------------------------------------------------------

    def get(self, rollout_id: str) -> Rollout:
        return self.store.get(rollout_id)

    def list(self, statuses: Sequence[RolloutStatus] = (), *, limit: int = 100) -> builtins.list[Rollout]:
        return self.store.list(statuses, limit=limit)

    def timeline(self, rollout_id: str) -> builtins.list[RolloutEvent]:
        self.store.get(rollout_id)  # RolloutNotFound for an unknown id
        return self.store.events(rollout_id)

    # -- start --------------------------------------------------------------------------------------------------

    def start(self, plan: RolloutPlan, *, actor: str, reason: str = "", now: datetime | None = None) -> Rollout:
        """Create a rollout and put its scope in shadow, whatever stage it had (the start event records that one).

        RolloutConflict if the scope has an active rollout or is already durable or complete."""
        now = now or self._clock()
        other = self.store.active_for(plan.scope_key)
        if other is not None:
            raise RolloutConflict(
                f"rollout {other.id} is already {other.status.value} on {plan.describe_scope()}: "
                f"abort it first (`cloudops rollout abort {other.id}`)",
                other_id=other.id,
            )
        prop = self._flag.read(plan.scope)
        before = phase_of(prop)
        if before is not None and before.stage in (Stage.DURABLE, Stage.COMPLETE):
            raise RolloutConflict(
                f"{plan.describe_scope()} is already {before.stage.value} ({prop.describe() if prop else ''}): "
                "there is nothing to roll out"
            )
        first = plan.phases()[0]
        rollout = Rollout(
            id=self._new_id(),
            plan=plan,
            status=RolloutStatus.RUNNING,
            position=0,
            target=first,
            flag_synced=False,
            flag_base_version=prop.version if prop else None,
            step_started_at=now,
            started_at=now,
            updated_at=now,
            finished_at=None,
            created_by=actor,
            reason=reason or "guarded rollout",
            version=1,
        )
        text = f"started by {actor} ({rollout.reason}): {first.label()} first, then canary " + ", ".join(
            f"{s:g}%" for s in plan.steps
        )
        evidence = {"plan": plan.to_json(), "previousFlag": prop.to_json() if prop else None}
        event = RolloutEvent(rollout.id, 1, now, EventKind.STARTED, actor, text, before or LEGACY, first, evidence)
        self.store.create(rollout, event)
        synced, _ = self._flag.sync(rollout, text)
        return synced

    # -- ticks --------------------------------------------------------------------------------------------------

    def tick(self, rollout_id: str, now: datetime | None = None) -> TickResult:
        """Judge the rollout's current step on the evidence since it started, and act on the outcome.

        First a flag value still pending is written (FLAG_PENDING while it cannot be); a rollout that is not
        running is IDLE; then `rollouts.tick` decides (a pause when the flag was changed outside the rollout, else
        advance, roll back or hold) and the decision is saved by compare-and-set, then its flag write is made."""
        now = now or self._clock()
        rollout, note = self._flag.sync(self.store.get(rollout_id))
        if not rollout.flag_synced:
            return TickResult(rollout, TickAction.FLAG_PENDING, note=note)
        if rollout.status is not RolloutStatus.RUNNING:
            return TickResult(rollout, TickAction.IDLE, note=note or f"rollout is {rollout.status.value}")
        flag = self._flag.read(rollout.plan.scope)
        transition = flag_override(rollout, flag, now)
        if transition is None:
            evidence = self._evidence_for(rollout, now)
            transition = judge(rollout, flag, evidence, now, self.store.last_event(rollout.id))
        return self._apply(rollout, transition)

    def tick_all(self, now: datetime | None = None) -> builtins.list[TickResult]:
        """Tick every running rollout (and retry any flag write still pending)."""
        pending = self.store.list((RolloutStatus.RUNNING,), limit=1000)
        pending += [
            r for r in self.store.list(limit=1000) if not r.flag_synced and r.status is not RolloutStatus.RUNNING
        ]
        return [self.tick(r.id, now) for r in pending]

    def _evidence_for(self, r: Rollout, now: datetime) -> Evidence:
        return self.evidence.collect(
            r.plan.scope,
            since=r.step_started_at,
            until=now,
            baseline_since=r.started_at,
            min_baseline=r.plan.thresholds.min_samples,
        )

    def _apply(self, r: Rollout, t: Transition) -> TickResult:
        """Save the transition by compare-and-set on `r`'s version, then make its flag write (retried on later
        ticks if it fails); a ticker that loses the race reports it and changes nothing."""
        if not self.store.save(r.version, t.rollout, t.event):
            return TickResult(self.store.get(r.id), TickAction.LOST_RACE, t.gate, _LOST)
        if t.flag_write is None:
            return t.result()
        synced, note = self._flag.sync(t.rollout, t.flag_write.reason)
        return t.result(synced, note)

    # -- people -------------------------------------------------------------------------------------------------

    def pause(self, rollout_id: str, *, actor: str, reason: str, now: datetime | None = None) -> Rollout:
        """Stop judging (the scope stays where it is) until `resume`."""

        def build(r: Rollout, at: datetime) -> tuple[Rollout, RolloutEvent]:
            new = replace(r, status=RolloutStatus.PAUSED, version=r.version + 1, updated_at=at)
            text = f"paused by {actor} at {r.phase.label()}: {reason}"
            return new, RolloutEvent(r.id, new.version, at, EventKind.PAUSED, actor, text, r.phase, r.phase)

        return self._by_person(rollout_id, "pause", {RolloutStatus.RUNNING}, build, now)

    def resume(self, rollout_id: str, *, actor: str, reason: str, now: datetime | None = None) -> Rollout:
        """Judge again from now on, re-applying the step's flag value if it was changed meanwhile."""

        def build(r: Rollout, at: datetime) -> tuple[Rollout, RolloutEvent]:
            new = self._flag.moved(r, at, r.phase, status=RolloutStatus.RUNNING, step_started_at=at)
            text = f"resumed by {actor} at {r.phase.label()} (the step's evidence window restarts): {reason}"
            return new, RolloutEvent(r.id, new.version, at, EventKind.RESUMED, actor, text, r.phase, r.phase)

        return self._by_person(rollout_id, "resume", {RolloutStatus.PAUSED}, build, now)

    def abort(
        self, rollout_id: str, *, actor: str, reason: str, keep: bool = False, now: datetime | None = None
    ) -> Rollout:
        """End the rollout: the scope returns to legacy, or with `keep` stays at its current flag value."""
        current = self.store.get(rollout_id)
        if current.status is RolloutStatus.ABORTED and not current.flag_synced:
            return self._flag.sync(current)[0]  # aborting again retries a flag write that failed

        def build(r: Rollout, at: datetime) -> tuple[Rollout, RolloutEvent]:
            common: dict[str, Any] = {"status": RolloutStatus.ABORTED, "finished_at": at}
            if keep:
                new = replace(r, version=r.version + 1, updated_at=at, target=None, flag_synced=True, **common)
                text = f"aborted by {actor}, leaving the flag as it is: {reason}"
            else:
                new = self._flag.moved(r, at, LEGACY, **common)
                text = f"aborted by {actor}, back to legacy: {reason}"
            to = None if keep else LEGACY
            return new, RolloutEvent(r.id, new.version, at, EventKind.ABORTED, actor, text, r.target, to)

        return self._by_person(rollout_id, "abort", {RolloutStatus.RUNNING, RolloutStatus.PAUSED}, build, now)

    def _by_person(
        self,
        rollout_id: str,
        action: str,
        allowed: set[RolloutStatus],
        build: Callable[[Rollout, datetime], tuple[Rollout, RolloutEvent]],
        now: datetime | None,
    ) -> Rollout:
        # A person's command wins over ticks: on a lost race, re-read and apply it again.
        for _ in range(_ATTEMPTS):
            r = self.store.get(rollout_id)
            if r.status not in allowed:
                can = " or ".join(sorted(s.value for s in allowed))
                raise InvalidTransition(
                    f"cannot {action} rollout {r.id}: it is {r.status.value} (only a {can} rollout can be)",
                    rollout_id=r.id,
                )
            new, event = build(r, now or self._clock())
            if self.store.save(r.version, new, event):
                return self._flag.sync(new, event.reason)[0]
        raise RolloutConflict(
            f"rollout {rollout_id} kept changing under the {action}; try again", rollout_id=rollout_id
        )
