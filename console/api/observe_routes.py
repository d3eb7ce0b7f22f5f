"""API routes over what the router observed and what runs now: the dashboard, live operations, rollouts."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from console.api import bp, caller, json_body
from console.dashboard import build_dashboard, parse_dashboard
from console.rollouts import act, parse_action, parse_start, parse_statuses
from console.services import services
from rollouts.controller import TickResult
from rollouts.model import Rollout

__all__: list[str] = []


@bp.get("/dashboard")
def dashboard() -> ResponseReturnValue:
    settings = services().settings
    query = parse_dashboard(request.args, request.args.getlist("groupBy"), settings.dashboard_window_hours)
    return build_dashboard(services().tables, query, recent=settings.recent_mismatches).to_json()


@bp.get("/operations")
def operations() -> ResponseReturnValue:
    return services().live.view().to_json()


@bp.get("/rollouts")
def rollouts() -> ResponseReturnValue:
    statuses = parse_statuses(request.args.getlist("status"))
    return {"rollouts": [r.to_json() for r in services().rollouts.list(statuses)]}


@bp.post("/rollouts")
def start_rollout() -> ResponseReturnValue:
    wanted = parse_start(json_body())
    rollout = services().rollouts.start(wanted.plan, actor=caller().actor, reason=wanted.reason)
    return rollout.to_json(), 201


@bp.get("/rollouts/<rollout_id>")
def rollout(rollout_id: str) -> ResponseReturnValue:
    controller = services().rollouts
    found = controller.get(rollout_id)
    return {"rollout": found.to_json(), "timeline": [e.to_json() for e in controller.timeline(rollout_id)]}


@bp.post("/rollouts/<rollout_id>/<action>")
def rollout_action(rollout_id: str, action: str) -> ResponseReturnValue:
    # A tick takes no input; the other actions need at least a reason.
    body = (request.get_json(silent=True) or {}) if action == "tick" else json_body()
    outcome: Rollout | TickResult = act(services().rollouts, rollout_id, parse_action(action, body), caller().actor)
    return outcome.to_json()
