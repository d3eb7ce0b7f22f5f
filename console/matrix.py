"""The scopes matrix: one row per (application, account), one column per operation, each cell the stage a request
of that scope gets. A pure function of a flag snapshot and the known names (`console.names`); no IO.

Every cell is `flags.decide` (the router's own evaluator) on the cell's whole scope: its application, account and
operation, the account's provider when one is known, and the stage type or provider the person picked. So an
account-scoped property shows in the unfiltered matrix, on that account's rows, and the matrix can never disagree
with the router. What a cell cannot fix (a stage type, an unknown provider) is left out of its request; a
property narrower on those dimensions that would win for part of the cell shows as a badge
(`console.matrix_details`), as do the cell's recent numbers and the rollout that drives it.

Rows are paged by application (`MatrixQuery.per_page` applications a page, each with its accounts' rows); only
the page's cells get badges and numbers, and without a stage filter only the page's cells are decided at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from console.matrix_query import MatrixQuery
from console.names import CATALOGUE_OPERATIONS, KnownNames
from flags import STAGE_KEY, Decision, ReasonKind, Snapshot, decide

__all__ = [
    "Badge",
    "Cell",
    "CellStats",
    "Matrix",
    "RolloutMark",
    "Row",
    "build_matrix",
    "cell_label",
    "cell_request",
    "columns",
]


def cell_label(decision: Decision) -> str:
    """How a stage reads in a cell: "canary 10%", "durable", "legacy (kill switch)"."""
    stage = decision.stage.value if decision.stage else str(decision.value)
    if decision.reason_kind is ReasonKind.KILL_SWITCH:
        return f"{stage} (kill switch)"
    if decision.reason_kind is ReasonKind.KEY_OFF:
        return f"{stage} (off switch)"
    if decision.percent is not None:
        return f"{stage} {decision.percent:g}%"
    return stage


@dataclass(frozen=True, slots=True)
class Badge:
    """A property narrower than the cell's request that wins for part of it: `dimensions` are the values it
    names that the cell leaves open (a stage type, a provider), `label` the stage it gives there."""

    property_id: str
    property_version: int
    dimensions: Mapping[str, str]
    label: str

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.dimensions.items())
        return f"{self.property_id}: {self.label} for {where}"

    def to_json(self) -> dict[str, Any]:
        return {
            "propertyId": self.property_id,
            "propertyVersion": self.property_version,
            "dimensions": dict(self.dimensions),
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class CellStats:
    """A cell's recent operations: failures over every path, and the shadow mismatch rate the gates use."""

    operations: int
    failures: int
    comparisons: int
    mismatch_rate: float | None

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.operations if self.operations else None

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "failures": self.failures,
            "failureRate": self.failure_rate,
            "comparisons": self.comparisons,
            "mismatchRate": self.mismatch_rate,
        }


@dataclass(frozen=True, slots=True)
class RolloutMark:
    """The active guarded rollout whose scope covers the cell."""

    rollout_id: str
    status: str
    phase: str
    scope: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.rollout_id, "status": self.status, "phase": self.phase, "scope": dict(self.scope)}


@dataclass(frozen=True, slots=True)
class Cell:
    """One (application, account, operation): the decision for its request, and what the page adds to it."""

    application: str
    account: str
    operation: str
    dimensions: Mapping[str, str]
    decision: Decision
    badges: tuple[Badge, ...] = ()
    stats: CellStats | None = None
    rollout: RolloutMark | None = None

    @property
    def stage(self) -> str:
        return self.decision.stage.value if self.decision.stage else str(self.decision.value)

    @property
    def decided_by(self) -> str:
        """The deciding property's id, "kill switch", or "default"."""
        if self.decision.kill_switch:
            return "kill switch"
        return self.decision.property_id or "default"

    @property
    def label(self) -> str:
        return cell_label(self.decision)

    def to_json(self) -> dict[str, Any]:
        return {
            "application": self.application,
            "account": self.account or None,
            "operation": self.operation,
            "dimensions": dict(self.dimensions),
            "stage": self.stage,
            "percent": self.decision.percent,
            "label": self.label,
            "decidedBy": self.decided_by,
            "propertyId": self.decision.property_id,
            "propertyVersion": self.decision.property_version,
            "reason": self.decision.reason,
            "reasonKind": self.decision.reason_kind.value,
            "killSwitch": self.decision.kill_switch,
            "badges": [b.to_json() for b in self.badges],
            "stats": self.stats.to_json() if self.stats else None,
            "rollout": self.rollout.to_json() if self.rollout else None,
        }


@dataclass(frozen=True, slots=True)
class Row:
    application: str
    account: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    """One page of the matrix, with what the page needs to offer the next one."""

    query: MatrixQuery
    operations: tuple[str, ...]
    accounts: tuple[str, ...]
    rows: tuple[Row, ...]
    applications: tuple[str, ...]  # this page's
    total_applications: int  # matching the search and the stage filter, over every page
    names: KnownNames
    snapshot_version: int
    kill_switch: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def pages(self) -> int:
        return max(1, -(-self.total_applications // self.query.per_page))

    def cell(self, application: str, account: str, operation: str) -> Cell:
        for row in self.rows:
            if (row.application, row.account) == (application, account):
                return row.cells[self.operations.index(operation)]
        raise KeyError((application, account, operation))

    def cells(self) -> list[Cell]:
        return [c for row in self.rows for c in row.cells]

    def with_cells(self, cells: Mapping[tuple[str, str, str], Cell]) -> Matrix:
        """This page with some cells replaced (by `console.matrix_details`)."""
        rows = tuple(
            replace(row, cells=tuple(cells.get((c.application, c.account, c.operation), c) for c in row.cells))
            for row in self.rows
        )
        return replace(self, rows=rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": {**self.query.filters(), "page": self.query.page, "perPage": self.query.per_page},
            "page": self.query.page,
            "pages": self.pages,
            "totalApplications": self.total_applications,
            "applications": list(self.applications),
            "accounts": [a or None for a in self.accounts],
            "operations": list(self.operations),
            "choices": {d: list(v) for d, v in self.names.values.items()},
            "snapshotVersion": self.snapshot_version,
            "killSwitch": self.kill_switch,
            "notes": list(self.notes),
            "cells": [c.to_json() for c in self.cells()],
        }


def columns(names: KnownNames, query: MatrixQuery) -> tuple[str, ...]:
    """The catalogue's operations in its order, then any other known operation; only the picked one if any."""
    if query.operation:
        return (query.operation,)
    extra = sorted(set(names.of("operation")) - set(CATALOGUE_OPERATIONS))
    return (*CATALOGUE_OPERATIONS, *extra)


def cell_request(
    names: KnownNames, application: str, account: str, operation: str, stage_type: str = "", provider: str = ""
) -> dict[str, str]:
    """The request a cell stands for: its application, account and operation, `provider` or else the account's
    known provider, and `stage_type` when one is picked (absent dimensions are absent from the request)."""
    dims = {"application": application}
    if account:
        dims["account"] = account
    if operation:
        dims["operation"] = operation
    provider = provider or names.account_providers.get(account, "")
    if provider:
        dims["provider"] = provider
    if stage_type:
        dims["stage_type"] = stage_type
    return dims


def _row(
    snapshot: Snapshot, names: KnownNames, query: MatrixQuery, ops: Sequence[str], app: str, account: str, now: float
) -> Row:
    base = cell_request(names, app, account, "", query.stage_type, query.provider)
    cells = []
    for op in ops:
        dims = {**base, "operation": op}
        cells.append(Cell(app, account, op, dims, decide(snapshot, STAGE_KEY, dims, now=now)))
    return Row(app, account, tuple(cells))


def build_matrix(snapshot: Snapshot, names: KnownNames, query: MatrixQuery, *, now: float) -> Matrix:
    """The page `query` asks for. `now` (epoch seconds) is one clock reading for every cell, so expiring
    properties cannot make two cells of one page disagree about the time."""
    ops = columns(names, query)
    accounts = (query.account,) if query.account else names.of("account") or ("",)
    needle = query.search.lower()
    apps = [a for a in names.of("application") if needle in a.lower()]
    notes = []
    if not names.of("account") and not query.account:
        notes.append("no account is known (no cloud configured, no operation recorded, no property names one)")
    if names.cloud_problem:
        notes.append(f"the cloud's accounts are unavailable ({names.cloud_problem}): accounts come from operations")
    if query.stage:
        # The stage filter needs every application's cells: the whole matrix, decided before paging.
        kept, rows_of = [], {}
        for app in apps:
            app_rows = [_row(snapshot, names, query, ops, app, acc, now) for acc in accounts]
            if any(c.stage == query.stage for r in app_rows for c in r.cells):
                kept.append(app)
                rows_of[app] = app_rows
        apps = kept
    start = (query.page - 1) * query.per_page
    page_apps = tuple(apps[start : start + query.per_page])
    rows: list[Row] = []
    for app in page_apps:
        if query.stage:
            rows.extend(rows_of[app])
        else:
            rows.extend(_row(snapshot, names, query, ops, app, acc, now) for acc in accounts)
    return Matrix(
        query=query,
        operations=ops,
        accounts=tuple(accounts),
        rows=tuple(rows),
        applications=page_apps,
        total_applications=len(apps),
        names=names,
        snapshot_version=snapshot.version,
        kill_switch=snapshot.global_switch is not None,
        notes=tuple(notes),
    )
