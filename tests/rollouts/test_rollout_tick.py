"""rollouts.tick as pure transitions: a table of (rollout, flag, evidence, last event) -> transition, no database."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from flags import STAGE_KEY, Property, Scope
from rollouts.gates import ComparisonCounts, Evidence, PathSample, Thresholds
from rollouts.model import DURABLE, LEGACY, EventKind, Phase, Rollout, RolloutEvent, RolloutPlan, RolloutStatus
from rollouts.tick import FlagWrite, TickAction, Transition, flag_override, judge

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
SCOPE = {"application": "api", "account": "prod"}
# A wide failure margin: these are tests of the transitions, and 60 durable operations cannot show a 2-point one.
PLAN = RolloutPlan(
    SCOPE, steps=(5, 50), min_ops=20, min_duration_s=60, thresholds=Thresholds(min_samples=20, failure_margin=0.2)
)
SHADOW, CANARY_5, CANARY_50 = PLAN.phases()


def rollout(position: int = 0, **changes: object) -> Rollout:
    phase = PLAN.phases()[position]
    base = Rollout(
        id="ro-1",
        plan=PLAN,
        status=RolloutStatus.RUNNING,
        position=position,
        target=phase,
        flag_synced=True,
        flag_base_version=3,
        step_started_at=T0,
        started_at=T0,
        updated_at=T0,
        finished_at=None,
        created_by="alice",
        reason="guarded rollout",
        version=7,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def flag(phase: Phase, *, version: int = 3, by: str = "rollout:ro-1") -> Property:
    return Property("p-1", STAGE_KEY, phase.stage.value, Scope.of(SCOPE), version, percent=phase.percent, updated_by=by)


def _path(n: int, failures: int, seed: int) -> PathSample:
    rng = random.Random(seed)
    return PathSample(n, failures, tuple(max(0.001, rng.gauss(1.0, 0.2)) for _ in range(n)))


def evidence(
    *, durable_failures: int = 0, mismatch: int = 0, ops: int = 60, elapsed_s: float = 300, canary: bool = False
) -> Evidence:
    return Evidence(
        legacy=_path(ops if canary else 0, 0, seed=1),
        durable=_path(ops if canary else 0, durable_failures, seed=2),
        comparisons=ComparisonCounts(match=ops - mismatch, mismatch=mismatch),
        elapsed_s=elapsed_s,
    )


@dataclass(frozen=True)
class Case:
    name: str
    rollout: Rollout
    evidence: Evidence
    action: TickAction
    status: RolloutStatus
    position: int
    target: Phase
    event: EventKind | None
    writes: Phase | None  # the flag value to write after the save, if any
    last_event: RolloutEvent | None = None


def _held(signature: list[str]) -> RolloutEvent:
    return RolloutEvent(
        "ro-1", 7, T0, EventKind.HELD, "rollout:ro-1", "holding", SHADOW, SHADOW, {"signature": signature}
    )


_WAITING = ["mismatch:inconclusive", "min_ops:inconclusive", "min_duration:inconclusive"]

CASES = [
    Case("shadow passes: to the first canary step", rollout(0), evidence(), TickAction.ADVANCED,
         RolloutStatus.RUNNING, 1, CANARY_5, EventKind.ADVANCED, CANARY_5),
    Case("a canary step passes: to the next one", rollout(1), evidence(canary=True), TickAction.ADVANCED,
         RolloutStatus.RUNNING, 2, CANARY_50, EventKind.ADVANCED, CANARY_50),
    Case("the last step passes: durable, completed", rollout(2), evidence(canary=True), TickAction.COMPLETED,
         RolloutStatus.COMPLETED, 3, DURABLE, EventKind.COMPLETED, DURABLE),
    Case("shadow mismatches: back to legacy", rollout(0), evidence(mismatch=30), TickAction.ROLLED_BACK,
         RolloutStatus.ROLLED_BACK, 0, LEGACY, EventKind.ROLLED_BACK, LEGACY),
    Case("a canary fails more: back to the last step that passed", rollout(2),
         evidence(canary=True, durable_failures=30), TickAction.ROLLED_BACK,
         RolloutStatus.ROLLED_BACK, 2, CANARY_5, EventKind.ROLLED_BACK, CANARY_5),
    Case("too little evidence: hold, on the timeline", rollout(0), evidence(ops=3, elapsed_s=10), TickAction.HELD,
         RolloutStatus.RUNNING, 0, SHADOW, EventKind.HELD, None),
    Case("the same hold again: no new timeline entry", rollout(0), evidence(ops=3, elapsed_s=10), TickAction.HELD,
         RolloutStatus.RUNNING, 0, SHADOW, None, None, last_event=_held(_WAITING)),
    Case("a different hold: a new timeline entry", rollout(0), evidence(ops=30, elapsed_s=10), TickAction.HELD,
         RolloutStatus.RUNNING, 0, SHADOW, EventKind.HELD, None, last_event=_held(_WAITING)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_judge_decides_the_transition(case: Case) -> None:
    before = case.rollout
    prop = flag(before.phase)
    assert flag_override(before, prop, NOW) is None  # the flag is as the rollout left it: judge
    t = judge(before, prop, case.evidence, NOW, case.last_event)
    assert isinstance(t, Transition)
    assert (t.action, t.rollout.status, t.rollout.position) == (case.action, case.status, case.position)
    assert t.rollout.version == before.version + 1 and t.rollout.updated_at == NOW and t.rollout.last_tick_at == NOW
    assert t.gate is not None and t.rollout.last_result == t.gate.to_json()
    assert (t.rollout.target if case.writes else before.target) == case.target
    if case.event is None:
        assert t.event is None
    else:
        assert t.event is not None and t.event.kind is case.event
        assert (t.event.version, t.event.at, t.event.actor) == (t.rollout.version, NOW, "rollout:ro-1")
        assert t.event.from_phase == before.phase and t.event.to_phase == case.target
        assert t.event.evidence["gate"] == t.gate.to_json()
    if case.writes is None:
        assert t.flag_write is None and t.rollout.flag_synced
    else:
        assert t.flag_write == FlagWrite(case.writes, 3, t.event.reason if t.event else "")
        assert not t.rollout.flag_synced and t.rollout.flag_base_version == 3
    finished = case.status in (RolloutStatus.COMPLETED, RolloutStatus.ROLLED_BACK)
    assert t.rollout.finished_at == (NOW if finished else None)
    if case.action is TickAction.ADVANCED:
        assert t.rollout.step_started_at == NOW  # the next step's evidence window starts now


def test_judge_writes_nothing_when_the_flag_already_holds_the_target() -> None:
    # Rolling back from canary 5% to shadow while the flag (as this rollout wrote it) already says shadow.
    t = judge(rollout(1), flag(SHADOW), evidence(canary=True, durable_failures=30), NOW, None)
    assert t.action is TickAction.ROLLED_BACK and t.rollout.target == SHADOW
    assert t.rollout.flag_synced and t.rollout.flag_base_version == 3 and t.flag_write is None


@pytest.mark.parametrize(
    ("prop", "who"),
    [
        (flag(LEGACY, version=4, by="bob"), "by bob"),
        (flag(CANARY_5, version=4, by="bob"), "by bob"),
        (None, "(the property was deleted)"),
    ],
    ids=["set elsewhere", "same value, another writer", "deleted"],
)
def test_a_flag_changed_outside_pauses_instead_of_judging(prop: Property | None, who: str) -> None:
    before = rollout(1)
    t = flag_override(before, prop, NOW)
    assert t is not None and t.action is TickAction.PAUSED and t.flag_write is None and t.gate is None
    assert t.rollout.status is RolloutStatus.PAUSED and t.rollout.version == 8 and t.rollout.flag_synced
    assert t.rollout.flag_base_version == (prop.version if prop else None)
    assert t.event is not None and t.event.kind is EventKind.PAUSED and t.event.from_phase == CANARY_5
    assert (
        who in t.note
        and t.note == t.event.reason
        and "cloudops rollout resume ro-1" in t.note
        and "Resume on its console page" in t.note
    )


def test_the_transition_is_the_tick_result_once_applied() -> None:
    t = judge(rollout(0), flag(SHADOW), evidence(), NOW, None)
    assert t.result().rollout is t.rollout and t.result().action is TickAction.ADVANCED and t.result().note == ""
    synced = replace(t.rollout, flag_synced=True, version=9)
    assert t.result(synced, "written").to_json()["rollout"]["version"] == 9
    assert t.result(synced, "written").note == "written"
