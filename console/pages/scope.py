"""The scope page of one matrix cell (`/scope?application=..&account=..&operation=..`): what decides it and why,
the other properties that match, the narrower ones that win for part of it, its numbers, its rollout with each
gate's evidence, charts over time, its recent operations (with links into Temporal's UI) and recent mismatches
with their field diffs, and editor links that pre-fill its effective stage (`console.scope_view`)."""

from __future__ import annotations

import time

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from console.errors import InputError
from console.gate_view import gate_table, threshold_rows
from console.operation_list import OperationFilter, OperationPage, OperationReader
from console.queries import Window
from console.responses import problem_for
from console.scope_charts import scope_charts
from console.scope_view import parse_cell, scope_view
from console.security import login_required
from console.services import services
from rollouts.model import RolloutStatus

__all__ = ["bp"]

bp = Blueprint("scope", __name__)

_RECENT = 10  # the newest operations and mismatches a scope page shows; its links lead to the rest


@bp.get("/scope")
@login_required
def index() -> ResponseReturnValue:
    try:
        where = parse_cell(request.args)
    except InputError as exc:
        return render_template("scope.html", view=None, error=problem_for(exc).message), 400
    svc = services()
    snapshot = svc.snapshot()
    hours = svc.settings.dashboard_window_hours
    filters = {k: v for k, v in (("stage_type", where.stage_type), ("provider", where.provider)) if v}
    counts = svc.tables.cell_counts(hours, [where.application], filters)
    # The charts read the same rows as the numbers: the cell's application, account and operation, and the filters.
    cell_scope = {"application": where.application, "account": where.account, "operation": where.operation, **filters}
    active = svc.rollouts.list((RolloutStatus.RUNNING, RolloutStatus.PAUSED))
    key = (where.application, where.account, where.operation)
    view = scope_view(
        snapshot,
        svc.known_names(snapshot),
        where,
        outcomes=counts.outcomes.get(key),
        comparisons=counts.comparisons.get(key),
        rollouts=active,
        now=time.time(),
    )
    rollout = next((r for r in active if view.cell.rollout and r.id == view.cell.rollout.rollout_id), None)
    reader = OperationReader(svc.tables, temporal_url=svc.settings.temporal.workflow_url)
    recent, _ = reader.page(OperationFilter(dimensions=cell_scope, hours=hours))
    mismatches = svc.tables.comparisons(Window(hours, cell_scope), outcome="mismatch", limit=_RECENT)
    return render_template(
        "scope.html",
        view=view,
        error=None,
        prefill="e_",
        hours=hours,
        rollout=rollout,
        gates=gate_table(rollout.last_result, rollout.plan.thresholds) if rollout else None,
        thresholds=threshold_rows(rollout.plan) if rollout else [],
        charts=scope_charts(svc.tables.scope_series(hours, cell_scope)),
        recent=OperationPage(tuple(recent[:_RECENT]), more=len(recent) > _RECENT),
        mismatches=mismatches,
    )
