"""The console's JSON API under /api, described by the OpenAPI document at /api/openapi.json.

Bearer tokens only (`Authorization: Bearer <token>`), never the session cookie, so CSRF does not apply: a
browser never attaches the header on its own. Reads need any role; every write needs an editor token and is
audited with the token's name (`token:<name>`) as the actor. Errors are `{"error", "message"}` (and `field` for
bad input).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from werkzeug.exceptions import Forbidden

from console.errors import InputError
from console.identity import Principal, Role
from console.security import api_principal

__all__ = ["bp", "caller", "json_body"]

bp = Blueprint("api", __name__, url_prefix="/api")

_PUBLIC = frozenset({"api.openapi"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in _PUBLIC:
        return
    principal = api_principal()
    if request.method not in _SAFE_METHODS and not principal.role.allows(Role.EDITOR):
        raise Forbidden(f"token {principal.name} has the {principal.role.value} role: changes need an editor token")
    g.api_principal = principal


def caller() -> Principal:
    principal = g.get("api_principal")
    assert isinstance(principal, Principal)
    return principal


def json_body() -> Any:
    """The request's JSON body; InputError unless it is JSON (an object is checked by each parser)."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON parser's answer to absurd nesting; still the client's mistake
        raise InputError("the JSON body is nested too deeply", field="body") from None
    if body is None:
        raise InputError("send a JSON object with Content-Type: application/json", field="body")
    return body


# The routes register themselves on `bp`; imported last, as they import `bp` from here.
from console.api import flag_routes, observe_routes, openapi  # noqa: E402, F401
