"""The pure evaluator: (snapshot, key, request dimensions, attributes) -> Decision, and its explain trace.

Order, first hit wins: the global kill switch (every key gives its default; the stage gives legacy), the key's
off switch, then the most specific live property (application > account > operation > stage_type > provider), then
the key's default. A canary's bucket is LaunchDarkly's, by `bucket_by` (a dimension or an attribute). Nothing
here raises, does IO or takes a lock; the clock is read only when a matching property has an expiry (or pass `now`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from flags._index import Entry, default_decision, stage_of, walk
from flags.decision import Candidate, CandidateOutcome, Decision, DecisionError, Explanation, ReasonKind
from flags.model import DIMENSIONS, JsonValue
from flags.snapshot import Snapshot

__all__ = ["MISSING", "decide", "explain", "with_default"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The `default` of decide() when the caller gives none: the key's own default applies."""

_EMPTY: Mapping[str, str] = {}
_DIMENSION_NAMES = frozenset(d.value for d in DIMENSIONS)


def decide(
    snapshot: Snapshot,
    key: str,
    dimensions: Mapping[str, str],
    attributes: Mapping[str, str] = _EMPTY,
    *,
    now: float | None = None,
    default: JsonValue | _Missing = MISSING,
) -> Decision:
    """The value of `key` for a request. `now` (epoch seconds) defaults to the clock; `default` overrides the
    key's own default whenever a default is used."""
    decision = _decide(snapshot, key, dimensions, attributes, now)
    return decision if default is MISSING else with_default(decision, default)


def with_default(decision: Decision, default: JsonValue | _Missing) -> Decision:
    """`decision` with the caller's default in place of the key's, when a default was used."""
    if isinstance(default, _Missing) or not decision.default_used or decision.value == default:
        return decision
    return replace(decision, value=default, stage=stage_of(decision.key, default))


def _decide(
    snapshot: Snapshot, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str], now: float | None
) -> Decision:
    index = snapshot.index.get(key)
    if index is None:
        return _unknown_key(snapshot, key)
    if index.killed is not None:
        return index.killed
    if index.off is not None:
        return index.off
    if not _DIMENSION_NAMES.issuperset(dimensions):
        return _unknown_dimension(snapshot, key, dimensions)
    root = index.root
    if root is None:
        return index.no_match
    get = dimensions.get
    values = (
        get("application") or None,
        get("account") or None,
        get("operation") or None,
        get("stage_type") or None,
        get("provider") or None,
    )
    entry = walk(root, values, 0, now)
    if entry is None:
        return index.no_match
    return entry.decision or _rollout(entry, dimensions, attributes)


def _rollout(entry: Entry, dimensions: Mapping[str, str], attributes: Mapping[str, str]) -> Decision:
    template = entry.template
    assert template is not None
    by_value = (dimensions if entry.bucket_from_dimensions else attributes).get(entry.bucket_by)
    if not by_value:
        return template.cloned(None, False, entry.unbucketed)
    fraction = entry.bucket_of(by_value)
    if fraction < entry.limit:
        return template.cloned(fraction * 100.0, True, entry.inside)
    return template.cloned(fraction * 100.0, False, entry.outside)


def _unknown_key(snapshot: Snapshot, key: str) -> Decision:
    # Known keys always have an index, so this is a key nobody defined (or a typo of one).
    return default_decision(
        key,
        ReasonKind.ERROR,
        f"unknown key {key!r}: no property defines it",
        error=DecisionError.UNKNOWN_KEY,
    )


def _unknown_dimension(snapshot: Snapshot, key: str, dimensions: Mapping[str, str]) -> Decision:
    unknown = sorted(set(dimensions) - _DIMENSION_NAMES)
    return default_decision(
        key,
        ReasonKind.ERROR,
        f"unknown dimension {unknown[0]!r} in the request (the dimensions are {', '.join(DIMENSIONS)})",
        error=DecisionError.UNKNOWN_DIMENSION,
    )


def explain(
    snapshot: Snapshot,
    key: str,
    dimensions: Mapping[str, str],
    attributes: Mapping[str, str] = _EMPTY,
    *,
    now: float | None = None,
    default: JsonValue | _Missing = MISSING,
) -> Explanation:
    """The decision and every property of the key, most specific first, each with why it won or lost."""
    now = time.time() if now is None else now
    decision = decide(snapshot, key, dimensions, attributes, now=now, default=default)
    moment = datetime.fromtimestamp(now, UTC)
    winner: str | None = None
    candidates = []
    for prop in snapshot.properties_for(key):
        mismatch = prop.scope.mismatch(dimensions)
        if mismatch is not None:
            dim, wanted, got = mismatch
            outcome, detail = CandidateOutcome.NO_MATCH, f"wants {dim.value}={wanted}, the request has {got or 'none'}"
        elif prop.expires_at is not None and prop.expired(moment):
            outcome, detail = CandidateOutcome.EXPIRED, f"expired at {prop.expires_at.isoformat()}"
        elif winner is not None:
            outcome, detail = CandidateOutcome.LOST, f"matches, but {winner} is more specific"
        else:
            winner = prop.id
            outcome, detail = _winner_outcome(decision, prop.id)
        candidates.append(Candidate(property=prop, outcome=outcome, detail=detail))
    return Explanation(
        decision=decision, dimensions=dict(dimensions), attributes=dict(attributes), candidates=tuple(candidates)
    )


def _winner_outcome(decision: Decision, property_id: str) -> tuple[CandidateOutcome, str]:
    if decision.error is DecisionError.MALFORMED_PROPERTY:
        return CandidateOutcome.MALFORMED, decision.reason
    if decision.reason_kind in (ReasonKind.KILL_SWITCH, ReasonKind.KEY_OFF, ReasonKind.ERROR):
        return CandidateOutcome.OVERRIDDEN, f"the most specific match, but: {decision.reason}"
    return CandidateOutcome.WON, decision.reason
