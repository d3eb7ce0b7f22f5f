"""The component schemas of the console's OpenAPI document: what every API body looks like.

Kept apart from the paths (`console.api.openapi`) because they are long and change for other reasons. Fields a
client relies on are required; optional ones may come and go with the flags and router packages.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ANY", "BOOL", "DIMENSIONS", "INT", "NUM", "OBJ", "SCHEMAS", "STR", "nullable", "obj", "ref"]

DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")
_STAGES = ["legacy", "shadow", "canary", "durable", "complete"]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = {"type": "string"}
NUM = {"type": "number"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ANY: dict[str, Any] = {}
OBJ = {"type": "object"}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object schema; every property is required unless `required` says otherwise."""
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required}


SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {"error": STR, "message": STR, "field": STR},
        ["error", "message"],
    ),
    "Scope": {
        "type": "object",
        "description": "Flag dimensions; an absent dimension matches any value.",
        "properties": {d: {"type": "string", "minLength": 1, "maxLength": 200} for d in DIMENSIONS},
        "additionalProperties": False,
    },
    "Property": obj(
        {
            "id": STR,
            "key": STR,
            "value": ANY,
            "scope": ref("Scope"),
            "version": INT,
            "percent": nullable(NUM),
            "bucketBy": nullable(STR),
            "expiresAt": nullable(STR),
            "updatedAt": nullable(STR),
            "updatedBy": STR,
            "reason": STR,
            "ticket": nullable(STR),
        }
    ),
    "KillSwitch": obj(
        {
            "target": STR,
            "engaged": BOOL,
            "version": INT,
            "updatedAt": nullable(STR),
            "updatedBy": STR,
            "reason": STR,
            "ticket": nullable(STR),
        }
    ),
    "Change": obj(
        {
            "changeId": INT,
            "action": STR,
            "at": STR,
            "actor": STR,
            "reason": STR,
            "ticket": nullable(STR),
            "key": nullable(STR),
            "propertyId": nullable(STR),
            "propertyVersion": nullable(INT),
            "before": nullable(OBJ),
            "after": nullable(OBJ),
            "restoredFrom": nullable(INT),
        }
    ),
    "AuditEntry": {
        "allOf": [
            ref("Change"),
            obj(
                {
                    "diff": {"type": "array", "items": obj({"path": STR, "before": ANY, "after": ANY})},
                    "restorable": BOOL,
                }
            ),
        ]
    },
    "Decision": obj(
        {
            "key": STR,
            "value": ANY,
            "stage": nullable({"type": "string", "enum": _STAGES}),
            "percent": nullable(NUM),
            "bucket": nullable(NUM),
            "inRollout": BOOL,
            "bucketBy": nullable(STR),
            "propertyId": nullable(STR),
            "propertyVersion": nullable(INT),
            "reason": STR,
            "reasonKind": STR,
            "defaultUsed": BOOL,
            "killSwitch": BOOL,
            "error": nullable(STR),
        },
        ["key", "value", "stage", "percent", "inRollout", "propertyId", "reason", "reasonKind", "killSwitch"],
    ),
    "Explanation": obj(
        {
            "decision": ref("Decision"),
            "dimensions": {"type": "object", "additionalProperties": STR},
            "attributes": {"type": "object", "additionalProperties": STR},
            "candidates": {
                "type": "array",
                "items": obj({"property": ref("Property"), "outcome": STR, "detail": STR}),
            },
            "route": nullable(
                obj(
                    {
                        "primary": {"type": "string", "enum": ["legacy", "durable"]},
                        "shadow": nullable({"type": "string", "enum": ["legacy", "durable"]}),
                        "shadowSamplePercent": nullable(NUM),
                        "decision": OBJ,
                    }
                )
            ),
        }
    ),
    "Badge": obj(
        {
            "propertyId": STR,
            "propertyVersion": INT,
            "dimensions": {"type": "object", "additionalProperties": STR},
            "label": STR,
        }
    ),
    "CellStats": obj(
        {
            "operations": INT,
            "failures": INT,
            "failureRate": nullable(NUM),
            "comparisons": INT,
            "mismatchRate": nullable(NUM),
        }
    ),
    "CellRollout": obj(
        {"id": STR, "status": STR, "phase": STR, "scope": {"type": "object", "additionalProperties": STR}}
    ),
    "Cell": obj(
        {
            "application": STR,
            "account": nullable(STR),
            "operation": STR,
            "dimensions": {"type": "object", "additionalProperties": STR},
            "stage": STR,
            "percent": nullable(NUM),
            "label": STR,
            "decidedBy": STR,
            "propertyId": nullable(STR),
            "propertyVersion": nullable(INT),
            "reason": STR,
            "reasonKind": STR,
            "killSwitch": BOOL,
            "badges": {
                "type": "array",
                "description": "narrower properties that decide part of the cell's requests (a stage type, a provider)",
                "items": ref("Badge"),
            },
            "stats": nullable(ref("CellStats")),
            "rollout": nullable(ref("CellRollout")),
        }
    ),
    "Matrix": obj(
        {
            "query": {"type": "object", "additionalProperties": ANY},
            "page": INT,
            "pages": INT,
            "totalApplications": INT,
            "applications": {"type": "array", "items": STR, "description": "this page's applications"},
            "accounts": {"type": "array", "items": nullable(STR)},
            "operations": {"type": "array", "items": STR},
            "choices": {"type": "object", "additionalProperties": {"type": "array", "items": STR}},
            "snapshotVersion": INT,
            "killSwitch": BOOL,
            "notes": {"type": "array", "items": STR},
            "cells": {"type": "array", "items": ref("Cell")},
        }
    ),
    "PathStats": obj(
        {
            "operations": INT,
            "failures": INT,
            "failureRate": NUM,
            "failureInterval": OBJ,
            "fallbacks": INT,
            "latency": nullable({"type": "object", "additionalProperties": NUM}),
            "errorKinds": {"type": "object", "additionalProperties": INT},
        }
    ),
    "ScopeStats": obj(
        {
            "scope": {"type": "object", "additionalProperties": STR},
            "operations": INT,
            "paths": {"type": "object", "additionalProperties": ref("PathStats")},
            "shadow": obj(
                {
                    "comparisons": INT,
                    "outcomes": {"type": "object", "additionalProperties": INT},
                    "matchRate": nullable(NUM),
                    "mismatchRate": nullable(NUM),
                    "candidateErrorRate": nullable(NUM),
                }
            ),
            "stages": {"type": "object", "additionalProperties": INT},
        }
    ),
    "Comparison": obj(
        {
            "operationId": STR,
            "dimensions": {"type": "object", "additionalProperties": STR},
            "controlPath": STR,
            "candidatePath": STR,
            "outcome": STR,
            "diffs": {"type": "array", "items": OBJ},
            "comparedAt": STR,
        }
    ),
    "Dashboard": obj(
        {
            "window": obj(
                {
                    "hours": NUM,
                    "filters": {"type": "object", "additionalProperties": STR},
                    "groupBy": {"type": "array", "items": STR},
                }
            ),
            "scopes": {"type": "array", "items": ref("ScopeStats")},
            "scopeCount": INT,
            "moreScopes": INT,
            "moreScopesHint": nullable(STR),
            "mismatches": {"type": "array", "items": ref("Comparison")},
        }
    ),
    "LiveOperation": obj(
        {
            "workflowId": STR,
            "runId": nullable(STR),
            "startedAt": nullable(STR),
            "taskQueue": STR,
            "dimensions": {"type": "object", "additionalProperties": STR},
            "progress": nullable(OBJ),
            "progressError": nullable(STR),
            "uiUrl": STR,
        }
    ),
    "LiveView": obj(
        {
            "operations": {"type": "array", "items": ref("LiveOperation")},
            "error": nullable(STR),
            "truncated": BOOL,
            "namespace": STR,
            "address": STR,
            "uiUrl": STR,
        }
    ),
    "Rollout": {
        "type": "object",
        "properties": {
            "id": STR,
            "scope": {"type": "object", "additionalProperties": STR},
            "steps": {"type": "array", "items": NUM},
            "minOps": INT,
            "minDurationS": NUM,
            "thresholds": OBJ,
            "status": {"type": "string", "enum": ["running", "paused", "completed", "rolled_back", "aborted"]},
            "position": INT,
            "phase": OBJ,
            "target": nullable(OBJ),
            "flagSynced": BOOL,
            "startedAt": STR,
            "updatedAt": STR,
            "finishedAt": nullable(STR),
            "createdBy": STR,
            "reason": STR,
            "version": INT,
        },
        "required": ["id", "scope", "steps", "status", "position", "phase", "version", "createdBy", "reason"],
    },
    "RolloutEvent": obj(
        {
            "rolloutId": STR,
            "version": INT,
            "at": STR,
            "kind": STR,
            "actor": STR,
            "reason": STR,
            "from": nullable(OBJ),
            "to": nullable(OBJ),
            "evidence": OBJ,
        }
    ),
    "TickResult": obj(
        {"rollout": ref("Rollout"), "action": STR, "gate": nullable(OBJ), "note": STR},
    ),
    "PropertyInput": {
        "type": "object",
        "properties": {
            "key": {"type": "string", "description": "default: cloudops.migration.stage", "maxLength": 200},
            "value": {"description": "for the stage key: one of " + ", ".join(_STAGES)},
            "scope": ref("Scope"),
            "percent": {"type": "number", "nullable": True, "description": "canary only: 0-100"},
            "bucketBy": {"type": "string", "nullable": True, "maxLength": 64},
            "expires": {"type": "string", "nullable": True, "description": "ISO time or duration (30m, 2h, 7d)"},
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
            "ticket": {"type": "string", "nullable": True, "maxLength": 200},
            "propertyId": {"type": "string", "nullable": True, "maxLength": 64},
            "expectedVersion": {"type": "integer", "nullable": True, "minimum": 1},
        },
        "required": ["value", "reason"],
    },
    "ReasonInput": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
            "ticket": {"type": "string", "nullable": True, "maxLength": 200},
            "expectedVersion": {"type": "integer", "nullable": True, "minimum": 1},
        },
        "required": ["reason"],
    },
    "RestoreInput": {
        "type": "object",
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
            "ticket": {"type": "string", "nullable": True, "maxLength": 200},
        },
        "required": ["version", "reason"],
    },
    "KillSwitchInput": {
        "type": "object",
        "properties": {
            "engaged": BOOL,
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
            "key": {"type": "string", "nullable": True, "description": "a key's off switch; absent: the global one"},
            "ticket": {"type": "string", "nullable": True, "maxLength": 200},
        },
        "required": ["engaged", "reason"],
    },
    "RolloutInput": {
        "type": "object",
        "properties": {
            "scope": {
                "description": "application=api,account=prod, or an object of dimension to value",
                "oneOf": [{"type": "string"}, ref("Scope")],
            },
            "steps": {
                "description": "1,5,25,50,100 or a list",
                "oneOf": [{"type": "string"}, {"type": "array", "items": NUM}],
            },
            "minOps": {"type": "integer", "minimum": 0},
            "minDuration": {
                "description": "seconds, or 10m",
                "oneOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            },
            "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
        },
        "required": ["scope", "reason"],
    },
    "RolloutActionInput": {
        "type": "object",
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000}, "keep": BOOL},
        "required": ["reason"],
    },
}
