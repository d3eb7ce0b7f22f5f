"""What a matrix cell shows beside its stage: badges for the narrower properties that win for part of it, its
recent numbers, and the guarded rollout that drives it. Pure functions over values; the reads are the callers'.

A badge is found with the evaluator itself, never a copy of its precedence: for each stage property that names a
dimension the cell leaves open (a stage type; a provider or an account the cell does not fix) and agrees with the
cell everywhere else, the cell's request plus that property's open values is decided again; the property earns a
badge when it is what decides there. So a badge means "requests of this cell with stage_type=deploy run as p7
says", exactly as the router would route them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from console.matrix import Badge, Cell, CellStats, Matrix, RolloutMark, cell_label
from flags import DIMENSIONS, STAGE_KEY, Property, Scope, Snapshot, decide
from rollouts.gates import ComparisonCounts
from rollouts.model import Rollout

__all__ = ["NarrowerIndex", "badges_for", "cell_stats", "detailed", "rollout_for"]

_NAMES = tuple(d.value for d in DIMENSIONS)


class NarrowerIndex:
    """The stage properties that name an account, a stage type or a provider (the dimensions a cell may leave
    open), by the application they name (None for those that name none), each with its named values computed
    once, so a cell looks only at the few that could apply to it."""

    def __init__(self, properties: Iterable[Property]) -> None:
        self.by_application: dict[str | None, list[tuple[Property, tuple[tuple[str, str], ...]]]] = {}
        for prop in properties:
            scope = prop.scope
            if scope.account or scope.stage_type or scope.provider:
                named = tuple(scope.to_json().items())
                self.by_application.setdefault(scope.application, []).append((prop, named))

    def candidates(self, application: str) -> list[tuple[Property, tuple[tuple[str, str], ...]]]:
        return [*self.by_application.get(application, ()), *self.by_application.get(None, ())]


def badges_for(cell: Cell, snapshot: Snapshot, index: NarrowerIndex, *, now: float) -> tuple[Badge, ...]:
    """The properties that decide some requests of `cell` other than the one that decides the cell itself."""
    if cell.decision.kill_switch:
        return ()  # every request is legacy: nothing narrower can apply
    found = []
    dims = cell.dimensions
    for prop, named in index.candidates(cell.application):
        if prop.id == cell.decision.property_id:
            continue
        opened = {}
        for d, v in named:
            fixed = dims.get(d)
            if fixed is None:
                opened[d] = v
            elif fixed != v:
                break  # it disagrees with something the cell fixes
        else:
            if not opened:
                continue
            decision = decide(snapshot, STAGE_KEY, {**dims, **opened}, now=now)
            if decision.property_id == prop.id:
                where = {d: opened[d] for d in _NAMES if d in opened}
                found.append(Badge(prop.id, prop.version, where, cell_label(decision)))
    return tuple(found)


def rollout_for(cell: Cell, rollouts: Sequence[Rollout]) -> RolloutMark | None:
    """The most specific active rollout whose scope covers the cell's request."""
    covering = [r for r in rollouts if Scope.of(dict(r.plan.scope)).matches(cell.dimensions)]
    if not covering:
        return None
    best = max(covering, key=lambda r: Scope.of(dict(r.plan.scope)).specificity())
    return RolloutMark(best.id, best.status.value, best.phase.label(), dict(best.plan.scope))


def cell_stats(
    outcomes: Mapping[str, Mapping[str, int]] | None, comparisons: Mapping[str, int] | None
) -> CellStats | None:
    """From a cell's operations by path and status and its comparisons by outcome; None when it has neither."""
    if not outcomes and not comparisons:
        return None
    operations = sum(n for by_status in (outcomes or {}).values() for n in by_status.values())
    failures = sum(by_status.get("failed", 0) for by_status in (outcomes or {}).values())
    counts = ComparisonCounts.of(comparisons or {})
    return CellStats(operations, failures, sum((comparisons or {}).values()), counts.mismatch_rate)


def detailed(
    matrix: Matrix,
    snapshot: Snapshot,
    *,
    outcomes: Mapping[tuple[str, str, str], Mapping[str, Mapping[str, int]]],
    comparisons: Mapping[tuple[str, str, str], Mapping[str, int]],
    rollouts: Sequence[Rollout],
    now: float,
) -> Matrix:
    """The page with every cell's badges, numbers (keyed by (application, account, operation)) and rollout."""
    index = NarrowerIndex(snapshot.properties_for(STAGE_KEY))
    cells = {}
    for cell in matrix.cells():
        key = (cell.application, cell.account, cell.operation)
        cells[key] = Cell(
            cell.application,
            cell.account,
            cell.operation,
            cell.dimensions,
            cell.decision,
            badges=badges_for(cell, snapshot, index, now=now),
            stats=cell_stats(outcomes.get(key), comparisons.get(key)),
            rollout=rollout_for(cell, rollouts),
        )
    return matrix.with_cells(cells)
