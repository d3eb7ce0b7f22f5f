"""The scope matrix: applications by operations, each cell the effective migration stage and the property that
decides it. A pure function of a flag snapshot and the dimension values seen; no IO.

Rows and columns come from the stage properties' scopes and from the dimensions of recent operations. Each cell
is `flags.decide` on that cell's dimensions plus the account, provider and stage-type filters; a dimension left
unfiltered is absent from the request, so properties scoped on it do not apply to the cell (the page says so).
The last row and column, "other", stand for an application or operation that no property and no operation names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flags import STAGE_KEY, Decision, Property, ReasonKind, Snapshot, decide

__all__ = ["OTHER", "FILTER_DIMENSIONS", "Cell", "Matrix", "build_matrix", "cell_label"]

OTHER = ""
"""The row or column value that stands for "any application/operation not listed" (the dimension is absent)."""

FILTER_DIMENSIONS = ("account", "provider", "stage_type")


@dataclass(frozen=True, slots=True)
class Cell:
    """One application x operation: its effective stage and why."""

    application: str
    operation: str
    dimensions: Mapping[str, str]
    decision: Decision

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
            "application": self.application or None,
            "operation": self.operation or None,
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
        }


@dataclass(frozen=True, slots=True)
class Matrix:
    """Cells by (application, operation), with the filter choices the page offers."""

    applications: tuple[str, ...]
    operations: tuple[str, ...]
    cells: Mapping[tuple[str, str], Cell]
    filters: Mapping[str, str]
    choices: Mapping[str, tuple[str, ...]]
    snapshot_version: int
    kill_switch: bool

    def cell(self, application: str, operation: str) -> Cell:
        return self.cells[(application, operation)]

    def to_json(self) -> dict[str, Any]:
        return {
            "applications": [a or None for a in self.applications],
            "operations": [o or None for o in self.operations],
            "filters": dict(self.filters),
            "choices": {k: list(v) for k, v in self.choices.items()},
            "snapshotVersion": self.snapshot_version,
            "killSwitch": self.kill_switch,
            "cells": [c.to_json() for c in self.cells.values()],
        }


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


def _values(dimension: str, properties: Iterable[Property], seen: Iterable[Mapping[str, str]]) -> set[str]:
    found = {getattr(p.scope, dimension) for p in properties}
    found |= {row.get(dimension) for row in seen}
    return {v for v in found if v}


def build_matrix(
    snapshot: Snapshot,
    seen: Iterable[Mapping[str, str]],
    filters: Mapping[str, str | None] | None = None,
    *,
    now: float | None = None,
) -> Matrix:
    """The matrix for `snapshot`, with rows and columns from its stage properties and the dimensions `seen`."""
    seen = list(seen)
    properties = snapshot.properties_for(STAGE_KEY)
    chosen = {k: v for k, v in (filters or {}).items() if k in FILTER_DIMENSIONS and v}
    applications = (*sorted(_values("application", properties, seen)), OTHER)
    operations = (*sorted(_values("operation", properties, seen)), OTHER)
    cells = {}
    for application in applications:
        for operation in operations:
            dims = {**chosen}
            if application:
                dims["application"] = application
            if operation:
                dims["operation"] = operation
            cells[(application, operation)] = Cell(
                application, operation, dims, decide(snapshot, STAGE_KEY, dims, now=now)
            )
    choices = {d: tuple(sorted(_values(d, properties, seen))) for d in FILTER_DIMENSIONS}
    return Matrix(
        applications=applications,
        operations=operations,
        cells=cells,
        filters=chosen,
        choices=choices,
        snapshot_version=snapshot.version,
        kill_switch=snapshot.global_switch is not None,
    )
