"""Explain a request: the decision for its dimensions, every candidate property and its fate, and the route the
router would take (authoritative path and shadow), as a pure function of a flag snapshot.

Shared by the explain page and `GET /api/explain`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.errors import InputError
from flags import DIMENSIONS, KNOWN_KEYS, SHADOW_SAMPLE_KEY, STAGE_KEY, Explanation, Snapshot, explain
from router.policy import Route, route, sample_bucket, shadow_sample_percent

__all__ = ["ATTRIBUTES", "ExplainRequest", "Explained", "explain_request", "known_keys", "parse_explain"]

ATTRIBUTES = ("operation_id", "execution_id")


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    """A request's flag dimensions and bucketing attributes; absent ones are left out of the request."""

    key: str
    dimensions: Mapping[str, str]
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Explained:
    explanation: Explanation
    route: Route | None  # for the stage key only
    shadow_sample_percent: float | None

    def to_json(self) -> dict[str, Any]:
        out = self.explanation.to_json()
        out["route"] = None
        if self.route is not None:
            out["route"] = {
                "primary": self.route.primary.value,
                "shadow": self.route.shadow.value if self.route.shadow else None,
                "shadowSamplePercent": self.shadow_sample_percent,
                "decision": self.route.decision.to_json(),
            }
        return out


def parse_explain(args: Mapping[str, Any]) -> ExplainRequest:
    """From query parameters: key (default the stage), the five dimensions, operation_id and execution_id."""
    values: dict[str, str] = {}
    for name in ("key", *(d.value for d in DIMENSIONS), *ATTRIBUTES):
        raw = args.get(name)
        if raw is None or raw == "":
            continue
        if not isinstance(raw, str) or len(raw) > 200:
            raise InputError(f"{name} must be text of at most 200 characters", field=name)
        values[name] = raw.strip()
    return ExplainRequest(
        key=values.pop("key", "") or STAGE_KEY,
        dimensions={d.value: values[d.value] for d in DIMENSIONS if values.get(d.value)},
        attributes={a: values[a] for a in ATTRIBUTES if values.get(a)},
    )


def explain_request(snapshot: Snapshot, request: ExplainRequest, *, now: float | None = None) -> Explained:
    """The explanation, and for the stage key the route the router would take now (with the router's default
    shadow sample: a router configured with another `shadow_default_sample_percent` samples by that instead)."""
    explanation = explain(snapshot, request.key, request.dimensions, request.attributes, now=now)
    if request.key != STAGE_KEY:
        return Explained(explanation, None, None)
    sample = explain(snapshot, SHADOW_SAMPLE_KEY, request.dimensions, request.attributes, now=now).decision
    percent = shadow_sample_percent(sample)  # the router's own rule and default
    chosen = route(
        explanation.decision,
        shadow_sample_percent=percent,
        shadow_bucket=sample_bucket(request.attributes.get("operation_id", "")),
    )
    return Explained(explanation, chosen, percent)


def known_keys(snapshot: Snapshot) -> list[str]:
    """Keys worth offering in the key picker: the known ones and every key with a property."""
    return sorted(set(KNOWN_KEYS) | set(snapshot.keys()))
