"""One tick of a rollout as a pure transition: what the store holds, the flag and the evidence in; a value out.

    transition = judge(rollout, flag, evidence, now, last_event)   # or flag_override(rollout, flag, now)
    store.save(rollout.version, transition.rollout, transition.event)  # compare-and-set; then the flag write

pass -> the next phase (or durable, completing the rollout); fail -> back at once to the last phase that passed
(legacy if none), ending the rollout as rolled back; inconclusive -> hold, with a timeline entry only when the set
of held checks changes. A running rollout whose flag someone changed outside it pauses (`flag_override`) instead
of being judged. Nothing here reads or writes anything: `RolloutController.tick` is the shell that reads the
store, the flag and the evidence, calls these functions, and applies the `Transition` they return.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from flags import MigrationStage as Stage, Property
from rollouts.flag import moved, override
from rollouts.gates import Evidence, GateMode, GateResult, Requirements, Verdict, evaluate
from rollouts.model import DURABLE, EventKind, Phase, Rollout, RolloutEvent, RolloutStatus

__all__ = ["FlagWrite", "TickAction", "TickResult", "Transition", "flag_override", "judge"]


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


@dataclass(frozen=True, slots=True)
class FlagWrite:
    """The stage flag value to write once the transition is saved: `phase` at the rollout's scope, expecting the
    property at `expected_version` (None: no property yet), audited with `reason`."""

    phase: Phase
    expected_version: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Transition:
    """What one tick decided: save `rollout` (one version on) with `event` on the timeline, by compare-and-set on
    the version it came from; then make `flag_write`, if any. `action`, `gate` and `note` become the TickResult."""

    rollout: Rollout
    event: RolloutEvent | None
    flag_write: FlagWrite | None
    action: TickAction
    gate: GateResult | None = None
    note: str = ""

    def result(self, rollout: Rollout | None = None, note: str | None = None) -> TickResult:
        """The tick's result once applied: `rollout` as it ended up (after the flag write), `note` if it has one."""
        return TickResult(rollout or self.rollout, self.action, self.gate, self.note if note is None else note)


def flag_override(rollout: Rollout, flag: Property | None, now: datetime) -> Transition | None:
    """The pause of a running rollout whose stage flag `flag` was written outside it; None when it was not."""
    if (flag.version if flag else None) == rollout.flag_base_version:
        return None
    new, event, text = override(rollout, flag, now)
    return Transition(new, event, None, TickAction.PAUSED, note=text)


def judge(
    rollout: Rollout, flag: Property | None, evidence: Evidence, now: datetime, last_event: RolloutEvent | None
) -> Transition:
    """Judge a running rollout's step on `evidence` (gathered since the step started): advance, roll back or hold.

    `flag` is the stage flag as read this tick (not changed outside the rollout: `flag_override` said None) and
    `last_event` the newest timeline entry (a hold is recorded only when its held checks differ from it)."""
    plan = rollout.plan
    mode = GateMode.SHADOW if rollout.phase.stage is Stage.SHADOW else GateMode.CANARY
    result = evaluate(evidence, mode, plan.thresholds, Requirements(plan.min_ops, plan.min_duration_s, len(plan.steps)))
    if result.outcome is Verdict.PASS:
        return _advance(rollout, flag, result, evidence, now)
    if result.outcome is Verdict.FAIL:
        return _roll_back(rollout, flag, result, evidence, now)
    return _hold(rollout, result, evidence, now, last_event)


def _advance(r: Rollout, flag: Property | None, result: GateResult, evidence: Evidence, now: datetime) -> Transition:
    phases = r.plan.phases()
    position = r.position + 1
    done = position >= len(phases)
    target = DURABLE if done else phases[position]
    reason = f"{r.phase.label()} passed its gates; {'completing at' if done else 'moving to'} {target.label()}"
    new = moved(
        r,
        flag,
        now,
        target,
        status=RolloutStatus.COMPLETED if done else RolloutStatus.RUNNING,
        position=position,
        step_started_at=now,
        finished_at=now if done else None,
        last_result=result.to_json(),
        last_tick_at=now,
    )
    kind, action = (EventKind.COMPLETED, TickAction.COMPLETED) if done else (EventKind.ADVANCED, TickAction.ADVANCED)
    return _move(r, new, kind, action, f"{reason}: {result.summary()}", result, evidence, target)


def _roll_back(r: Rollout, flag: Property | None, result: GateResult, evidence: Evidence, now: datetime) -> Transition:
    target = r.last_good
    new = moved(
        r,
        flag,
        now,
        target,
        status=RolloutStatus.ROLLED_BACK,
        finished_at=now,
        last_result=result.to_json(),
        last_tick_at=now,
    )
    reason = f"{r.phase.label()} failed its gates; rolled back to {target.label()}: {result.summary()}"
    return _move(r, new, EventKind.ROLLED_BACK, TickAction.ROLLED_BACK, reason, result, evidence, target)


def _move(
    r: Rollout,
    new: Rollout,
    kind: EventKind,
    action: TickAction,
    reason: str,
    result: GateResult,
    evidence: Evidence,
    target: Phase,
) -> Transition:
    payload = _evidence_json(result, evidence)
    event = RolloutEvent(r.id, new.version, new.updated_at, kind, r.actor, reason, r.phase, target, payload)
    write = None if new.flag_synced else FlagWrite(target, new.flag_base_version, reason)
    return Transition(new, event, write, action, result)


def _hold(r: Rollout, result: GateResult, evidence: Evidence, now: datetime, last: RolloutEvent | None) -> Transition:
    signature = [f"{c.name}:{c.outcome.value}" for c in result.checks]
    changed = not (last and last.kind is EventKind.HELD and last.evidence.get("signature") == signature)
    new = replace(r, version=r.version + 1, updated_at=now, last_result=result.to_json(), last_tick_at=now)
    event = None
    if changed:
        payload = {**_evidence_json(result, evidence), "signature": signature}
        reason = f"holding at {r.phase.label()}: {result.summary()}"
        event = RolloutEvent(r.id, new.version, now, EventKind.HELD, r.actor, reason, r.phase, r.phase, payload)
    return Transition(new, event, None, TickAction.HELD, result)


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
