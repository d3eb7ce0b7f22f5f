"""The gateway's routes with an upstream Clouddriver behind it (`cloudops gateway --upstream URL`): Orca's one
`clouddriver.baseUrl` points here and nothing else changes.

- The four `/ops` forms (Orca's KatoRestService): the body is read (up to the gateway's body limit) and judged
  (gateway.admission): a list the durable path is needed for becomes a gateway task, as without an upstream;
  any other goes to the upstream as the same bytes, and its answer, its task id included, is the caller's.
- `GET /task/{id}` and `POST /task/{id}:resume`: the gateway's own task, else passed through (a task the
  upstream issued). `GET /task`: the upstream's running tasks, then the gateway's.
- Everything else (the reads of OortService and MortService, `/credentials`, the jobs endpoints, any method):
  passed through unchanged and streamed (gateway.upstream).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from clouddriver_wire.errors import InvalidRequest, TaskNotFound
from clouddriver_wire.ops import ops_request, parse_body
from gateway.api import MAX_DEPTH, gateway
from gateway.model import EXECUTION_ID_HEADER, STAGE_TYPE_HEADER
from gateway.upstream import Upstream, UpstreamFailed, read_prefix, request_body

__all__ = ["ops", "passthrough", "tasks"]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

ops = Blueprint("gateway_proxy_ops", __name__)
tasks = Blueprint("gateway_proxy_tasks", __name__)
passthrough = Blueprint("gateway_passthrough", __name__)


def _upstream() -> Upstream:
    found = gateway().upstream
    assert found is not None
    return found


def _submit(provider: str | None, name: str | None) -> ResponseReturnValue:
    gw = gateway()
    raw, whole = read_prefix(request, gw.settings.max_body_bytes)
    crid = request.args.get("clientRequestId") or None
    if not whole:
        gw.record_unreadable(ops_request(provider, name, None, crid).client_request_id)
        return _upstream().forward(request, body=request_body(request, raw))
    try:
        body = parse_body(raw, max_depth=MAX_DEPTH)
    except InvalidRequest:
        gw.record_unreadable(ops_request(provider, name, None, crid).client_request_id)
        return _upstream().forward(request, body=raw)
    req = ops_request(provider, name, body, crid)
    stage_type = request.headers.get(STAGE_TYPE_HEADER) or None
    execution_id = request.headers.get(EXECUTION_ID_HEADER) or None
    if not gw.admit(req, stage_type=stage_type, execution_id=execution_id).taken:
        return _upstream().forward(request, body=raw)
    started = gw.submit(
        req.operations, req.provider, req.client_request_id, stage_type=stage_type, execution_id=execution_id
    )
    return jsonify(started)


def submit_deprecated() -> ResponseReturnValue:
    return _submit(None, None)


def submit_provider(provider: str) -> ResponseReturnValue:
    return _submit(provider, None)


def submit_one_deprecated(name: str) -> ResponseReturnValue:
    return _submit(None, name)


def submit_one(provider: str, name: str) -> ResponseReturnValue:
    return _submit(provider, name)


ops.add_url_rule("/ops", "submit_deprecated", submit_deprecated, methods=["POST"])
ops.add_url_rule("/<provider>/ops", "submit", submit_provider, methods=["POST"])
ops.add_url_rule("/ops/<name>", "submit_one_deprecated", submit_one_deprecated, methods=["POST"])
ops.add_url_rule("/<provider>/ops/<name>", "submit_one", submit_one, methods=["POST"])


@tasks.get("/task/<task_id>")
def get_task(task_id: str) -> ResponseReturnValue:
    upstream = _upstream()
    if task_id in upstream.task_ids:
        return upstream.forward(request)
    try:
        return jsonify(gateway().task(task_id))
    except TaskNotFound:  # not the gateway's: a task the upstream issued (Orca polls both through here)
        upstream.task_ids.add(task_id)
        return upstream.forward(request)


@tasks.post("/task/<task_id>:resume")
def resume_task(task_id: str) -> ResponseReturnValue:
    gw = gateway()
    if gw.store.get(task_id) is None:
        return _upstream().forward(request)
    return jsonify(gw.resume(task_id))


@tasks.get("/task")
def list_tasks() -> ResponseReturnValue:
    """The upstream's running tasks followed by the gateway's; the upstream's error as it answered it."""
    answer = _upstream().get(request)
    if answer.status_code != 200:
        return Response(answer.content, answer.status_code, content_type=answer.headers.get("content-type"))
    try:
        theirs = answer.json()
    except ValueError:
        theirs = None
    if not isinstance(theirs, list):
        raise UpstreamFailed(f"the upstream Clouddriver answered GET /task with {type(theirs).__name__}, not a list")
    return jsonify([*theirs, *gateway().running()])


def forward(path: str = "") -> Response:
    return _upstream().forward(request)


passthrough.add_url_rule("/", "root", forward, methods=_ALL_METHODS, provide_automatic_options=False)
passthrough.add_url_rule("/<path:path>", "path", forward, methods=_ALL_METHODS, provide_automatic_options=False)
