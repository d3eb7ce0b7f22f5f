"""The scopes page: the stage editor, the matrix of effective stages (application x account rows, an operation a
column, paged, searchable), the stage properties, and the global kill switch (with a typed confirmation).

A refused form is rendered again, never redirected: the typed values stay, the culprit field is marked
(aria-invalid, aria-describedby), focused (autofocus, which also scrolls to it) and announced (role=alert). A
stage edit is reviewed before it is saved (`console.edit_review`): what it overrides, unknown names, the rollout
driving the scope; the person confirms, and may pause that rollout first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.edit_review import Review, review_edit
from console.edits import KILL_CONFIRMATION, PropertyEdit, delete_from, kill_switch_from, stage_from_form
from console.errors import ConsoleError, InputError
from console.matrix import Cell
from console.matrix_page import page_of_matrix
from console.matrix_query import MatrixQuery, parse_matrix_query
from console.pages.common import actor, fail_back
from console.queries import DIMENSIONS
from console.responses import problem_for
from console.security import editor_required, login_required
from console.services import ConsoleServices, services
from flags import STAGE_KEY, FlagError, MigrationStage
from rollouts.errors import RolloutError
from rollouts.model import RolloutStatus

__all__ = ["EDITOR_FIELDS", "bp"]

bp = Blueprint("scopes", __name__)

_PREFILL = "e_"  # query parameters that prefill the editor (a scope page's or a property's "edit" link)
EDITOR_FIELDS = (*DIMENSIONS, "stage", "percent", "bucket_by", "expires", "reason", "ticket")
_FIELD_OF = {"value": "stage", "scope": "application", "expected_version": "stage", "property_id": "stage"}
_ACTIVE = (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    return redirect(url_for("scopes.index"))


@bp.get("/scopes")
@login_required
def index() -> ResponseReturnValue:
    args = request.args
    form: dict[str, Any] = {name: args.get(_PREFILL + name) or "" for name in EDITOR_FIELDS}
    return _render(form)


def _field_error(exc: Exception, fields: tuple[str, ...], fallback: str) -> dict[str, str]:
    """{field: message} for a refused form: the field the error names when the form has it, else `fallback`."""
    problem = problem_for(exc)
    name = _FIELD_OF.get(problem.field or "", problem.field or "")
    return {name if name in fields else fallback: problem.message}


def _matrix_query() -> tuple[MatrixQuery, dict[str, str]]:
    try:
        return parse_matrix_query(request.args, request.args.getlist("collapse")), {}
    except InputError as exc:
        return MatrixQuery(), {exc.field: exc.message}


def _render(
    form: Mapping[str, Any],
    *,
    errors: Mapping[str, str] | None = None,
    review: Review | None = None,
    kill_form: Mapping[str, Any] | None = None,
    kill_errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    svc = services()
    snapshot = svc.snapshot()
    query, query_errors = _matrix_query()
    errors = dict(errors or {})
    kill_errors = dict(kill_errors or {})
    focus = None
    if errors:
        focus = f"f-{next(iter(errors))}"
    elif kill_errors:
        focus = ("release-" if snapshot.global_switch else "kill-") + next(iter(kill_errors))
    elif query_errors:
        focus = f"q-{next(iter(query_errors))}"
    matrix = page_of_matrix(svc, snapshot, query)
    shown = set(matrix.applications)
    everything = snapshot.properties_for(STAGE_KEY)
    # The page's applications' properties and those naming no application: a page stays bounded.
    properties = [p for p in everything if p.scope.application is None or p.scope.application in shown]
    context = {
        "matrix": matrix,
        "scope_href": _scope_href(url_for("scope.index"), query),
        "query": query,
        "query_errors": query_errors,
        "properties": properties,
        "other_properties": len(everything) - len(properties),
        "switches": [s for s in snapshot.switches if s.engaged],
        "global_switch": snapshot.global_switch,
        "stages": [s.value for s in MigrationStage],
        "dimensions": DIMENSIONS,
        "form": form,
        "errors": errors,
        "focus": focus,
        "review": review,
        "kill_form": kill_form or {},
        "kill_errors": kill_errors,
        "kill_word": KILL_CONFIRMATION,
        "prefill": _PREFILL,
        "hours": svc.settings.dashboard_window_hours,
    }
    return render_template("scopes.html", **context), 400 if query_errors and status == 200 else status


def _scope_href(base: str, query: MatrixQuery) -> Callable[[Cell], str]:
    """A cell's scope page link (its address, and the stage type or provider picked); built from quoted parts
    kept per value, as url_for and urlencode cost more than the rest of a cell on a page of thousands."""
    picked = "".join(
        f"&{k}={quote(v, safe='')}" for k, v in (("stage_type", query.stage_type), ("provider", query.provider)) if v
    )
    quoted: dict[str, str] = {}

    def part(name: str, value: str) -> str:
        if not value:
            return ""
        if value not in quoted:
            quoted[value] = quote(value, safe="")
        return f"&{name}={quoted[value]}"

    def href(cell: Cell) -> str:
        rest = part("account", cell.account) + part("operation", cell.operation) + picked
        return f"{base}?{part('application', cell.application)[1:]}{rest}"

    return href


def _refused(exc: Exception) -> ResponseReturnValue:
    errors = _field_error(exc, EDITOR_FIELDS, "stage")
    return _render(request.form, errors=errors, status=problem_for(exc).status)


def _pause_first(svc: ConsoleServices, review: Review, edit: PropertyEdit) -> None:
    wanted = request.form.get("pause_rollout", "")
    if review.rollout is not None and wanted == review.rollout.id:
        svc.rollouts.pause(wanted, actor=actor(), reason=f"paused to set the stage by hand: {edit.reason}")
        flash(f"rollout {wanted} paused", "ok")


@bp.post("/scopes/edit")
@editor_required
def edit() -> ResponseReturnValue:
    svc = services()
    try:
        edit = stage_from_form(request.form)
        snapshot = svc.snapshot()
        review = review_edit(edit, snapshot, svc.known_names(snapshot), svc.rollouts.list(_ACTIVE), now=time.time())
    except (ConsoleError, FlagError) as exc:
        return _refused(exc)
    if review.unknown and request.form.get("confirm_new_names") != "yes":
        errors = {u.dimension: u.message() for u in review.unknown}
        return _render(request.form, errors=errors, review=review, status=400)
    if review.needs_confirmation and request.form.get("reviewed") != review.fingerprint:
        return _render(request.form, review=review, status=409)
    try:
        _pause_first(svc, review, edit)
        prop = edit.apply(svc.store, actor())
    except (ConsoleError, FlagError, RolloutError) as exc:
        return _refused(exc)
    flash(f"saved {prop.describe()}", "ok")
    back: dict[str, Any] = request.args.to_dict(flat=False)
    return redirect(url_for("scopes.index", **back))


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
        errors = _field_error(exc, ("reason", "confirm"), "reason")
        return _render({}, kill_form=request.form, kill_errors=errors, status=problem_for(exc).status)
    if switch.engaged:
        flash(f"kill switch engaged: every scope runs on legacy ({switch.reason})", "warn")
    else:
        flash(f"kill switch released: scopes follow their stage properties again ({switch.reason})", "ok")
    return redirect(url_for("scopes.index"))
