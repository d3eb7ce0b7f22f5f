"""Rollouts: the list, one rollout's plan and timeline, and the buttons to start, tick, pause, resume and abort."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.errors import ConsoleError
from console.gate_view import gate_table, threshold_rows
from console.pages.common import actor, fail_back
from console.rollouts import act, parse_action, parse_start
from console.security import editor_required, login_required
from console.services import services
from flags import FlagError
from rollouts.controller import TickResult
from rollouts.errors import RolloutError
from rollouts.model import DEFAULT_STEPS, RolloutStatus

__all__ = ["bp"]

bp = Blueprint("rollouts", __name__)

_Refused = (ConsoleError, FlagError, RolloutError)


@bp.get("/rollouts")
@login_required
def index() -> ResponseReturnValue:
    controller = services().rollouts
    active = controller.list((RolloutStatus.RUNNING, RolloutStatus.PAUSED))
    recent = [r for r in controller.list(limit=50) if not r.status.active]
    steps = ",".join(f"{s:g}" for s in DEFAULT_STEPS)
    return render_template("rollouts.html", active=active, recent=recent, default_steps=steps)


@bp.get("/rollouts/<rollout_id>")
@login_required
def detail(rollout_id: str) -> ResponseReturnValue:
    controller = services().rollouts
    rollout = controller.get(rollout_id)
    timeline = controller.timeline(rollout_id)
    return render_template(
        "rollout.html",
        rollout=rollout,
        timeline=list(reversed(timeline)),
        gates=gate_table(rollout.last_result, rollout.plan.thresholds),
        thresholds=threshold_rows(rollout.plan),
    )


@bp.post("/rollouts")
@editor_required
def start() -> ResponseReturnValue:
    try:
        wanted = parse_start(request.form.to_dict())
        rollout = services().rollouts.start(wanted.plan, actor=actor(), reason=wanted.reason)
    except _Refused as exc:
        return fail_back(exc, url_for("rollouts.index"))
    flash(f"rollout {rollout.id} started on {rollout.plan.describe_scope()}", "ok")
    return redirect(url_for("rollouts.detail", rollout_id=rollout.id), code=303)


@bp.post("/rollouts/<rollout_id>/<action>")
@editor_required
def action(rollout_id: str, action: str) -> ResponseReturnValue:
    back = url_for("rollouts.detail", rollout_id=rollout_id)
    try:
        outcome = act(services().rollouts, rollout_id, parse_action(action, request.form.to_dict()), actor())
    except _Refused as exc:
        return fail_back(exc, back)
    if isinstance(outcome, TickResult):
        flash(f"tick: {outcome.action.value}" + (f" ({outcome.note})" if outcome.note else ""), "ok")
    else:
        flash(f"rollout {outcome.id} is {outcome.status.value}", "ok")
    return redirect(back, code=303)
