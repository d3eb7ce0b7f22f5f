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
there, whatever the flags say now. `shadow_sample_percent` and `sample_bucket` decide whether a shadow runs;
the console's explain page calls the same functions, so it cannot disagree with the router.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

from flags import MigrationStage as Stage
from flags.bucketing import hash_fraction
from router.contract import Path, RouteDecision
from router.routing_values import RouteBasis

__all__ = [
    "DEFAULT_SHADOW_SAMPLE_PERCENT",
    "DecisionView",
    "Route",
    "route",
    "sample_bucket",
    "shadow_sample_percent",
]

# The share of operations that get a shadow run when no `cloudops.shadow.sample_percent` property gives one
# (RouterConfig.shadow_default_sample_percent overrides it for a router).
DEFAULT_SHADOW_SAMPLE_PERCENT = 100.0


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
    return hash_fraction(f"{salt}.{operation_id}") * 100


def shadow_sample_percent(sample: DecisionView, default: float = DEFAULT_SHADOW_SAMPLE_PERCENT) -> float:
    """The share of operations (0-100) that get a shadow run, from the decision on `cloudops.shadow.sample_percent`:
    `default` when no property gave a value or the value is not a number, else the value clamped to [0, 100]."""
    if sample.default_used:
        return default
    try:
        percent = float(cast(Any, sample.value))
    except (TypeError, ValueError):
        return default
    return min(max(percent, 0.0), 100.0)


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
