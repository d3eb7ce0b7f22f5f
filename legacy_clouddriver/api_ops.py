"""The `ops` resource: submit operations (`POST /{provider}/ops`, `POST /ops`, and their `/{name}` forms).

Validation is synchronous (400 with every error); execution is not: the answer is `{id, resourceUri}` at once.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, current_app, request

from legacy_clouddriver.errors import InvalidRequest
from legacy_clouddriver.operations import resolve_operations
from legacy_clouddriver.service import Clouddriver

__all__ = ["bp", "service"]

bp = Blueprint("ops", __name__)


def service() -> Clouddriver:
    found = current_app.extensions["clouddriver"]
    assert isinstance(found, Clouddriver)
    return found


def _body() -> Any:
    raw = request.get_data(cache=False)  # MAX_CONTENT_LENGTH stops an oversized body here (413, answered as 400)
    if not raw.strip():
        raise InvalidRequest("the request body is empty", errors=["send a JSON list of {operationName: {...}} maps"])
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InvalidRequest("the request body is not UTF-8", errors=[str(e)]) from e
    except json.JSONDecodeError as e:
        raise InvalidRequest(
            "malformed JSON in the request body", errors=[f"{e.msg} at line {e.lineno} column {e.colno}"]
        ) from e
    except RecursionError as e:
        raise InvalidRequest(
            "the request body is nested too deeply", errors=["an operation map is a few levels deep; send that"]
        ) from e


def _start(provider: str | None, body: Any) -> dict[str, str]:
    svc = service()
    operations = resolve_operations(body, provider, svc.accounts.get())
    client_request_id = request.args.get("clientRequestId") or str(uuid.uuid4())
    task = svc.processor.process(operations, client_request_id)
    return {"id": task.id, "resourceUri": f"/task/{task.id}"}


@bp.post("/ops")
def submit_deprecated() -> dict[str, str]:
    """Deprecated in Clouddriver: the provider comes from each operation's `cloudProvider`."""
    return _start(None, _body())


@bp.post("/<provider>/ops")
def submit(provider: str) -> dict[str, str]:
    return _start(provider, _body())


@bp.post("/ops/<name>")
def submit_one_deprecated(name: str) -> dict[str, str]:
    return _start(None, [{name: _body()}])


@bp.post("/<provider>/ops/<name>")
def submit_one(provider: str, name: str) -> dict[str, str]:
    return _start(provider, [{name: _body()}])
