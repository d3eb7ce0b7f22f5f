"""Live operations: running durable executions with their progress (the workflow's `progress` query) and links
into Temporal's UI. Temporal being unreachable is said on the page, never an error page."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from console.security import login_required
from console.services import services

__all__ = ["bp"]

bp = Blueprint("operations", __name__)


@bp.get("/operations")
@login_required
def index() -> ResponseReturnValue:
    view = services().live.view()
    return render_template("operations.html", view=view, auto=request.args.get("auto") == "1")
