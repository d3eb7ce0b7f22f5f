"""The rollout dashboard's query and result: which rows to read (window, filters, grouping), and what to show
(stats per scope from `console.rollup`, and the recent mismatches with their field diffs).

It shows the `SCOPES` busiest scopes (busiest first) with their latencies, and says how many more the window
has and how to see them: a filter on a dimension, or a grouping by fewer dimensions. Counting every scope is
cheap (the router's hourly rollups); reading every scope's latencies is not (a million rows for a busy day).

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

__all__ = ["MAX_HOURS", "SCOPES", "Dashboard", "DashboardQuery", "build_dashboard", "parse_dashboard"]

MAX_HOURS = 90 * 24.0
SCOPES = 100


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
    scope_count: int = 0

    @property
    def more_scopes(self) -> int:
        return max(0, self.scope_count - len(self.scopes))

    def more_scopes_hint(self) -> str | None:
        """What to do to see the scopes left out (None when none are)."""
        if not self.more_scopes:
            return None
        filterable = [d for d in DIMENSIONS if d not in self.query.filters]
        fewer = ", or group by fewer dimensions," if len(self.query.group_by) > 1 else ""
        return (
            f"showing the {len(self.scopes)} busiest of {self.scope_count} scopes ({self.more_scopes} more): "
            f"filter by {' or '.join(filterable[:2]) if filterable else 'a shorter window'}{fewer} to see the others"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {
                "hours": self.query.hours,
                "filters": dict(self.query.filters),
                "groupBy": list(self.query.group_by),
            },
            "scopes": [s.to_json() for s in self.scopes],
            "scopeCount": self.scope_count,
            "moreScopes": self.more_scopes,
            "moreScopesHint": self.more_scopes_hint(),
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


def build_dashboard(tables: RouterTables, query: DashboardQuery, *, recent: int, scopes: int = SCOPES) -> Dashboard:
    """The window's `scopes` busiest scopes with their latencies, how many scopes it has, its recent mismatches."""
    window = Window(query.hours, query.filters)
    busiest = tables.busiest_scopes(window, query.group_by, scopes)
    mismatches = tables.comparisons(window, outcome="mismatch", limit=recent)
    return Dashboard(query=query, scopes=busiest.scopes, mismatches=tuple(mismatches), scope_count=busiest.total)
