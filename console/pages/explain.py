"""The explain page: enter a request's dimensions, see the decision, the route, and every candidate property."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from console.errors import InputError
from console.explaining import ATTRIBUTES, explain_request, known_keys, parse_explain
from console.queries import DIMENSIONS
from console.responses import problem_for
from console.security import login_required
from console.services import services

__all__ = ["bp"]

bp = Blueprint("explain", __name__)


@bp.get("/explain")
@login_required
def index() -> ResponseReturnValue:
    snapshot = services().snapshot()
    context: dict[str, Any] = {
        "dimensions": DIMENSIONS,
        "attributes": ATTRIBUTES,
        "keys": known_keys(snapshot),
        "args": request.args,
        "result": None,
        "error": None,
    }
    if request.args:
        try:
            context["result"] = explain_request(snapshot, parse_explain(request.args))
        except InputError as exc:
            context["error"] = problem_for(exc).message
            return render_template("explain.html", **context), 400
    return render_template("explain.html", **context)
