"""The guarded rollout's values: plans, phases, rollouts and timeline events, plus the parsers for their input.

A plan is a scope (flag dimensions), canary steps in percent, a minimum number of operations and a minimum
duration per step, and gate thresholds. Its phases are `shadow`, then `canary` at each step; passing the last
step makes the scope `durable` and completes the rollout. All values here are immutable and convert to JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flags import DIMENSIONS, InvalidInput, MigrationStage as Stage, Scope
from rollouts.errors import InvalidPlan
from rollouts.gates import Thresholds

__all__ = [
    "DEFAULT_STEPS",
    "DURABLE",
    "LEGACY",
    "EventKind",
    "Phase",
    "Rollout",
    "RolloutEvent",
    "RolloutPlan",
    "RolloutStatus",
    "parse_duration",
    "parse_scope",
    "parse_steps",
    "rollout_actor",
    "validate_scope",
    "validate_steps",
]

DEFAULT_STEPS: tuple[float, ...] = (1, 5, 25, 50, 100)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rollout_actor(rollout_id: str) -> str:
    """The actor of every flag write a rollout makes."""
    return f"rollout:{rollout_id}"


def parse_duration(text: str, *, field: str = "duration") -> float:
    """Seconds in a duration such as `90s`, `10m`, `1.5h` or `7d`; raises InvalidPlan saying what is accepted."""
    found = _DURATION.match(text or "")
    if not found:
        raise InvalidPlan(
            f"invalid {field} {text!r}: use a number with a unit s, m, h or d (for example 30s, 10m, 24h, 7d)",
            field=field,
        )
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def parse_scope(text: str) -> dict[str, str]:
    """`application=api,account=prod` as {dimension: value}, validated; raises InvalidPlan naming the problem."""
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InvalidPlan(
                f"invalid scope part {part!r}: write dimension=value, e.g. application=api", field="scope"
            )
        if name in pairs:
            raise InvalidPlan(f"the scope names {name!r} twice", field="scope")
        pairs[name] = value
    return validate_scope(pairs)


def validate_scope(scope: Mapping[str, str]) -> dict[str, str]:
    """The scope in dimension order, checked like a flag scope; at least one dimension is required."""
    if not scope:
        raise InvalidPlan(
            f"a rollout needs a scope, e.g. --scope application=api,account=prod (dimensions: {', '.join(DIMENSIONS)})",
            field="scope",
        )
    try:
        checked = Scope.of(dict(scope))
    except InvalidInput as exc:
        raise InvalidPlan(f"invalid scope: {exc.message}", field="scope") from exc
    return checked.to_json()


def parse_steps(text: str) -> tuple[float, ...]:
    """`1,5,25,50,100` as percents; raises InvalidPlan unless they rise strictly within (0, 100]."""
    try:
        steps = tuple(float(p) for p in (text or "").split(",") if p.strip())
    except ValueError:
        raise InvalidPlan(
            f"invalid steps {text!r}: give percents separated by commas, e.g. 1,5,25,50,100", field="steps"
        ) from None
    return validate_steps(steps)


def validate_steps(steps: Sequence[float]) -> tuple[float, ...]:
    if not steps:
        raise InvalidPlan("give at least one canary step, e.g. --steps 1,5,25,50,100", field="steps")
    for step in steps:
        if not math.isfinite(step) or not 0 < step <= 100:
            raise InvalidPlan(f"every step must be a percent above 0 and at most 100, got {step:g}", field="steps")
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise InvalidPlan(f"steps must rise strictly, got {', '.join(f'{s:g}' for s in steps)}", field="steps")
    return tuple(float(s) for s in steps)


class RolloutStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def active(self) -> bool:
        """Running or paused: the rollout still owns its scope."""
        return self in (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


class EventKind(StrEnum):
    STARTED = "started"
    ADVANCED = "advanced"
    HELD = "held"
    ROLLED_BACK = "rolled_back"
    COMPLETED = "completed"
    PAUSED = "paused"
    RESUMED = "resumed"
    ABORTED = "aborted"
    FLAG_OVERRIDDEN = "flag_overridden"


@dataclass(frozen=True, slots=True)
class Phase:
    """A value of the stage flag: `stage`, with `percent` for a canary."""

    stage: Stage
    percent: float | None = None

    def label(self) -> str:
        return f"{self.stage.value} {self.percent:g}%" if self.percent is not None else self.stage.value

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "percent": self.percent}


LEGACY = Phase(Stage.LEGACY)
DURABLE = Phase(Stage.DURABLE)


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    """What a rollout will do; validated on construction (raises InvalidPlan)."""

    scope: Mapping[str, str]
    steps: tuple[float, ...] = DEFAULT_STEPS
    min_ops: int = 100
    min_duration_s: float = 600.0
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", validate_scope(self.scope))
        object.__setattr__(self, "steps", validate_steps(self.steps))
        if isinstance(self.min_ops, bool) or not isinstance(self.min_ops, int) or self.min_ops < 0:
            raise InvalidPlan(
                f"min ops must be a whole number of operations >= 0, got {self.min_ops!r}", field="min_ops"
            )
        if not math.isfinite(self.min_duration_s) or self.min_duration_s < 0:
            raise InvalidPlan(f"min duration must be >= 0 seconds, got {self.min_duration_s!r}", field="min_duration")

    @property
    def scope_key(self) -> str:
        return Scope.of(dict(self.scope)).key()

    def describe_scope(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.scope.items())

    def phases(self) -> tuple[Phase, ...]:
        """shadow, then canary at each step (the rollout's positions); passing the last one makes it durable."""
        return (Phase(Stage.SHADOW), *(Phase(Stage.CANARY, s) for s in self.steps))

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": dict(self.scope),
            "steps": list(self.steps),
            "minOps": self.min_ops,
            "minDurationS": self.min_duration_s,
            "thresholds": self.thresholds.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Rollout:
    """A rollout as stored. `target` is the flag value it holds its scope at (None once aborted with --keep);
    `flag_synced` says whether that value is written yet (a failed write is retried on every tick)."""

    id: str
    plan: RolloutPlan
    status: RolloutStatus
    position: int
    target: Phase | None
    flag_synced: bool
    flag_base_version: int | None
    step_started_at: datetime
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    created_by: str
    reason: str
    version: int
    last_result: Mapping[str, Any] | None = None
    last_tick_at: datetime | None = None

    @property
    def actor(self) -> str:
        return rollout_actor(self.id)

    @property
    def phase(self) -> Phase:
        """The phase at the rollout's position (durable once it has passed them all)."""
        phases = self.plan.phases()
        return phases[self.position] if self.position < len(phases) else DURABLE

    @property
    def last_good(self) -> Phase:
        """The phase before the current one, which passed its gates; legacy when the rollout is at its first."""
        return self.plan.phases()[self.position - 1] if self.position > 0 else LEGACY

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.plan.to_json(),
            "status": self.status.value,
            "position": self.position,
            "phase": self.phase.to_json(),
            "target": self.target.to_json() if self.target else None,
            "flagSynced": self.flag_synced,
            "stepStartedAt": self.step_started_at.isoformat(),
            "startedAt": self.started_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            "createdBy": self.created_by,
            "reason": self.reason,
            "version": self.version,
            "lastResult": self.last_result,
            "lastTickAt": self.last_tick_at.isoformat() if self.last_tick_at else None,
        }


@dataclass(frozen=True, slots=True)
class RolloutEvent:
    """One entry of a rollout's timeline: a transition (or a changed hold) with who, why and the evidence."""

    rollout_id: str
    version: int
    at: datetime
    kind: EventKind
    actor: str
    reason: str
    from_phase: Phase | None = None
    to_phase: Phase | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "rolloutId": self.rollout_id,
            "version": self.version,
            "at": self.at.isoformat(),
            "kind": self.kind.value,
            "actor": self.actor,
            "reason": self.reason,
            "from": self.from_phase.to_json() if self.from_phase else None,
            "to": self.to_phase.to_json() if self.to_phase else None,
            "evidence": dict(self.evidence),
        }
