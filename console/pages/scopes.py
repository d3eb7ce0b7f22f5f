"""The scopes page: the application x operation matrix of effective stages, the stage editor, the stage
properties, and the global kill switch (with a typed confirmation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.edits import KILL_CONFIRMATION, delete_from, kill_switch_from, stage_from_form
from console.errors import ConsoleError
from console.matrix import FILTER_DIMENSIONS, build_matrix
from console.pages.common import actor, fail_back
from console.queries import DIMENSIONS
from console.responses import problem_for
from console.security import editor_required, login_required
from console.services import services
from flags import STAGE_KEY, FlagError, MigrationStage

__all__ = ["bp"]

bp = Blueprint("scopes", __name__)

_PREFILL = "e_"  # query parameters that prefill the editor (a cell's or a property's "edit" link)


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    return redirect(url_for("scopes.index"))


@bp.get("/scopes")
@login_required
def index() -> ResponseReturnValue:
    args = request.args
    form: dict[str, Any] = {d: args.get(_PREFILL + d) or "" for d in DIMENSIONS}
    for name in ("stage", "percent", "bucket_by"):
        form[name] = args.get(_PREFILL + name) or ""
    return _render(form)


def _filters(source: Mapping[str, str]) -> dict[str, Any]:
    return {d: source.get(d, "") for d in FILTER_DIMENSIONS if source.get(d, "")}


def _render(form: Mapping[str, Any], error: str | None = None, status: int = 200) -> ResponseReturnValue:
    svc = services()
    snapshot = svc.snapshot()
    seen = svc.tables.seen_dimensions(svc.settings.matrix_lookback_hours)
    matrix = build_matrix(snapshot, seen, _filters(request.args))
    context = {
        "matrix": matrix,
        "properties": snapshot.properties_for(STAGE_KEY),
        "switches": [s for s in snapshot.switches if s.engaged],
        "global_switch": snapshot.global_switch,
        "stages": [s.value for s in MigrationStage],
        "dimensions": DIMENSIONS,
        "filter_dimensions": FILTER_DIMENSIONS,
        "form": form,
        "error": error,
        "kill_word": KILL_CONFIRMATION,
        "prefill": _PREFILL,
    }
    return render_template("scopes.html", **context), status


@bp.post("/scopes/edit")
@editor_required
def edit() -> ResponseReturnValue:
    try:
        prop = stage_from_form(request.form).apply(services().store, actor())
    except (ConsoleError, FlagError) as exc:
        problem = problem_for(exc)
        return _render(request.form, problem.message, problem.status)
    flash(f"saved {prop.describe()}", "ok")
    return redirect(url_for("scopes.index", **_filters(request.form)))


@bp.post("/scopes/properties/<property_id>/delete")
@editor_required
def delete(property_id: str) -> ResponseReturnValue:
    try:
        change = delete_from(request.form.to_dict(), property_id).apply(services().store, actor())
    except (ConsoleError, FlagError) as exc:
        return fail_back(exc, url_for("scopes.index"))
    flash(f"deleted {change.property_id} (restore it from the audit page)", "ok")
    return redirect(url_for("scopes.index"))


@bp.post("/kill-switch")
@editor_required
def kill_switch() -> ResponseReturnValue:
    try:
        switch = kill_switch_from(request.form.to_dict(), confirm_required=True).apply(services().store, actor())
    except (ConsoleError, FlagError) as exc:
        return fail_back(exc, url_for("scopes.index"))
    if switch.engaged:
        flash(f"kill switch engaged: every scope runs on legacy ({switch.reason})", "warn")
    else:
        flash(f"kill switch released: scopes follow their stage properties again ({switch.reason})", "ok")
    return redirect(url_for("scopes.index"))
