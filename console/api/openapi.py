"""The OpenAPI 3 document of the console's JSON API, served at /api/openapi.json (no token needed to read it).

Written by hand next to the routes, and proven against them by schemathesis in the tests: every documented
operation, fed generated input, answers with a documented status and a body that matches its schema.
"""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from console.api import bp
from console.api.schemas import BOOL, DIMENSIONS, INT, SCHEMAS, STR, nullable, obj, ref

__all__ = ["document"]


def _text_param(name: str, description: str, where: str = "query", max_length: int = 200) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if where == "path":
        schema = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


def _count_param(name: str, description: str, top: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": top}
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("Error")}}}


_ERRORS = {
    "400": _error("the input is wrong; `field` names it"),
    "401": _error("no valid bearer token"),
    "403": _error("the token's role does not allow this"),
    "404": _error("no such thing"),
    "409": _error("refused: a conflicting property, a concurrent change, or a rollout in the way"),
    "503": _error("the database (or another backend) is unavailable"),
}


def _ok(schema: dict[str, Any], status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


def _operation(
    summary: str,
    response: dict[str, Any],
    *,
    errors: tuple[str, ...] = ("400", "401", "503"),
    params: list[dict[str, Any]] | None = None,
    body: str | None = None,
    tag: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {**response, **{code: _ERRORS[code] for code in errors}},
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    return op


_WRITE = ("400", "401", "403", "404", "409", "503")
_PROPERTY_ID = _text_param("propertyId", "a property id (p12)", "path", 64)
_ROLLOUT_ID = _text_param("rolloutId", "a rollout id (ro-1a2b3c4d)", "path", 64)
_DIMENSION_PARAMS = [_text_param(d, f"the request's {d.replace('_', ' ')}") for d in DIMENSIONS]


def _rollout_action(verb: str, summary: str) -> dict[str, Any]:
    return {
        "post": _operation(
            summary,
            _ok(ref("TickResult" if verb == "tick" else "Rollout")),
            errors=_WRITE,
            params=[_ROLLOUT_ID],
            body=None if verb == "tick" else "RolloutActionInput",
            tag="rollouts",
        )
    }


_PATHS: dict[str, Any] = {
    "/api/me": {
        "get": _operation(
            "Who the token belongs to",
            _ok(obj({"name": STR, "role": STR, "kind": STR})),
            errors=("401",),
            tag="auth",
        )
    },
    "/api/scopes": {
        "get": _operation(
            "One page of the matrix of effective stages: a row per application and account, a column per operation",
            _ok(ref("Matrix")),
            params=[
                _text_param("search", "applications whose name contains this (any case)"),
                *(_text_param(d, f"only this {d.replace('_', ' ')}") for d in ("account", "operation")),
                _text_param("stage_type", "decide the cells for this stage type"),
                _text_param("provider", "decide the cells for this provider (default: the account's)"),
                {
                    "name": "stage",
                    "in": "query",
                    "required": False,
                    "description": "only applications with a cell at this stage",
                    "schema": {"type": "string", "enum": ["legacy", "shadow", "canary", "durable", "complete"]},
                },
                _count_param("page", "the page (1 is the first)", 10**6),
                _count_param("per_page", "applications a page (default 50)", 200),
            ],
            tag="flags",
        )
    },
    "/api/properties": {
        "get": _operation(
            "Live properties (of one key, or all) and kill switches",
            _ok(
                obj(
                    {
                        "version": INT,
                        "properties": {"type": "array", "items": ref("Property")},
                        "killSwitches": {"type": "array", "items": ref("KillSwitch")},
                    }
                )
            ),
            params=[_text_param("key", "only this key")],
            tag="flags",
        ),
        "post": _operation(
            "Create or update a property (audited; the reason is required)",
            _ok(ref("Property"), "201", "saved"),
            errors=_WRITE,
            body="PropertyInput",
            tag="flags",
        ),
    },
    "/api/properties/{propertyId}": {
        "get": _operation(
            "One live property",
            _ok(ref("Property")),
            errors=("400", "401", "404", "503"),
            params=[_PROPERTY_ID],
            tag="flags",
        )
    },
    "/api/properties/{propertyId}/delete": {
        "post": _operation(
            "Delete a property (restorable from the audit trail)",
            _ok(ref("Change")),
            errors=_WRITE,
            params=[_PROPERTY_ID],
            body="ReasonInput",
            tag="flags",
        )
    },
    "/api/properties/{propertyId}/restore": {
        "post": _operation(
            "Bring a property back to an earlier version",
            _ok(ref("Property")),
            errors=_WRITE,
            params=[_PROPERTY_ID],
            body="RestoreInput",
            tag="flags",
        )
    },
    "/api/explain": {
        "get": _operation(
            "The decision for a request, every candidate property, and the route",
            _ok(ref("Explanation")),
            params=[
                _text_param("key", "the flag key (default cloudops.migration.stage)"),
                *_DIMENSION_PARAMS,
                _text_param("operation_id", "bucketing attribute"),
                _text_param("execution_id", "bucketing attribute"),
            ],
            tag="flags",
        )
    },
    "/api/audit": {
        "get": _operation(
            "Changes, newest first, each with its diff",
            _ok(obj({"changes": {"type": "array", "items": ref("AuditEntry")}})),
            params=[
                _text_param("key", "only this key"),
                _text_param("propertyId", "only this property", max_length=64),
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
            ],
            tag="audit",
        )
    },
    "/api/kill-switch": {
        "get": _operation(
            "The kill switches",
            _ok(
                obj(
                    {
                        "engaged": BOOL,
                        "global": nullable(ref("KillSwitch")),
                        "switches": {"type": "array", "items": ref("KillSwitch")},
                        "stageKeyOff": BOOL,
                    }
                )
            ),
            tag="flags",
        ),
        "post": _operation(
            "Engage or release a kill switch",
            _ok(ref("KillSwitch")),
            errors=_WRITE,
            body="KillSwitchInput",
            tag="flags",
        ),
    },
    "/api/dashboard": {
        "get": _operation(
            "Per-scope operations, failure rates, latencies, shadow match rates, recent mismatches",
            _ok(ref("Dashboard")),
            params=[
                {
                    "name": "hours",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": 2160},
                },
                {
                    "name": "groupBy",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "comma-separated dimensions",
                },
                *_DIMENSION_PARAMS,
            ],
            tag="dashboard",
        )
    },
    "/api/operations": {
        "get": _operation(
            "Running durable operations with their progress (Temporal down: `error` says so)",
            _ok(ref("LiveView")),
            errors=("401",),
            tag="operations",
        )
    },
    "/api/rollouts": {
        "get": _operation(
            "Rollouts, newest first",
            _ok(obj({"rollouts": {"type": "array", "items": ref("Rollout")}})),
            params=[
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "comma-separated statuses",
                }
            ],
            tag="rollouts",
        ),
        "post": _operation(
            "Start a guarded rollout",
            _ok(ref("Rollout"), "201", "started"),
            errors=_WRITE,
            body="RolloutInput",
            tag="rollouts",
        ),
    },
    "/api/rollouts/{rolloutId}": {
        "get": _operation(
            "One rollout and its timeline",
            _ok(obj({"rollout": ref("Rollout"), "timeline": {"type": "array", "items": ref("RolloutEvent")}})),
            errors=("400", "401", "404", "503"),
            params=[_ROLLOUT_ID],
            tag="rollouts",
        )
    },
    "/api/rollouts/{rolloutId}/pause": _rollout_action("pause", "Pause (ticks hold)"),
    "/api/rollouts/{rolloutId}/resume": _rollout_action("resume", "Resume (the step's evidence window restarts)"),
    "/api/rollouts/{rolloutId}/abort": _rollout_action("abort", "Abort (back to legacy, or keep the flag)"),
    "/api/rollouts/{rolloutId}/tick": _rollout_action("tick", "Judge the current step now"),
}


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "cloudops flag console API",
            "version": "1",
            "description": "Staged rollout of cloud operations: flags, explain, audit, dashboard, live operations, "
            "rollouts. Authenticate with `Authorization: Bearer <token>` (tokens from configuration).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return document()
