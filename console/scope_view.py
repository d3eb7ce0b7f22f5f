"""One matrix cell on a page of its own (`/scope?application=..&account=..&operation=..`, a stable URL): the
property that decides it, every other property that matches it and why it lost (the explain of
`console.explaining`, itself the flags evaluator and the router's route), the narrower properties that win for
part of it, its recent numbers per path, the rollout that drives it, and the editor links that pre-fill its
effective stage. Pure: the page (`console.pages.scope`) does the reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.errors import InputError
from console.explaining import Explained, ExplainRequest, explain_request
from console.matrix import Cell, cell_request
from console.matrix_details import NarrowerIndex, badges_for, cell_stats, rollout_for
from console.names import KnownNames
from flags import STAGE_KEY, Candidate, CandidateOutcome, Snapshot, decide
from rollouts.model import Rollout
from router.read_values import PathStats

__all__ = ["CellAddress", "ScopeView", "parse_cell", "scope_view"]


@dataclass(frozen=True, slots=True)
class CellAddress:
    """Which cell: an application and an operation, in one account (or none), optionally with a stage type and a
    provider (the account's own provider when none is given)."""

    application: str
    operation: str
    account: str = ""
    stage_type: str = ""
    provider: str = ""


def parse_cell(args: Mapping[str, Any]) -> CellAddress:
    """From query parameters; application and operation are required."""
    values = {}
    for name in ("application", "operation", "account", "stage_type", "provider"):
        raw = args.get(name) or ""
        if not isinstance(raw, str) or len(raw) > 200:
            raise InputError(f"{name} must be text of at most 200 characters", field=name)
        values[name] = raw.strip()
    for name in ("application", "operation"):
        if not values[name]:
            raise InputError(f"{name} is required: open a cell from the scopes matrix", field=name)
    return CellAddress(**values)


@dataclass(frozen=True, slots=True)
class ScopeView:
    where: CellAddress
    cell: Cell
    explained: Explained
    paths: Mapping[str, PathStats]

    @property
    def matching(self) -> list[Candidate]:
        """Every property that matches the cell's request, most specific first, with its fate."""
        return [c for c in self.explained.explanation.candidates if c.outcome is not CandidateOutcome.NO_MATCH]

    def edit_args(self, prefill: str) -> dict[str, str]:
        """The editor's prefill for a property at exactly this cell (the dimensions its address names: not the
        provider it only inherits from its account), at the stage the cell has now."""
        decision = self.cell.decision
        named = {d: getattr(self.where, d) for d in ("application", "account", "operation", "stage_type", "provider")}
        args = {prefill + k: v for k, v in named.items() if v}
        args[prefill + "stage"] = self.cell.stage
        if decision.percent is not None:
            args[prefill + "percent"] = f"{decision.percent:g}"
        deciding = next((c.property for c in self.matching if c.property.id == decision.property_id), None)
        if decision.percent is not None and deciding is not None and deciding.bucket_by:
            args[prefill + "bucket_by"] = deciding.bucket_by  # only a chosen one: the default stays implicit
        return args


def scope_view(
    snapshot: Snapshot,
    names: KnownNames,
    where: CellAddress,
    *,
    outcomes: Mapping[str, Mapping[str, int]] | None,
    comparisons: Mapping[str, int] | None,
    rollouts: Sequence[Rollout],
    now: float,
) -> ScopeView:
    dims = cell_request(names, where.application, where.account, where.operation, where.stage_type, where.provider)
    plain = Cell(where.application, where.account, where.operation, dims, decide(snapshot, STAGE_KEY, dims, now=now))
    cell = Cell(
        plain.application,
        plain.account,
        plain.operation,
        dims,
        plain.decision,
        badges=badges_for(plain, snapshot, NarrowerIndex(snapshot.properties_for(STAGE_KEY)), now=now),
        stats=cell_stats(outcomes, comparisons),
        rollout=rollout_for(plain, rollouts),
    )
    explained = explain_request(snapshot, ExplainRequest(STAGE_KEY, dims, {}), now=now)
    paths = {path: PathStats.of(path, {(s, None): n for s, n in by.items()}) for path, by in (outcomes or {}).items()}
    return ScopeView(where, cell, explained, paths)
