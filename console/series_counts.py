"""The per-bucket counts of the charts over time (`console.scope_series`): operations and failures per path and
comparisons per outcome in each time bucket of a window, read two ways that give the same numbers.

`raw_counts` groups every raw row of the window into its bucket (a portable `CASE` over the bucket edges, so
SQLite and PostgreSQL read it alike): its cost grows with the rows. `rollup_counts` reads the whole hours of the
window from the hourly rollups (migration 0011, kept equal to the rows by triggers) and only the partial hours at
the window's edges from the raw rows, split by `router.rollups.split`: its cost grows with the hours and cells.
The rollups can only count buckets whose edges are hour boundaries, so `chart_edges` lays the buckets on the hour
grid when the bucket width is a whole number of hours (`aligned`), and the caller reads rollups only then.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from router.rollups import HOUR, hour_floor, split, utc_bound
from router.tables import comparison_rollups, operation_outcomes, outcome_rollups, shadow_comparisons

__all__ = ["BucketCounts", "bucket_of", "chart_edges", "is_hourly", "raw_counts", "rollup_counts"]


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """Per bucket index: operations per path, failed operations per path, comparisons per outcome."""

    operations: Mapping[int, Mapping[str, int]]
    failures: Mapping[int, Mapping[str, int]]
    comparisons: Mapping[int, Mapping[str, int]]


def chart_edges(since: datetime, until: datetime, buckets: int, *, aligned: bool) -> tuple[datetime, ...]:
    """The start of each bucket of [since, until). Even buckets of `(until - since) / buckets` from `since`, or,
    when `aligned` and that width is a whole number of hours, buckets on the hour grid: `since`, then every
    multiple of the width from `since`'s hour that falls inside the window. A window that starts on the hour gets
    `buckets` full buckets; one that does not gets `buckets + 1`, the first and last partial (e.g. a 24 h window
    from 05:17: [05:17, 06:00), 23 whole hours, [05:00, 05:17) the next day)."""
    if buckets < 1 or until <= since:
        raise ValueError("a series needs at least one bucket over a window that ends after it starts")
    width = (until - since) / buckets
    if not (aligned and is_hourly(width)):
        return tuple(since + width * i for i in range(buckets))
    since, until = utc_bound(since), utc_bound(until)  # the hour grid is UTC's, as the rollups' buckets are
    inner = (hour_floor(since) + width * i for i in range(1, buckets + 1))
    return (since, *(edge for edge in inner if edge < until))


def is_hourly(width: timedelta) -> bool:
    """Whether buckets of `width` are made of whole rollup hours."""
    return width >= HOUR and width % HOUR == timedelta(0)


class _Counter:
    """Adds up (bucket, key) -> n rows from several statements."""

    def __init__(self) -> None:
        self.found: dict[int, dict[str, int]] = {}

    def add(self, index: int, key: str, n: int) -> None:
        by_key = self.found.setdefault(index, {})
        by_key[key] = by_key.get(key, 0) + n


def bucket_of(column: sa.ColumnElement[Any], edges: Sequence[datetime]) -> sa.ColumnElement[int]:
    """The index of the last edge at or before `column` (rows before the first edge are filtered out)."""
    whens = [(column >= edge, index) for index, edge in reversed(list(enumerate(edges)))]
    return sa.case(*whens, else_=0).label("bucket")


def _scoped(table: sa.Table, scope: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    return [table.c[k] == v for k, v in scope.items()]


def _tally(rows: Iterable[Any], ops: _Counter, failed: _Counter, index_of: Callable[[Any], int] = int) -> None:
    """Adds (bucket, path, status, n) rows: every one to the operations, the failed ones to the failures too."""
    for bucket, path, status, n in rows:
        index = index_of(bucket)
        ops.add(index, path, int(n))
        if status == "failed":
            failed.add(index, path, int(n))


def _raw_outcomes(
    edges: Sequence[datetime], scope: Mapping[str, str], where: Sequence[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    o = operation_outcomes
    # Grouped over a subquery's bucket column, not the CASE itself: PostgreSQL would not match a GROUP BY
    # expression whose bound edges are parameters of their own.
    runs = sa.select(bucket_of(o.c.finished_at, edges), o.c.path, o.c.status).where(*where, *_scoped(o, scope))
    sub = runs.subquery()
    counted = sa.select(sub.c.bucket, sub.c.path, sub.c.status, sa.func.count())
    return counted.group_by(sub.c.bucket, sub.c.path, sub.c.status)


def _raw_comparisons(
    edges: Sequence[datetime], scope: Mapping[str, str], where: Sequence[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    c = shadow_comparisons
    made = sa.select(bucket_of(c.c.compared_at, edges), c.c.outcome).where(*where, *_scoped(c, scope))
    sub = made.subquery()
    return sa.select(sub.c.bucket, sub.c.outcome, sa.func.count()).group_by(sub.c.bucket, sub.c.outcome)


def raw_counts(
    conn: sa.Connection, scope: Mapping[str, str], edges: Sequence[datetime], until: datetime
) -> BucketCounts:
    """Every raw row of [edges[0], until) with each `scope` dimension equal, counted into its bucket."""
    o, c = operation_outcomes, shadow_comparisons
    ops, failed, made = _Counter(), _Counter(), _Counter()
    o_where = [o.c.finished_at >= edges[0], o.c.finished_at < until]
    _tally(conn.execute(_raw_outcomes(edges, scope, o_where)), ops, failed)
    c_where = [c.c.compared_at >= edges[0], c.c.compared_at < until]
    for index, outcome, n in conn.execute(_raw_comparisons(edges, scope, c_where)):
        made.add(int(index), outcome, int(n))
    return BucketCounts(ops.found, failed.found, made.found)


def rollup_counts(
    conn: sa.Connection, scope: Mapping[str, str], edges: Sequence[datetime], until: datetime
) -> BucketCounts:
    """The same counts as `raw_counts`, the window's whole hours from the rollups and its partial edge hours from
    the raw rows. Every edge after the first must be an hour boundary (`chart_edges(..., aligned=True)` with an
    hourly width), so that each rollup hour falls inside one bucket."""
    starts = [utc_bound(edge) for edge in edges]
    if any(hour_floor(edge) != edge for edge in starts[1:]):
        raise ValueError("rollup counts need bucket edges on the hour; lay them out with chart_edges(aligned=True)")
    part = split(edges[0], until)
    ops, failed, made = _Counter(), _Counter(), _Counter()

    def index_of(bucket: datetime) -> int:
        return max(bisect_right(starts, utc_bound(bucket)) - 1, 0)

    if part.first is not None and part.end is not None:
        r, q = outcome_rollups, comparison_rollups
        cell = [r.c.bucket, r.c.path, r.c.status]
        hours = [r.c.bucket >= part.first, r.c.bucket < part.end, r.c.operations > 0, *_scoped(r, scope)]
        summed = sa.select(*cell, sa.func.sum(r.c.operations)).where(*hours).group_by(*cell)
        _tally(conn.execute(summed), ops, failed, index_of)
        hours = [q.c.bucket >= part.first, q.c.bucket < part.end, q.c.comparisons > 0, *_scoped(q, scope)]
        compared = sa.select(q.c.bucket, q.c.outcome, sa.func.sum(q.c.comparisons)).where(*hours)
        for bucket, outcome, n in conn.execute(compared.group_by(q.c.bucket, q.c.outcome)):
            made.add(index_of(bucket), outcome, int(n))
    o, c = operation_outcomes, shadow_comparisons
    for edge in part.edges:  # `split` closes the last edge at `until`; a chart's window is open there
        o_where = [*edge.where(o.c.finished_at), o.c.finished_at < until]
        _tally(conn.execute(_raw_outcomes(edges, scope, o_where)), ops, failed)
        c_where = [*edge.where(c.c.compared_at), c.c.compared_at < until]
        for index, outcome, n in conn.execute(_raw_comparisons(edges, scope, c_where)):
            made.add(int(index), outcome, int(n))
    return BucketCounts(ops.found, failed.found, made.found)
