"""Guarded rollouts from the console: start one, tick it, pause, resume or abort it, through the router's
`RolloutController` (the same engine `cloudops rollout` drives), with the signed-in user as the actor.

Parsing is shared by the rollouts page (form fields) and the API (JSON); it raises InputError or the rollout
package's InvalidPlan, both naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from console.edits import whole_number
from console.errors import InputError
from rollouts.controller import RolloutController, TickResult
from rollouts.model import (
    DEFAULT_STEPS,
    Rollout,
    RolloutPlan,
    RolloutStatus,
    parse_duration,
    parse_scope,
    parse_steps,
    validate_scope,
    validate_steps,
)

__all__ = ["Action", "PersonAction", "StartRequest", "act", "parse_action", "parse_start", "parse_statuses"]


class Action(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    TICK = "tick"


@dataclass(frozen=True, slots=True)
class StartRequest:
    plan: RolloutPlan
    reason: str


@dataclass(frozen=True, slots=True)
class PersonAction:
    action: Action
    reason: str
    keep: bool = False


def _text(data: Mapping[str, Any], name: str, *, limit: int = 2000) -> str:
    raw = data.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > limit:
        raise InputError(f"{name} must be text of at most {limit} characters", field=name)
    return raw.strip()


def _reason(data: Mapping[str, Any]) -> str:
    reason = _text(data, "reason")
    if not reason:
        raise InputError("reason is required: say why (it is recorded on the rollout's timeline)", field="reason")
    return reason


def _scope(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return parse_scope(raw)
    if isinstance(raw, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        return validate_scope(raw)
    raise InputError("scope must be 'application=api,account=prod' or an object of dimension to value", field="scope")


def _steps(raw: Any) -> tuple[float, ...]:
    if raw is None or raw == "":
        return DEFAULT_STEPS
    if isinstance(raw, str):
        return parse_steps(raw)
    if isinstance(raw, list) and all(isinstance(s, int | float) and not isinstance(s, bool) for s in raw):
        return validate_steps([float(s) for s in raw])
    raise InputError("steps must be percents such as '1,5,25,50,100' or [1, 5, 25, 50, 100]", field="steps")


def _min_ops(raw: Any) -> int:
    if raw is None or raw == "":
        return 100
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 2**31:
        return raw
    number = whole_number(raw) if isinstance(raw, str) else None
    if number is not None and number < 2**31:
        return number
    raise InputError(f"minOps must be a whole number of operations, got {raw!r}", field="minOps")


def _min_duration(raw: Any) -> float:
    if raw is None or raw == "":
        return 600.0
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw < 10**8:
        return float(raw)
    if isinstance(raw, str):
        return parse_duration(raw, field="minDuration")
    raise InputError(f"minDuration must be seconds or a duration such as 10m, got {raw!r}", field="minDuration")


def parse_start(data: Any) -> StartRequest:
    """{scope, steps?, minOps?, minDuration?, reason}; the form uses the same names."""
    if not isinstance(data, Mapping):
        raise InputError("the request body must be a JSON object", field="body")
    plan = RolloutPlan(
        scope=_scope(data.get("scope")),
        steps=_steps(data.get("steps")),
        min_ops=_min_ops(data.get("minOps")),
        min_duration_s=_min_duration(data.get("minDuration")),
    )
    return StartRequest(plan=plan, reason=_reason(data))


def parse_action(name: str, data: Any) -> PersonAction:
    try:
        action = Action(name)
    except ValueError:
        raise InputError(f"unknown action {name!r}: use {', '.join(Action)}", field="action") from None
    if not isinstance(data, Mapping):
        raise InputError("the request body must be a JSON object", field="body")
    keep = data.get("keep", False)
    if isinstance(keep, str):
        keep = keep in {"1", "true", "on", "yes"}
    if not isinstance(keep, bool):
        raise InputError(f"keep must be true or false, got {keep!r}", field="keep")
    reason = "" if action is Action.TICK else _reason(data)
    return PersonAction(action=action, reason=reason, keep=keep)


def parse_statuses(raw: list[str]) -> tuple[RolloutStatus, ...]:
    names = [n.strip() for item in raw for n in item.split(",") if n.strip()]
    try:
        return tuple(RolloutStatus(n) for n in names)
    except ValueError:
        raise InputError(
            f"status must be among {', '.join(RolloutStatus)}, got {', '.join(names)}", field="status"
        ) from None


def act(controller: RolloutController, rollout_id: str, action: PersonAction, actor: str) -> Rollout | TickResult:
    """Apply a person's action (or a tick) and return what the controller answers."""
    if action.action is Action.PAUSE:
        return controller.pause(rollout_id, actor=actor, reason=action.reason)
    if action.action is Action.RESUME:
        return controller.resume(rollout_id, actor=actor, reason=action.reason)
    if action.action is Action.ABORT:
        return controller.abort(rollout_id, actor=actor, reason=action.reason, keep=action.keep)
    return controller.tick(rollout_id)
