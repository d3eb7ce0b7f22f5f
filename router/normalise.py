"""Normalisation of plans and outcomes before comparison: what is noise between two paths is removed here.

Pure functions over JSON values. Two paths that do the same thing still differ in idempotency tokens, instance
ids, timestamps, and the order of lists whose order means nothing (security groups, zones, load balancers); and
when the shadow plans after the authoritative path has already created a server group, in the sequence number
it picks. Each of these is normalised away here, and nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cloud.plan import Plan

__all__ = ["UNORDERED_KEYS", "VOLATILE_KEYS", "normalise_plan", "normalise_value", "sequence_consistent"]

# Keys whose values differ between two correct runs; dropped wherever they appear.
VOLATILE_KEYS = frozenset({"token", "createdAt", "startTimeMs", "timestamp", "dnsName"})

# Lists whose order carries no meaning; sorted before comparison.
UNORDERED_KEYS = frozenset({"securityGroups", "loadBalancers", "zones", "targetGroups", "serverGroups"})

_SEQUENCE = re.compile(r"-v\d{3}$")


def normalise_value(value: Any, key: str = "") -> Any:
    """Drop volatile keys and sort unordered lists, recursively."""
    if isinstance(value, Mapping):
        return {k: normalise_value(v, k) for k, v in sorted(value.items()) if k not in VOLATILE_KEYS}
    if isinstance(value, list | tuple):
        items = [normalise_value(v) for v in value]
        if key in UNORDERED_KEYS:
            return sorted(items, key=repr)
        return items
    return value


def _strip_sequence(name: str) -> str:
    return _SEQUENCE.sub("-vNNN", name)


def _normalise_mutation(mutation: Mapping[str, Any], creates: bool) -> dict[str, Any]:
    out = dict(normalise_value(mutation))
    if creates:
        # The sequence is derived from the state each path saw; `sequence_consistent` checks that derivation.
        out["target"] = _strip_sequence(str(out.get("target", "")))
        spec = out.get("params", {}).get("spec")
        if isinstance(spec, dict) and "name" in spec:
            out["params"] = {**out["params"], "spec": {**spec, "name": _strip_sequence(str(spec["name"]))}}
    return out


def normalise_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """A plan's JSON with noise removed: no tokens, no facts, sequences of created server groups masked."""
    mutations = [
        _normalise_mutation(m, creates=m.get("kind") == "createServerGroup") for m in plan.get("mutations", [])
    ]
    return {
        "operation": plan.get("operation"),
        "compensateOnFailure": bool(plan.get("compensateOnFailure", False)),
        "mutations": mutations,
    }


def sequence_consistent(plan_json: Mapping[str, Any]) -> list[str]:
    """Problems with the sequence numbers a plan chose, given the names it says existed (`facts`).

    Masking sequences in `normalise_plan` would hide a path that picks the wrong sequence; this check puts that
    back: each created name must be the next free sequence after the names the plan recorded as existing.
    """
    from cloud.catalogue.naming import next_sequence, parse_server_group_name

    plan = Plan.from_json(plan_json)
    existing = plan.facts.get("existingServerGroups", {})
    latest = plan.facts.get("latestServerGroups", {})
    problems = []
    for mutation in plan.mutations:
        if mutation.kind != "createServerGroup":
            continue
        seen = existing.get(mutation.region, []) if isinstance(existing, Mapping) else []
        newest = latest.get(mutation.region) if isinstance(latest, Mapping) else None
        chosen = parse_server_group_name(mutation.target).sequence
        expected = next_sequence(seen, latest=newest)
        if chosen != expected:
            problems.append(f"{mutation.region}:{mutation.target} has sequence {chosen}, expected {expected}")
    return problems
