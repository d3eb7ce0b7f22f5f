"""The rollout dashboard: per scope, operations per path, failure rates, latency percentiles, the shadow match
rate, and the recent mismatches with their field diffs; above them, the window's path split and failure rate
over time (`console.scope_charts`, over every scope the filters cover, counted from the hourly rollups)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from console.dashboard import build_dashboard, parse_dashboard
from console.errors import InputError
from console.queries import DIMENSIONS
from console.responses import problem_for
from console.scope_charts import scope_charts
from console.security import login_required
from console.services import services

__all__ = ["bp"]

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
@login_required
def index() -> ResponseReturnValue:
    settings = services().settings
    try:
        query = parse_dashboard(request.args, request.args.getlist("group_by"), settings.dashboard_window_hours)
    except InputError as exc:
        context = {"dashboard": None, "error": problem_for(exc).message, "dimensions": DIMENSIONS, "args": request.args}
        return render_template("dashboard.html", **context), 400
    tables = services().tables
    dashboard = build_dashboard(tables, query, recent=settings.recent_mismatches)
    # The window's filters, every scope; the dashboard draws no latency chart, so no latency sample is read.
    charts = scope_charts(tables.scope_series(query.hours, query.filters, latency=False))
    return render_template(
        "dashboard.html", dashboard=dashboard, charts=charts, error=None, dimensions=DIMENSIONS, args=request.args
    )
