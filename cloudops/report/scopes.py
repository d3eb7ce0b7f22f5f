"""Which scopes a report judges: the flag scopes in use, as properties and rollouts name them (a pure core).

A rollout judges the scope it was given (`application=billing,account=prod`), and a stage property decides for
the scope it names; the report's finer rows (operation x provider x account x application) are the breakdown under
those, not the unit a decision is made on. A flag scope covers the rows whose columns equal each of its dimensions,
exactly as a rollout's evidence reads them (`rollouts.evidence`), so the report and the rollout count the same
operations. Rows no flag scope covers are reported as "not in any flag scope": they run at the default stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cloudops.report.model import REPORT_DIMENSIONS, FlagScope, ScopeKey, ScopeVerdict
from flags.model import Property
from rollouts.model import Rollout, RolloutStatus

__all__ = ["covers", "disagreement", "scopes_in_use"]


def _dimensions(scope: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in scope.items() if v))


def _property_source(prop: Property) -> str:
    percent = f" {prop.percent:g}%" if prop.percent is not None else ""
    return f"property {prop.id} v{prop.version}: {prop.value}{percent}"


def _rollout_source(rollout: Rollout) -> str:
    at = rollout.target.label() if rollout.target else "flag left as is"
    return f"rollout {rollout.id}: {rollout.status.value}, at {at}"


def scopes_in_use(properties: Iterable[Property], rollouts: Iterable[Rollout]) -> tuple[FlagScope, ...]:
    """Every distinct scope among `properties` (of the stage key) and `rollouts` (newest first), most specific
    first. A scope named by both lists each source; its rollout is the newest one of that scope."""
    sources: dict[tuple[tuple[str, str], ...], list[str]] = {}
    newest_rollout: dict[tuple[tuple[str, str], ...], str] = {}
    for rollout in rollouts:
        dims = _dimensions(rollout.plan.scope)
        sources.setdefault(dims, []).append(_rollout_source(rollout))
        newest_rollout.setdefault(dims, rollout.id)
    for prop in properties:
        dims = _dimensions(prop.scope.to_json())
        sources.setdefault(dims, []).append(_property_source(prop))
    found = [FlagScope(dims, tuple(s), newest_rollout.get(dims)) for dims, s in sources.items()]
    return tuple(sorted(found, key=lambda f: (-len(f.dimensions), f.dimensions)))


def covers(scope: FlagScope, key: ScopeKey) -> bool:
    """Whether the report row `key` lies inside `scope` (a dimension the row does not carry, stage_type, cannot
    exclude it: the scope's own evidence, read with every dimension, is exact; its breakdown is by the rest)."""
    row = key.to_json()
    return all(row[name] == value for name, value in scope.dimensions if name in REPORT_DIMENSIONS)


# Where a rollout ended, and the verdict that agrees with it; a running or aborted rollout expects none.
_AGREEING = {RolloutStatus.COMPLETED: ScopeVerdict.READY, RolloutStatus.ROLLED_BACK: ScopeVerdict.ROLL_BACK}


def disagreement(rollout: Rollout, verdict: ScopeVerdict) -> str | None:
    """Why the report's verdict on a rollout's scope differs from where that rollout ended, or None if it does
    not: the rollout judged each step on that step's own window, the report judges its whole window at once."""
    expected = _AGREEING.get(rollout.status)
    if expected is None or expected is verdict:
        return None
    return (
        f"rollout {rollout.id} {rollout.status.value.replace('_', ' ')} but the report says {verdict.label}: the "
        "rollout judged each step on that step's own window, while the report judges its whole window at once "
        "(other stages' operations included)"
    )
