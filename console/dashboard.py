"""The rollout dashboard's query and result: which rows to read (window, filters, grouping), and what to show
(stats per scope from `console.rollup`, and the recent mismatches with their field diffs).

Shared by the dashboard page and `GET /api/dashboard`; parsing raises InputError naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.errors import InputError
from console.queries import DIMENSIONS, RouterTables, Window
from console.rollup import DEFAULT_GROUP_BY, ComparisonRow, ScopeStats

__all__ = ["MAX_HOURS", "Dashboard", "DashboardQuery", "build_dashboard", "parse_dashboard"]

MAX_HOURS = 90 * 24.0


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    hours: float
    filters: Mapping[str, str]
    group_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dashboard:
    query: DashboardQuery
    scopes: tuple[ScopeStats, ...]
    mismatches: tuple[ComparisonRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {
                "hours": self.query.hours,
                "filters": dict(self.query.filters),
                "groupBy": list(self.query.group_by),
            },
            "scopes": [s.to_json() for s in self.scopes],
            "mismatches": [m.to_json() for m in self.mismatches],
        }


def _hours(raw: Any, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        hours = float(raw)
    except (TypeError, ValueError):
        raise InputError(f"hours must be a number of hours, got {raw!r}", field="hours") from None
    if not math.isfinite(hours) or not 0 < hours <= MAX_HOURS:
        raise InputError(f"hours must be above 0 and at most {MAX_HOURS:g}, got {raw!r}", field="hours")
    return hours


def _group_by(raw: Sequence[str]) -> tuple[str, ...]:
    names = [n.strip() for item in raw for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise InputError(f"cannot group by {unknown[0]!r}: the dimensions are {', '.join(DIMENSIONS)}", field="groupBy")
    return tuple(d for d in DIMENSIONS if d in names) if names else DEFAULT_GROUP_BY


def parse_dashboard(args: Mapping[str, Any], group_by: Sequence[str], default_hours: float) -> DashboardQuery:
    """From query parameters: hours, a value per dimension to filter on, and the dimensions to group by."""
    filters = {}
    for name in DIMENSIONS:
        value = args.get(name)
        if isinstance(value, str) and value.strip():
            if len(value) > 200:
                raise InputError(f"{name} takes at most 200 characters", field=name)
            filters[name] = value.strip()
    return DashboardQuery(hours=_hours(args.get("hours"), default_hours), filters=filters, group_by=_group_by(group_by))


def build_dashboard(tables: RouterTables, query: DashboardQuery, *, recent: int) -> Dashboard:
    window = Window(query.hours, query.filters)
    scopes = tables.scope_stats(window, query.group_by)
    mismatches = tables.comparisons(window, outcome="mismatch", limit=recent)
    return Dashboard(query=query, scopes=tuple(scopes), mismatches=tuple(mismatches))
