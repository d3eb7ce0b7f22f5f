"""The operations page: recent operations of both paths (the router's outcomes table) with the running durable
ones (Temporal, with their progress query) on top, filtered by scope, path, status and window, paged, with links
into Temporal's UI. `/operations/rows` renders only the table's rows: console.js polls it every few seconds and
swaps the table body, so the list updates without a page reload (without JS, the page itself has the rows).
Temporal being unreachable is said on the page, never an error page; the list core is `console.operation_list`.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.errors import InputError
from console.live import LiveView
from console.operation_list import (
    STATUSES,
    OperationFilter,
    OperationPage,
    OperationReader,
    parse_filter,
    running_rows,
)
from console.queries import DIMENSIONS
from console.responses import problem_for
from console.security import login_required
from console.services import services

__all__ = ["bp"]

bp = Blueprint("operations", __name__)

POLL_SECONDS = 3


def _page(wanted: OperationFilter) -> tuple[OperationPage, LiveView]:
    svc = services()
    live = svc.live.view() if wanted.status in ("", "running") and wanted.path in ("", "durable") else LiveView()
    reader = OperationReader(svc.tables, temporal_url=svc.settings.temporal.workflow_url)
    finished, more = reader.page(wanted)
    # Visibility lags: an execution may still list as running after its outcome row is written; show it once.
    done = {row.workflow_id for row in finished if row.workflow_id}
    rows = (*(r for r in running_rows(live.operations, wanted) if r.workflow_id not in done), *finished)
    return OperationPage(rows=rows, more=more), live


@bp.get("/operations")
@login_required
def index() -> ResponseReturnValue:
    try:
        wanted = parse_filter(request.args)
    except InputError as exc:
        return render_template("operations.html", error=problem_for(exc).message, wanted=None, **_choices()), 400
    page, live = _page(wanted)
    return render_template(
        "operations.html",
        error=None,
        wanted=wanted,
        page=page,
        view=live,
        poll_url=url_for("operations.rows", _external=False, **wanted.query_args()),
        poll_seconds=POLL_SECONDS,
        **_choices(),
    )


@bp.get("/operations/rows")
@login_required
def rows() -> ResponseReturnValue:
    """The table body alone (an HTML fragment), for console.js's poll; a bad filter is a 400 with the reason."""
    try:
        wanted = parse_filter(request.args)
    except InputError as exc:
        return problem_for(exc).message, 400, {"Content-Type": "text/plain; charset=utf-8"}
    page, _ = _page(wanted)
    return render_template("_operation_rows.html", page=page, wanted=wanted)


def _choices() -> dict[str, object]:
    return {"dimensions": DIMENSIONS, "statuses": STATUSES, "paths": ("legacy", "durable")}
