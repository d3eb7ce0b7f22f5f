"""Judging a rollout's current step: one tick reads the evidence since the step started, asks the gates, and acts.

pass -> the next phase (or durable, completing the rollout); fail -> back at once to the last phase that passed
(legacy if none), ending the rollout as rolled back; inconclusive -> hold, with a timeline entry only when the set
of held checks changes. Before judging, a tick writes a flag value still pending, and pauses a rollout whose flag
someone changed outside it. Every outcome is a compare-and-set on the rollout: a ticker that loses the race to
another one reports it and changes nothing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from flags import MigrationStage as Stage
from rollouts.evidence import EvidenceReader
from rollouts.flag import FlagKeeper
from rollouts.gates import Evidence, GateMode, GateResult, Requirements, Verdict, evaluate
from rollouts.model import DURABLE, EventKind, Phase, Rollout, RolloutEvent, RolloutStatus
from rollouts.store import RolloutStore

__all__ = ["StepJudge", "TickAction", "TickResult"]

_LOST = "another ticker moved it first"


class TickAction(StrEnum):
    ADVANCED = "advanced"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    HELD = "held"
    PAUSED = "paused"  # the flag was changed outside the rollout
    IDLE = "idle"  # not running: nothing to judge
    LOST_RACE = "lost_race"  # another ticker moved the rollout first
    FLAG_PENDING = "flag_pending"  # the flag write failed; the next tick retries it


@dataclass(frozen=True, slots=True)
class TickResult:
    rollout: Rollout
    action: TickAction
    gate: GateResult | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rollout": self.rollout.to_json(),
            "action": self.action.value,
            "gate": self.gate.to_json() if self.gate else None,
            "note": self.note,
        }


class StepJudge:
    """Ticks rollouts: `RolloutController.tick` and `tick_all` delegate here."""

    def __init__(
        self, store: RolloutStore, evidence: EvidenceReader, flag: FlagKeeper, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.evidence = evidence
        self._flag = flag
        self._clock = clock

    def tick(self, rollout_id: str, now: datetime | None = None) -> TickResult:
        """Judge the rollout's current step on the evidence since it started, and act on the outcome."""
        now = now or self._clock()
        rollout, note = self._flag.sync(self.store.get(rollout_id))
        if not rollout.flag_synced:
            return TickResult(rollout, TickAction.FLAG_PENDING, note=note)
        if rollout.status is not RolloutStatus.RUNNING:
            return TickResult(rollout, TickAction.IDLE, note=note or f"rollout is {rollout.status.value}")
        prop = self._flag.read(rollout.plan.scope)
        if self._flag.changed_outside(rollout, prop):
            override = self._flag.overridden(rollout, prop, now)
            if not override.saved:
                return TickResult(override.rollout, TickAction.LOST_RACE, note=_LOST)
            return TickResult(override.rollout, TickAction.PAUSED, note=override.text)
        plan = rollout.plan
        evidence = self.evidence.collect(
            plan.scope,
            since=rollout.step_started_at,
            until=now,
            baseline_since=rollout.started_at,
            min_baseline=plan.thresholds.min_samples,
        )
        mode = GateMode.SHADOW if rollout.phase.stage is Stage.SHADOW else GateMode.CANARY
        result = evaluate(evidence, mode, plan.thresholds, Requirements(plan.min_ops, plan.min_duration_s))
        if result.outcome is Verdict.PASS:
            return self._advance(rollout, result, evidence, now)
        if result.outcome is Verdict.FAIL:
            return self._roll_back(rollout, result, evidence, now)
        return self._hold(rollout, result, evidence, now)

    def tick_all(self, now: datetime | None = None) -> builtins.list[TickResult]:
        """Tick every running rollout (and retry any flag write still pending)."""
        pending = self.store.list((RolloutStatus.RUNNING,), limit=1000)
        pending += [
            r for r in self.store.list(limit=1000) if not r.flag_synced and r.status is not RolloutStatus.RUNNING
        ]
        return [self.tick(r.id, now) for r in pending]

    def _advance(self, r: Rollout, result: GateResult, evidence: Evidence, now: datetime) -> TickResult:
        phases = r.plan.phases()
        position = r.position + 1
        done = position >= len(phases)
        target = DURABLE if done else phases[position]
        reason = f"{r.phase.label()} passed its gates; {'completing at' if done else 'moving to'} {target.label()}"
        new = self._flag.moved(
            r,
            now,
            target,
            status=RolloutStatus.COMPLETED if done else RolloutStatus.RUNNING,
            position=position,
            step_started_at=now,
            finished_at=now if done else None,
            last_result=result.to_json(),
            last_tick_at=now,
        )
        kind = EventKind.COMPLETED if done else EventKind.ADVANCED
        return self._act(r, new, kind, f"{reason}: {result.summary()}", result, evidence, r.phase, target)

    def _roll_back(self, r: Rollout, result: GateResult, evidence: Evidence, now: datetime) -> TickResult:
        target = r.last_good
        new = self._flag.moved(
            r,
            now,
            target,
            status=RolloutStatus.ROLLED_BACK,
            finished_at=now,
            last_result=result.to_json(),
            last_tick_at=now,
        )
        reason = f"{r.phase.label()} failed its gates; rolled back to {target.label()}: {result.summary()}"
        return self._act(r, new, EventKind.ROLLED_BACK, reason, result, evidence, r.phase, target)

    def _hold(self, r: Rollout, result: GateResult, evidence: Evidence, now: datetime) -> TickResult:
        signature = [f"{c.name}:{c.outcome.value}" for c in result.checks]
        last = self.store.last_event(r.id)
        changed = not (last and last.kind is EventKind.HELD and last.evidence.get("signature") == signature)
        new = replace(r, version=r.version + 1, updated_at=now, last_result=result.to_json(), last_tick_at=now)
        event = None
        if changed:
            payload = {**_evidence_json(result, evidence), "signature": signature}
            reason = f"holding at {r.phase.label()}: {result.summary()}"
            event = RolloutEvent(r.id, new.version, now, EventKind.HELD, r.actor, reason, r.phase, r.phase, payload)
        if not self.store.save(r.version, new, event):
            return TickResult(self.store.get(r.id), TickAction.LOST_RACE, result, _LOST)
        return TickResult(new, TickAction.HELD, result)

    def _act(
        self,
        r: Rollout,
        new: Rollout,
        kind: EventKind,
        reason: str,
        result: GateResult,
        evidence: Evidence,
        from_phase: Phase,
        to_phase: Phase,
    ) -> TickResult:
        payload = _evidence_json(result, evidence)
        event = RolloutEvent(r.id, new.version, new.updated_at, kind, r.actor, reason, from_phase, to_phase, payload)
        if not self.store.save(r.version, new, event):
            return TickResult(self.store.get(r.id), TickAction.LOST_RACE, result, _LOST)
        synced, note = self._flag.sync(new, reason)
        action = {
            EventKind.ADVANCED: TickAction.ADVANCED,
            EventKind.COMPLETED: TickAction.COMPLETED,
            EventKind.ROLLED_BACK: TickAction.ROLLED_BACK,
        }[kind]
        return TickResult(synced, action, result, note)


def _evidence_json(result: GateResult, evidence: Evidence) -> dict[str, Any]:
    return {
        "gate": result.to_json(),
        "elapsedS": evidence.elapsed_s,
        "baseline": evidence.baseline,
        "counts": {
            "legacy": {"total": evidence.legacy.total, "failures": evidence.legacy.failures},
            "durable": {"total": evidence.durable.total, "failures": evidence.durable.failures},
            "comparisons": evidence.comparisons.to_json(),
        },
    }
