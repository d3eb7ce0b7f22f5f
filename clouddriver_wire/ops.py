"""The request forms of Clouddriver's `POST /ops` routes, parsed into one `OpsRequest`, and a blueprint serving them.

Clouddriver's OperationsController takes four forms, all with an optional `?clientRequestId=`:

    POST /ops                          a list of `{operationName: {...}}` maps (deprecated: the provider comes
                                       from each operation's `cloudProvider`)
    POST /ops/{name}                   one operation's map, named by the path (deprecated likewise)
    POST /{provider}/ops               a list of `{operationName: {...}}` maps for `provider`
    POST /{provider}/ops/{name}        one operation's map for `provider`

The `/{name}` forms are the list form of one operation, `[{name: body}]`. A request without a clientRequestId gets
a fresh one (a random UUID), as Clouddriver does, so it is never deduplicated against another.

`parse_body` and `ops_request` are pure; `ops_blueprint` is the thin Flask shell that serves the four routes and
hands each request, parsed, to the service's `submit`. Validating the operations is the service's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request

from clouddriver_wire.errors import InvalidRequest

__all__ = ["OpsRequest", "Submit", "ops_blueprint", "ops_request", "parse_body"]


@dataclass(frozen=True, slots=True)
class OpsRequest:
    """One `POST /ops` request in its list form, not yet validated."""

    provider: str | None  # None: a deprecated form; each operation's `cloudProvider` names it
    operations: Any  # the posted JSON, or `[{name: body}]` for a `/{name}` form
    client_request_id: str


Submit = Callable[[OpsRequest], Mapping[str, str]]
"""What a service does with a parsed request: start its operations, answer `{id, resourceUri}`."""


def ops_request(provider: str | None, name: str | None, body: Any, client_request_id: str | None) -> OpsRequest:
    """The request a route form makes: `name` (the `/{name}` forms) wraps `body` as `[{name: body}]`."""
    operations = body if name is None else [{name: body}]
    return OpsRequest(provider, operations, client_request_id or str(uuid.uuid4()))


def parse_body(raw: bytes, *, max_depth: int) -> Any:
    """The JSON of a `POST /ops` body; InvalidRequest (400) when it is empty, not UTF-8, not JSON, or nests lists
    and objects more than `max_depth` levels deep (or deeper than Python's parser can go)."""
    if not raw.strip():
        raise InvalidRequest("the request body is empty", errors=["send a JSON list of {operationName: {...}} maps"])
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise _too_deep(max_depth) from None
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not UTF-8", errors=[str(exc)]) from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            "malformed JSON in the request body", errors=[f"{exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from exc
    if _depth(body, max_depth) > max_depth:
        raise _too_deep(max_depth)
    return body


def _too_deep(max_depth: int) -> InvalidRequest:
    return InvalidRequest(
        f"the request body is nested too deeply: more than {max_depth} levels of JSON",
        errors=["send operation contexts as Clouddriver takes them: a few levels of objects and lists"],
    )


def _depth(value: Any, limit: int) -> int:
    """How deeply `value` nests lists and objects, counted to `limit + 1` at most (iteratively: a hostile body
    must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= limit:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def ops_blueprint(name: str, submit: Submit, *, max_depth: int) -> Blueprint:
    """A blueprint `name` serving the four forms; each parsed request goes to `submit` (inside the request context,
    so `submit` may read headers). The view names are `submit`, `submit_one` and their `_deprecated` forms."""
    bp = Blueprint(name, __name__)

    def view(provider: str | None, op_name: str | None) -> Mapping[str, str]:
        # MAX_CONTENT_LENGTH stops an oversized body here (413, which the shared error handlers answer as 400)
        body = parse_body(request.get_data(cache=False), max_depth=max_depth)
        return submit(ops_request(provider, op_name, body, request.args.get("clientRequestId")))

    def submit_deprecated() -> Mapping[str, str]:
        return view(None, None)

    def submit_provider(provider: str) -> Mapping[str, str]:
        return view(provider, None)

    def submit_one_deprecated(name: str) -> Mapping[str, str]:
        return view(None, name)

    def submit_one(provider: str, name: str) -> Mapping[str, str]:
        return view(provider, name)

    bp.add_url_rule("/ops", "submit_deprecated", submit_deprecated, methods=["POST"])
    bp.add_url_rule("/<provider>/ops", "submit", submit_provider, methods=["POST"])
    bp.add_url_rule("/ops/<name>", "submit_one_deprecated", submit_one_deprecated, methods=["POST"])
    bp.add_url_rule("/<provider>/ops/<name>", "submit_one", submit_one, methods=["POST"])
    return bp
