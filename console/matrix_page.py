"""Reading one page of the scopes matrix: the known names, the cells (`console.matrix`), then the page's numbers
and rollouts, and the badges (`console.matrix_details`). Shared by the scopes page and `GET /api/scopes`."""

from __future__ import annotations

import time

from console.matrix import Matrix, build_matrix
from console.matrix_details import detailed
from console.matrix_query import MatrixQuery
from console.services import ConsoleServices
from flags import Snapshot
from rollouts.model import RolloutStatus

__all__ = ["page_of_matrix"]

_ACTIVE = (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


def page_of_matrix(svc: ConsoleServices, snapshot: Snapshot, query: MatrixQuery) -> Matrix:
    """One page of the matrix with its badges, numbers and rollouts (the page and `GET /api/scopes`)."""
    now = time.time()
    names = svc.known_names(snapshot)
    matrix = build_matrix(snapshot, names, query, now=now)
    filters = {k: v for k, v in (("stage_type", query.stage_type), ("provider", query.provider)) if v}
    counts = svc.tables.cell_counts(svc.settings.dashboard_window_hours, matrix.applications, filters)
    rollouts = svc.rollouts.list(_ACTIVE)
    return detailed(
        matrix, snapshot, outcomes=counts.outcomes, comparisons=counts.comparisons, rollouts=rollouts, now=now
    )
