"""Exact counts over a window from the hourly rollups: whole hour buckets from `outcome_rollups` /
`comparison_rollups`, the partial hours at the window's edges from the raw rows (bounded, found by time).

The rollups are kept by the database (migration 0011's triggers add each inserted row's cell and take away each
deleted one's, in the same transaction), so they always equal the rows: a count read here is exactly the count a
GROUP BY over the raw rows would give, at a cost that grows with the hours and cells of the window rather than
its rows. `split` (pure) says which part of [since, until] comes from where; `outcome_counts` and
`comparison_counts` build the statements (rollup part and raw edges) whose rows the read model adds up
(router/read_model.py). Rows are append-only: nothing updates an outcome's or a comparison's time or cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from router.tables import comparison_rollups, operation_outcomes, outcome_rollups, shadow_comparisons

__all__ = ["HOUR", "WindowSplit", "comparison_counts", "hour_floor", "outcome_counts", "split", "utc_bound"]

HOUR = timedelta(hours=1)


def utc_bound(at: datetime) -> datetime:
    """A window bound in UTC (a naive one is taken as UTC, as the tables store it), so buckets line up."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Edge:
    """Raw rows with `since <= time < until` (`time <= until` when `closed`)."""

    since: datetime
    until: datetime
    closed: bool

    def where(self, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        return [column >= self.since, column <= self.until if self.closed else column < self.until]


@dataclass(frozen=True, slots=True)
class WindowSplit:
    """[since, until] as the whole hour buckets `first <= bucket < end` (no upper bound when `end` is None;
    no buckets at all when `first` is None) and the raw `edges` around them."""

    first: datetime | None
    end: datetime | None
    edges: tuple[Edge, ...]


def split(since: datetime, until: datetime | None) -> WindowSplit:
    """Which hours of [since, until] the rollups count whole, and which partial hours the raw rows must."""
    since = utc_bound(since)
    first = hour_floor(since) if hour_floor(since) == since else hour_floor(since) + HOUR
    lower = (Edge(since, first, closed=False),) if first > since else ()
    if until is None:
        return WindowSplit(first, None, lower)
    until = utc_bound(until)
    end = hour_floor(until)
    if first >= end:  # no whole hour inside: all of it from the rows
        return WindowSplit(None, None, (Edge(since, until, closed=True),) if since <= until else ())
    return WindowSplit(first, end, (*lower, Edge(end, until, closed=True)))


def _buckets(part: WindowSplit, table: sa.Table) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = [table.c.bucket >= part.first]
    if part.end is not None:
        clauses.append(table.c.bucket < part.end)
    return clauses


def _scoped(table: sa.Table, scope: dict[str, str]) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == value for name, value in scope.items()]


def outcome_counts(
    since: datetime, until: datetime | None, scope: dict[str, str], group_by: Sequence[str], path: str | None
) -> list[sa.Select[Any]]:
    """Statements whose rows are (*group_by, path, status, error kind, stage, operations, fallbacks), to be
    added up: the rollups' whole hours, then each raw edge. A NULL error kind comes back as '' from the rollups."""
    part = split(since, until)
    statements = []
    if part.first is not None:
        r = outcome_rollups
        cell = [*(r.c[d] for d in group_by), r.c.path, r.c.status, r.c.error_kind, r.c.stage]
        where = [*_buckets(part, r), *_scoped(r, scope), r.c.operations > 0]
        if path is not None:
            where.append(r.c.path == path)
        summed = sa.select(*cell, sa.func.sum(r.c.operations), sa.func.sum(r.c.fallbacks)).where(*where)
        statements.append(summed.group_by(*cell))
    o = operation_outcomes
    cell = [*(o.c[d] for d in group_by), o.c.path, o.c.status, o.c.error_kind, o.c.stage]
    for edge in part.edges:
        where = [*edge.where(o.c.finished_at), *_scoped(o, scope)]
        if path is not None:
            where.append(o.c.path == path)
        counted = sa.select(*cell, sa.func.count(), sa.func.sum(sa.case((o.c.fallback, 1), else_=0))).where(*where)
        statements.append(counted.group_by(*cell))
    return statements


def comparison_counts(
    since: datetime, until: datetime | None, scope: dict[str, str], group_by: Sequence[str]
) -> list[sa.Select[Any]]:
    """Statements whose rows are (*group_by, outcome, comparisons), to be added up (rollups, then raw edges)."""
    part = split(since, until)
    statements = []
    if part.first is not None:
        r = comparison_rollups
        cell = [*(r.c[d] for d in group_by), r.c.outcome]
        where = [*_buckets(part, r), *_scoped(r, scope), r.c.comparisons > 0]
        statements.append(sa.select(*cell, sa.func.sum(r.c.comparisons)).where(*where).group_by(*cell))
    c = shadow_comparisons
    cell = [*(c.c[d] for d in group_by), c.c.outcome]
    for edge in part.edges:
        where = [*edge.where(c.c.compared_at), *_scoped(c, scope)]
        statements.append(sa.select(*cell, sa.func.count()).where(*where).group_by(*cell))
    return statements
