"""The sim cloud over HTTP: a Flask app serving one `SimCloud` (routes in `cloud.sim.wire`).

Errors are `CloudError.to_json()` bodies with a status per class: 400 InvalidRequest; 404 NotFound,
UnknownAccount, UnknownRegion; 409 AlreadyExists, IdempotencyConflict; 422 CapacityOutOfBounds; 429 Throttled;
503 ServiceUnavailable, Unavailable; 504 RequestTimeout (a timeout and a lost response alike, as a real client
sees them). Admin routes (never faulted): `GET /healthz`, `GET /journal[?since=N]`, `GET|POST /admin/hard-down`,
`GET|POST /admin/faults`, `GET /admin/world`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException

from cloud import errors
from cloud.model import JSON
from cloud.plan import MutationKind
from cloud.sim import wire
from cloud.sim.faults import FaultConfig
from cloud.sim.journal import summarise_journal
from cloud.sim.simulator import SimCloud

__all__ = ["create_app", "status_for"]

log = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[errors.CloudError], int], ...] = (
    (errors.InvalidRequest, 400),
    (errors.NotFound, 404),
    (errors.UnknownAccount, 404),
    (errors.UnknownRegion, 404),
    (errors.AlreadyExists, 409),
    (errors.IdempotencyConflict, 409),
    (errors.CapacityOutOfBounds, 422),
    (errors.CloudRejection, 400),
    (errors.Throttled, 429),
    (errors.CloudServerError, 503),
    (errors.CloudUnavailable, 503),
    (errors.CloudTimeout, 504),
    (errors.TransientCloudError, 503),
)

api = Blueprint("sim_api", __name__, url_prefix="/v1")
admin = Blueprint("sim_admin", __name__)


def status_for(error: errors.CloudError) -> int:
    """The HTTP status a CloudError travels with."""
    return next((status for cls, status in _STATUS if isinstance(error, cls)), 500)


def create_app(sim: SimCloud) -> Flask:
    """A Flask app serving `sim`."""
    app = Flask(__name__)
    app.extensions["sim_cloud"] = sim
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_error_handler(errors.CloudError, _cloud_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _sim() -> SimCloud:
    sim: SimCloud = current_app.extensions["sim_cloud"]
    return sim


def _body() -> Any:
    return wire.as_object(request.get_json(force=True, silent=True), "request body")


def _cloud_error(error: errors.CloudError) -> tuple[dict[str, Any], int]:
    return error.to_json(), status_for(error)


def _http_error(error: HTTPException) -> tuple[dict[str, Any], int]:
    message = f"{request.method} {request.path}: {error.description or error.name}; routes are listed in cloud.sim.wire"
    return errors.InvalidRequest(message).to_json(), error.code or 400


def _unexpected_error(error: Exception) -> tuple[dict[str, Any], int]:
    log.exception("sim cloud: unexpected error in %s %s", request.method, request.path)
    return errors.CloudServerError(f"internal error: {type(error).__name__}: {error}").to_json(), 500


# -- reads -------------------------------------------------------------------------------------------------------


@api.get("/accounts")
def accounts() -> dict[str, JSON]:
    return {"accounts": [a.to_json() for a in _sim().accounts()]}


@api.get("/listServerGroups")
def list_server_groups() -> dict[str, JSON]:
    q = request.args
    groups = _sim().list_server_groups(
        wire.text(q, "account"), wire.text(q, "region"), wire.optional_text(q, "cluster")
    )
    return {"serverGroups": [g.to_json() for g in groups]}


@api.get("/describeServerGroup")
def describe_server_group() -> dict[str, JSON]:
    q = request.args
    group = _sim().describe_server_group(wire.text(q, "account"), wire.text(q, "region"), wire.text(q, "name"))
    return {"serverGroup": None if group is None else group.to_json()}


@api.get("/describeInstances")
def describe_instances() -> dict[str, JSON]:
    q = request.args
    found = _sim().describe_instances(wire.text(q, "account"), wire.text(q, "region"), wire.text(q, "serverGroup"))
    return {"instances": [i.to_json() for i in found]}


@api.get("/describeLoadBalancer")
def describe_load_balancer() -> dict[str, JSON]:
    q = request.args
    lb = _sim().describe_load_balancer(wire.text(q, "account"), wire.text(q, "region"), wire.text(q, "name"))
    return {"loadBalancer": None if lb is None else lb.to_json()}


@api.get("/loadBalancerInstances")
def load_balancer_instances() -> dict[str, JSON]:
    q = request.args
    ids = _sim().load_balancer_instances(wire.text(q, "account"), wire.text(q, "region"), wire.text(q, "name"))
    return {"instanceIds": ids}


# -- mutations ---------------------------------------------------------------------------------------------------


@api.post(f"/{MutationKind.CREATE_SERVER_GROUP.value}")
def create_server_group() -> dict[str, JSON]:
    b = _body()
    spec = wire.server_group_spec(b.get("spec"))
    group = _sim().create_server_group(wire.text(b, "account"), wire.text(b, "region"), spec, wire.text(b, "token"))
    return {"serverGroup": group.to_json()}


@api.post(f"/{MutationKind.RESIZE_SERVER_GROUP.value}")
def resize_server_group() -> dict[str, JSON]:
    b = _body()
    account, region, name, token = (wire.text(b, k) for k in ("account", "region", "name", "token"))
    group = _sim().resize_server_group(account, region, name, wire.capacity(b.get("capacity")), token)
    return {"serverGroup": group.to_json()}


@api.post(f"/{MutationKind.ENABLE_SERVER_GROUP.value}")
def enable_server_group() -> dict[str, JSON]:
    b = _body()
    account, region, name, token = (wire.text(b, k) for k in ("account", "region", "name", "token"))
    return {"serverGroup": _sim().enable_server_group(account, region, name, token).to_json()}


@api.post(f"/{MutationKind.DISABLE_SERVER_GROUP.value}")
def disable_server_group() -> dict[str, JSON]:
    b = _body()
    account, region, name, token = (wire.text(b, k) for k in ("account", "region", "name", "token"))
    return {"serverGroup": _sim().disable_server_group(account, region, name, token).to_json()}


@api.post(f"/{MutationKind.DESTROY_SERVER_GROUP.value}")
def destroy_server_group() -> dict[str, JSON]:
    b = _body()
    account, region, name, token = (wire.text(b, k) for k in ("account", "region", "name", "token"))
    _sim().destroy_server_group(account, region, name, token)
    return {}


@api.post(f"/{MutationKind.TERMINATE_INSTANCES.value}")
def terminate_instances() -> dict[str, JSON]:
    b = _body()
    ids = wire.instance_ids(b.get("instanceIds"))
    _sim().terminate_instances(wire.text(b, "account"), wire.text(b, "region"), ids, wire.text(b, "token"))
    return {}


@api.post(f"/{MutationKind.UPSERT_LOAD_BALANCER.value}")
def upsert_load_balancer() -> dict[str, JSON]:
    b = _body()
    spec = wire.load_balancer_spec(b.get("spec"))
    lb = _sim().upsert_load_balancer(wire.text(b, "account"), wire.text(b, "region"), spec, wire.text(b, "token"))
    return {"loadBalancer": lb.to_json()}


@api.post(f"/{MutationKind.DELETE_LOAD_BALANCER.value}")
def delete_load_balancer() -> dict[str, JSON]:
    b = _body()
    account, region, name, token = (wire.text(b, k) for k in ("account", "region", "name", "token"))
    _sim().delete_load_balancer(account, region, name, token)
    return {}


# -- admin (never faulted) ---------------------------------------------------------------------------------------


@admin.get("/healthz")
def healthz() -> dict[str, JSON]:
    return {"status": "ok", "journalLength": len(_sim().journal())}


@admin.get("/journal")
def journal() -> dict[str, JSON]:
    raw = request.args.get("since", "0")
    if not raw.isdigit():
        raise errors.InvalidRequest(f"`since` must be a journal sequence number (an integer >= 0), not {raw!r}")
    entries = _sim().journal(since=int(raw))
    return {"entries": [e.to_json() for e in entries], "summary": summarise_journal(entries).to_json()}


@admin.route("/admin/hard-down", methods=["GET", "POST"])
def hard_down() -> dict[str, JSON]:
    sim = _sim()
    if request.method == "POST":
        b = _body()
        down = b.get("down", True)
        if not isinstance(down, bool):
            raise errors.InvalidRequest("`down` must be true or false")
        sim.set_hard_down(wire.optional_text(b, "account"), wire.optional_text(b, "region"), down)
    return {"hardDown": [{"account": a, "region": r} for a, r in sim.hard_down()]}


@admin.route("/admin/faults", methods=["GET", "POST"])
def faults() -> dict[str, JSON]:
    sim = _sim()
    if request.method == "POST":
        try:
            sim.set_faults(FaultConfig.from_json(_body(), base=sim.faults))
        except ValueError as exc:
            raise errors.InvalidRequest(str(exc)) from None
    return {"faults": sim.faults.to_json(), "injected": dict(sim.injected_faults())}


@admin.get("/admin/world")
def world() -> dict[str, JSON]:
    sim = _sim()
    return {"world": sim.world.to_json(), "healthDelaySeconds": sim.health_delay_s}
