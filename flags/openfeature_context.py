"""How a cloudops request maps onto an OpenFeature evaluation context, and back, written once for both directions.

    targeting key  = the operation id (what a canary buckets by, unless its property says otherwise)
    attributes     = the request's dimensions (application, account, operation, stage_type, provider)
                     and every other attribute the router passes (e.g. a custom bucket-by attribute)

So `client.get_string_details("cloudops.migration.stage", "legacy", EvaluationContext("op-123",
{"application": "billing", "account": "prod", ...}))` asks what the router would decide for operation op-123.
"""

from __future__ import annotations

from collections.abc import Mapping

from openfeature.evaluation_context import EvaluationContext

from flags.model import DEFAULT_BUCKET_BY, DIMENSIONS

__all__ = ["TARGETING_ATTRIBUTE", "context_for", "request_of"]

TARGETING_ATTRIBUTE = DEFAULT_BUCKET_BY  # the attribute the targeting key carries: "operation_id"
_DIMENSION_NAMES = frozenset(d.value for d in DIMENSIONS)


def context_for(dimensions: Mapping[str, str], attributes: Mapping[str, str]) -> EvaluationContext:
    """The evaluation context of a request's dimensions and attributes."""
    merged: dict[str, str] = {k: v for k, v in attributes.items() if k != TARGETING_ATTRIBUTE and v}
    merged.update({k: v for k, v in dimensions.items() if v})
    return EvaluationContext(targeting_key=attributes.get(TARGETING_ATTRIBUTE) or None, attributes=merged)


def request_of(context: EvaluationContext | None) -> tuple[dict[str, str], dict[str, str]]:
    """The dimensions and the attributes an evaluation context names (values that are not text are dropped:
    no dimension or bucket attribute is anything but a string)."""
    if context is None:
        return {}, {}
    dimensions: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for name, value in (context.attributes or {}).items():
        if isinstance(value, str):
            (dimensions if name in _DIMENSION_NAMES else attributes)[name] = value
    if context.targeting_key:
        attributes[TARGETING_ATTRIBUTE] = context.targeting_key
    return dimensions, attributes
