"""Our snapshot as LaunchDarkly flag data (the JSON the SDK's Files data source reads), giving the same answers.

LaunchDarkly's precedence is positional (the first matching rule wins), ours is by specificity, so each property
becomes a rule and the rules are ordered most specific first: the first rule that matches is then the property
that would win. A global property is the fallthrough; without one the fallthrough serves the key's default. A
canary is a rollout between `{"stage": "canary", "percent": p, "inRollout": true}` (weight p*1000) and the same
with `false`, bucketed like ours: salt = our salt, `bucketBy` the attribute on the kind the rule matched (or the
kind named by a dimension `bucket_by`). Expired properties are left out: the export is a point in time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flags.bucketing import rollout_weight, salt_for
from flags.keys import default_for
from flags.launchdarkly import FORCE_LEGACY_FLAG
from flags.model import DIMENSIONS, JsonValue, Property
from flags.snapshot import Snapshot

__all__ = ["to_launchdarkly_data"]

_DIMENSION_NAMES = frozenset(d.value for d in DIMENSIONS)


class _Variations:
    def __init__(self) -> None:
        self.values: list[JsonValue] = []
        self._index: dict[str, int] = {}

    def index(self, value: JsonValue) -> int:
        token = json.dumps(value, sort_keys=True)
        if token not in self._index:
            self._index[token] = len(self.values)
            self.values.append(value)
        return self._index[token]


def to_launchdarkly_data(snapshot: Snapshot, *, now: datetime | None = None) -> dict[str, Any]:
    """`{"flags": {...}}` for `ldclient.integrations.Files`: one flag per key, plus the kill-switch flag."""
    moment = now or datetime.now(UTC)
    flags: dict[str, Any] = {}
    keys = set(snapshot.keys()) | {s.target for s in snapshot.switches if not s.is_global}
    for key in sorted(keys):
        live = [p for p in snapshot.properties_for(key) if not p.expired(moment)]
        flags[key] = _flag(key, live, on=snapshot.key_switch(key) is None, version=max(snapshot.version, 1))
    engaged = snapshot.global_switch is not None
    flags[FORCE_LEGACY_FLAG] = {
        "key": FORCE_LEGACY_FLAG,
        "version": max(snapshot.version, 1),
        "on": True,
        "salt": FORCE_LEGACY_FLAG,
        "variations": [False, True],
        "offVariation": 0,
        "fallthrough": {"variation": 1 if engaged else 0},
        "rules": [],
        "targets": [],
        "contextTargets": [],
        "prerequisites": [],
    }
    return {"flags": flags}


def _flag(key: str, ranked: list[Property], *, on: bool, version: int) -> dict[str, Any]:
    variations = _Variations()
    default_index = variations.index(default_for(key))
    rules = []
    fallthrough: dict[str, Any] = {"variation": default_index}
    for prop in ranked:  # most specific first, as the snapshot keeps them
        serve = _serve(prop, variations)
        if not prop.scope.named():
            fallthrough = serve
            continue
        clauses = [
            {
                "contextKind": dim.value,
                "attribute": "key",
                "op": "in",
                "values": [getattr(prop.scope, dim.value)],
                "negate": False,
            }
            for dim in prop.scope.named()
        ]
        rules.append({"id": f"{prop.id}@v{prop.version}", "clauses": clauses, "trackEvents": False, **serve})
    return {
        "key": key,
        "version": version,
        "on": on,
        "salt": salt_for(key),
        "variations": variations.values,
        "offVariation": default_index,
        "fallthrough": fallthrough,
        "rules": rules,
        "targets": [],
        "contextTargets": [],
        "prerequisites": [],
    }


def _serve(prop: Property, variations: _Variations) -> dict[str, Any]:
    if prop.percent is None:
        return {"variation": variations.index(prop.value)}
    by = prop.effective_bucket_by
    share = {"stage": prop.value, "percent": prop.percent, "bucketBy": by}
    inside = variations.index({**share, "inRollout": True})
    outside = variations.index({**share, "inRollout": False})
    weight = rollout_weight(prop.percent)
    rollout: dict[str, Any] = {
        "variations": [{"variation": inside, "weight": weight}, {"variation": outside, "weight": 100000 - weight}]
    }
    if by in _DIMENSION_NAMES:
        rollout["contextKind"] = by
    else:
        named = prop.scope.named()
        # The kind the rule matched on is certainly in the context; a global property falls back to `operation`.
        rollout["contextKind"] = named[0].value if named else "operation"
        rollout["bucketBy"] = by
    return {"rollout": rollout}
