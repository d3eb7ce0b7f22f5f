"""What evaluation returns: a Decision (the value and why), an Explanation (every candidate and its fate), and
the FlagSource protocol both backends (our snapshot client and LaunchDarkly) satisfy.

Failures are values: a decision that could not be made carries `error`, the key's default and `default_used`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from flags.model import JsonValue, MigrationStage, Property

__all__ = [
    "Candidate",
    "CandidateOutcome",
    "Decision",
    "DecisionError",
    "Explanation",
    "FlagSource",
    "ReasonKind",
]


class ReasonKind(StrEnum):
    """Why a decision has its value."""

    MATCH = "match"  # the most specific matching property gave it
    NO_MATCH = "no_match"  # no property matched: the key's default
    KILL_SWITCH = "kill_switch"  # the global kill switch: every key gives its default (the stage: legacy)
    KEY_OFF = "key_off"  # the key's off switch: its default
    ERROR = "error"  # no decision could be made (see `DecisionError`): the default


class DecisionError(StrEnum):
    """Why no decision could be made; every one of these gives the default and is counted."""

    STORE_UNAVAILABLE = "store_unavailable"  # no snapshot was ever loaded
    UNKNOWN_KEY = "unknown_key"
    UNKNOWN_DIMENSION = "unknown_dimension"
    MALFORMED_PROPERTY = "malformed_property"
    EVALUATION_FAILED = "evaluation_failed"  # a bug or a backend failure: the default, never an exception


# Not slotted, unlike our other values: a canary decision is built per request on the hot path, and cloning a
# per-property template through __dict__ (`Decision.cloned`) costs under 1 us where the frozen __init__ costs 3-5.
@dataclass(frozen=True)
class Decision:
    """The value of one key for one request, with everything needed to say why.

    For a canary, `bucket` (0-100) is the request's sticky bucket and `in_rollout` is `bucket < percent`;
    `in_rollout` is False whenever no percent applies. `stage` is set for `cloudops.migration.stage` only.
    """

    key: str
    value: JsonValue
    reason: str
    reason_kind: ReasonKind
    stage: MigrationStage | None = None
    percent: float | None = None
    bucket: float | None = None
    in_rollout: bool = False
    bucket_by: str | None = None
    property_id: str | None = None
    property_version: int | None = None
    default_used: bool = False
    kill_switch: bool = False
    error: DecisionError | None = None

    def cloned(self, bucket: float | None, in_rollout: bool, reason: str) -> Decision:
        """This decision with another bucket, rollout membership and reason (the evaluator's fast path)."""
        clone = object.__new__(Decision)
        fields = clone.__dict__
        fields.update(self.__dict__)
        fields["bucket"] = bucket
        fields["in_rollout"] = in_rollout
        fields["reason"] = reason
        return clone

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "stage": self.stage.value if self.stage else None,
            "percent": self.percent,
            "bucket": self.bucket,
            "inRollout": self.in_rollout,
            "bucketBy": self.bucket_by,
            "propertyId": self.property_id,
            "propertyVersion": self.property_version,
            "reason": self.reason,
            "reasonKind": self.reason_kind.value,
            "defaultUsed": self.default_used,
            "killSwitch": self.kill_switch,
            "error": self.error.value if self.error else None,
        }


class CandidateOutcome(StrEnum):
    WON = "won"
    LOST = "lost"  # matched, but a more specific property won
    NO_MATCH = "no_match"  # a named dimension differs from the request
    EXPIRED = "expired"
    MALFORMED = "malformed"  # its stored value breaks the key's rules
    OVERRIDDEN = "overridden"  # it would have won, but a kill switch gives the default


@dataclass(frozen=True, slots=True)
class Candidate:
    """One property of the key and what happened to it for this request."""

    property: Property
    outcome: CandidateOutcome
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"property": self.property.to_json(), "outcome": self.outcome.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision with every candidate, most specific first, and why each won or lost."""

    decision: Decision
    dimensions: Mapping[str, str]
    attributes: Mapping[str, str]
    candidates: tuple[Candidate, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.to_json(),
            "dimensions": dict(self.dimensions),
            "attributes": dict(self.attributes),
            "candidates": [c.to_json() for c in self.candidates],
        }


class FlagSource(Protocol):
    """A backend the router reads: in memory, never raising."""

    def decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = ...) -> Decision: ...

    def explain(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = ...) -> Explanation: ...
