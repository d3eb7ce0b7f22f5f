"""Where an operation runs: the pure rule from a flag decision to an authoritative path and an optional shadow.

This module is the whole routing table of the architecture page (section 4), in one function, `route`:

    stage       authoritative                                   shadow (dry run, when sampled)
    legacy      legacy                                          none
    shadow      legacy                                          durable
    canary      durable inside the sticky percent, else legacy  the other path
    durable     durable                                         legacy
    complete    durable                                         none

and the rules that never bend: the kill switch forces legacy with no shadow; a decision that could not be made
(store down, unknown key, malformed property) routes to legacy; an operation that already has an owner stays
there, whatever the flags say now.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from flags import MigrationStage as Stage
from router.contract import Path, RouteDecision
from router.routing_values import RouteBasis

__all__ = ["DecisionView", "Route", "route", "sample_bucket"]


class DecisionView(Protocol):
    """What `route` reads of a flag decision (`flags.Decision` satisfies it)."""

    @property
    def value(self) -> object: ...
    @property
    def percent(self) -> float | None: ...
    @property
    def bucket(self) -> float | None: ...
    @property
    def in_rollout(self) -> bool: ...
    @property
    def property_id(self) -> str | None: ...
    @property
    def property_version(self) -> int | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def default_used(self) -> bool: ...
    @property
    def kill_switch(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Route:
    """The outcome of routing: run `primary` for real; run `shadow`, if any, in dry run."""

    primary: Path
    shadow: Path | None
    decision: RouteDecision
    owner: Path | None = None  # the path that owned the operation before this call, if any
    basis: RouteBasis = RouteBasis.MATCHED  # what the route rests on (the decisions metric's label)


_SHADOWED = {Stage.SHADOW: Path.DURABLE, Stage.DURABLE: Path.LEGACY}


def sample_bucket(operation_id: str, salt: str = "cloudops.shadow") -> float:
    """A sticky number in [0, 100) for an operation, for shadow sampling (the same operation, the same answer)."""
    digest = hashlib.sha1(f"{salt}.{operation_id}".encode()).hexdigest()[:15]
    return int(digest, 16) / 0xFFFFFFFFFFFFFFF * 100


def route(
    decision: DecisionView,
    *,
    shadow_sample_percent: float,
    shadow_bucket: float,
    owner: Path | None = None,
) -> Route:
    """Route one operation. `owner` is the path that already started it, if any (rule 2 wins over flags)."""
    stage = _stage_of(decision)
    primary, reason = _primary(stage, decision)
    basis = _basis(decision)
    if owner is not None and owner is not primary:
        primary, reason = owner, f"owned by the {owner.value} path since its first attempt ({reason})"
        basis = RouteBasis.OWNED
    shadow = None if stage is None else _shadow(stage, primary)
    if shadow is not None and shadow_bucket >= shadow_sample_percent:
        shadow = None
    record = RouteDecision(
        stage=stage.value if stage else Stage.LEGACY.value,
        path=primary,
        reason=reason,
        property_id=decision.property_id,
        property_version=decision.property_version,
        percent=decision.percent,
        bucket=decision.bucket,
    )
    return Route(primary=primary, shadow=shadow, decision=record, owner=owner, basis=basis)


def _basis(decision: DecisionView) -> RouteBasis:
    if decision.kill_switch:
        return RouteBasis.KILL_SWITCH
    return RouteBasis.DEFAULT if decision.default_used else RouteBasis.MATCHED


def _stage_of(decision: DecisionView) -> Stage | None:
    """The stage a decision names; None when the decision cannot be trusted (kill switch, default, bad value)."""
    if decision.kill_switch or decision.default_used:
        return None
    try:
        return Stage(str(decision.value))
    except ValueError:
        return None


def _primary(stage: Stage | None, decision: DecisionView) -> tuple[Path, str]:
    if stage is None:
        if decision.kill_switch:
            return Path.LEGACY, f"kill switch: {decision.reason}"
        return Path.LEGACY, f"no usable decision, legacy by default: {decision.reason}"
    if stage is Stage.CANARY:
        where = Path.DURABLE if decision.in_rollout else Path.LEGACY
        inside = "inside" if decision.in_rollout else "outside"
        bucket = "?" if decision.bucket is None else f"{decision.bucket:.2f}"
        return where, f"canary {decision.percent}%: bucket {bucket} {inside} the rollout"
    if stage in (Stage.DURABLE, Stage.COMPLETE):
        return Path.DURABLE, f"stage {stage.value}: {decision.reason}"
    return Path.LEGACY, f"stage {stage.value}: {decision.reason}"


def _shadow(stage: Stage, primary: Path) -> Path | None:
    if stage is Stage.CANARY:
        return Path.LEGACY if primary is Path.DURABLE else Path.DURABLE
    shadow = _SHADOWED.get(stage)
    # An owned operation may run on a path other than its stage's; never shadow a path onto itself.
    return shadow if shadow is not primary else None
