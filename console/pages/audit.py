"""The audit page: every change with its diff, who made it and why, and a restore button per earlier version."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.audit import audit_entries
from console.edits import restore_from
from console.errors import ConsoleError
from console.pages.common import actor, fail_back
from console.security import editor_required, login_required
from console.services import services
from flags import FlagError

__all__ = ["bp"]

bp = Blueprint("audit", __name__)

_LIMITS = (50, 200, 1000)


@bp.get("/audit")
@login_required
def index() -> ResponseReturnValue:
    store = services().store
    key = request.args.get("key", "").strip() or None
    property_id = request.args.get("property_id", "").strip() or None
    limit = request.args.get("limit", type=int) or _LIMITS[0]
    limit = min(max(limit, 1), _LIMITS[-1])
    changes = store.history(key=key, property_id=property_id, limit=limit)
    entries = audit_entries(changes, store.list_properties())
    filters = {"key": key or "", "property_id": property_id or "", "limit": limit}
    return render_template("audit.html", entries=entries, filters=filters, limits=_LIMITS)


@bp.post("/audit/restore")
@editor_required
def restore() -> ResponseReturnValue:
    back = url_for("audit.index")
    try:
        prop = restore_from(request.form.to_dict()).apply(services().store, actor())
    except (ConsoleError, FlagError) as exc:
        return fail_back(exc, back)
    flash(f"restored {prop.describe()}", "ok")
    return redirect(back, code=303)
