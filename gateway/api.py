"""The gateway's HTTP routes, Clouddriver's: `POST /{provider}/ops`, `POST /ops` (and their `/{name}` forms),
`GET /task/{id}`, `GET /task`, `POST /task/{id}:resume`.

POST validates synchronously (400 with every error) and answers `{id, resourceUri}` at once; the driver runs the
operations. The stage type of the operations comes from the `X-Spinnaker-Stage-Type` header (or each operation's
`stageType`); kork's `X-Spinnaker-Execution-Id` header becomes the operations' execution id.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from gateway.errors import InvalidRequest
from gateway.model import EXECUTION_ID_HEADER, STAGE_TYPE_HEADER
from gateway.service import Gateway

__all__ = ["gateway", "ops", "tasks"]

ops = Blueprint("gateway_ops", __name__)
tasks = Blueprint("gateway_tasks", __name__)

_MAX_DEPTH = 64


def gateway() -> Gateway:
    found = current_app.extensions["cloudops_gateway"]
    assert isinstance(found, Gateway)
    return found


def _body() -> Any:
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH stops an oversized body here (413, answered as 400)
    if not raw.strip():
        raise InvalidRequest("the request body is empty", errors=["send a JSON list of {operationName: {...}} maps"])
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        body = None
        depth = _MAX_DEPTH + 1
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not UTF-8", errors=[str(exc)]) from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            "malformed JSON in the request body", errors=[f"{exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    else:
        depth = _depth(body)
    if depth > _MAX_DEPTH:
        raise InvalidRequest(
            f"the request body nests JSON more than {_MAX_DEPTH} levels deep",
            errors=["send operation contexts as Clouddriver takes them: a few levels of objects and lists"],
        )
    return body


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= _MAX_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _submit(provider: str | None, body: Any) -> dict[str, str]:
    return gateway().submit(
        body,
        provider,
        request.args.get("clientRequestId") or str(uuid.uuid4()),
        stage_type=request.headers.get(STAGE_TYPE_HEADER) or None,
        execution_id=request.headers.get(EXECUTION_ID_HEADER) or None,
    )


@ops.post("/ops")
def submit_deprecated() -> dict[str, str]:
    """Deprecated in Clouddriver: the provider comes from each operation's `cloudProvider`."""
    return _submit(None, _body())


@ops.post("/<provider>/ops")
def submit(provider: str) -> dict[str, str]:
    return _submit(provider, _body())


@ops.post("/ops/<name>")
def submit_one_deprecated(name: str) -> dict[str, str]:
    return _submit(None, [{name: _body()}])


@ops.post("/<provider>/ops/<name>")
def submit_one(provider: str, name: str) -> dict[str, str]:
    return _submit(provider, [{name: _body()}])


@tasks.get("/task/<task_id>")
def get_task(task_id: str) -> dict[str, Any]:
    return gateway().task(task_id)


@tasks.get("/task")
def list_tasks() -> ResponseReturnValue:
    return jsonify(gateway().running())


@tasks.post("/task/<task_id>:resume")
def resume_task(task_id: str) -> dict[str, str]:
    return gateway().resume(task_id)
