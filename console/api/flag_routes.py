"""API routes over flags: the scope matrix, properties (set, delete, restore), explain, audit, kill switches."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from console.api import bp, caller, json_body
from console.audit import audit_entries
from console.edits import delete_from, kill_switch_from, property_from_json, restore_from, whole_number
from console.errors import InputError
from console.explaining import explain_request, parse_explain
from console.matrix_page import page_of_matrix
from console.matrix_query import parse_matrix_query
from console.services import services
from flags import STAGE_KEY

__all__: list[str] = []

_MAX_AUDIT = 1000


def _arg(name: str, limit: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise InputError(f"{name} takes at most {limit} characters", field=name)
    return value.strip()


@bp.get("/me")
def me() -> ResponseReturnValue:
    principal = caller()
    return {"name": principal.name, "role": principal.role.value, "kind": principal.kind}


@bp.get("/scopes")
def scopes() -> ResponseReturnValue:
    svc = services()
    query = parse_matrix_query(request.args, request.args.getlist("collapse"))
    return page_of_matrix(svc, svc.snapshot(), query).to_json()


@bp.get("/properties")
def properties() -> ResponseReturnValue:
    snapshot = services().snapshot()
    key = _arg("key")
    props = snapshot.properties_for(key) if key else snapshot.properties
    return {
        "version": snapshot.version,
        "properties": [p.to_json() for p in props],
        "killSwitches": [s.to_json() for s in snapshot.switches],
    }


@bp.post("/properties")
def set_property() -> ResponseReturnValue:
    prop = property_from_json(json_body()).apply(services().store, caller().actor)
    return prop.to_json(), 201


@bp.get("/properties/<property_id>")
def get_property(property_id: str) -> ResponseReturnValue:
    return services().store.get_property(property_id).to_json()


@bp.post("/properties/<property_id>/delete")
def delete_property(property_id: str) -> ResponseReturnValue:
    return delete_from(json_body(), property_id).apply(services().store, caller().actor).to_json()


@bp.post("/properties/<property_id>/restore")
def restore_property(property_id: str) -> ResponseReturnValue:
    return restore_from(json_body(), property_id).apply(services().store, caller().actor).to_json()


@bp.get("/explain")
def explain() -> ResponseReturnValue:
    return explain_request(services().snapshot(), parse_explain(request.args)).to_json()


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    raw_limit = _arg("limit") or "100"
    limit = whole_number(raw_limit)
    if limit is None or not 1 <= limit <= _MAX_AUDIT:
        raise InputError(f"limit must be a whole number from 1 to {_MAX_AUDIT}, got {raw_limit!r}", field="limit")
    store = services().store
    changes = store.history(key=_arg("key"), property_id=_arg("propertyId"), limit=limit)
    return {"changes": [e.to_json() for e in audit_entries(changes, store.list_properties())]}


@bp.get("/kill-switch")
def kill_switch() -> ResponseReturnValue:
    snapshot = services().snapshot()
    glob = snapshot.global_switch
    body: dict[str, Any] = {
        "engaged": glob is not None,
        "global": glob.to_json() if glob else None,
        "switches": [s.to_json() for s in snapshot.switches],
        "stageKeyOff": snapshot.key_switch(STAGE_KEY) is not None,
    }
    return body


@bp.post("/kill-switch")
def set_kill_switch() -> ResponseReturnValue:
    edit = kill_switch_from(json_body(), confirm_required=False)
    return edit.apply(services().store, caller().actor).to_json()
