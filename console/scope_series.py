"""The scope page's numbers over time: per time bucket of the dashboard window, operations and failures per path,
a latency percentile pair per path, and shadow comparisons per outcome, for one cell's dimensions.

Three bounded SQL queries, one per chart family, each aggregated in the database (`GROUP BY` bucket): the
outcomes (path split and failure rate), a latency sample of at most `LATENCY_PER_BUCKET` durations per bucket and
path (a stable pseudo-random subset, the same hash the router's read model samples by, `router.read_model`), and
the comparisons. So a busy window brings at most `buckets x paths x (statuses + LATENCY_PER_BUCKET)` values into
Python, whatever its rows. The bucket is a portable `CASE` over the bucket edges (no dialect's date functions), so
SQLite and PostgreSQL read it alike. `console.queries.RouterTables.scope_series` runs it; `console.scope_charts`
draws it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from router.describe import percentiles
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["BUCKETS", "LATENCY_PER_BUCKET", "Bucket", "ScopeSeries", "read_series"]

BUCKETS = 24
LATENCY_PER_BUCKET = 200
_HASH = 2654435761


@dataclass(frozen=True, slots=True)
class Bucket:
    """One time bucket [start, start + width): per path operations, failures and p50/p99 seconds (from the
    bounded sample), and comparisons per outcome."""

    start: datetime
    operations: Mapping[str, int]
    failures: Mapping[str, int]
    latency: Mapping[str, Mapping[str, float]]
    comparisons: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ScopeSeries:
    since: datetime
    width: timedelta
    buckets: tuple[Bucket, ...]

    @property
    def paths(self) -> list[str]:
        return sorted({p for b in self.buckets for p in b.operations})

    @property
    def outcomes(self) -> list[str]:
        return sorted({o for b in self.buckets for o in b.comparisons})

    @property
    def empty(self) -> bool:
        return not any(b.operations or b.comparisons for b in self.buckets)


def _bucket_of(column: sa.Column[Any], edges: Sequence[datetime]) -> sa.ColumnElement[int]:
    """The index of the last edge at or before `column` (rows before the first edge are filtered out)."""
    whens = [(column >= edge, index) for index, edge in reversed(list(enumerate(edges)))]
    return sa.case(*whens, else_=0).label("bucket")


def _where(
    table: sa.Table, column: sa.Column[Any], since: datetime, until: datetime, scope: Mapping[str, str]
) -> list[sa.ColumnElement[bool]]:
    return [column >= since, column < until, *(table.c[k] == v for k, v in scope.items())]


def read_series(
    conn: sa.Connection,
    scope: Mapping[str, str],
    *,
    since: datetime,
    until: datetime,
    buckets: int = BUCKETS,
    latency_per_bucket: int = LATENCY_PER_BUCKET,
) -> ScopeSeries:
    """Operations finished and comparisons made in [since, until) with each `scope` dimension equal, bucketed.
    `latency_per_bucket=0` reads no latency sample (the dashboard draws none: a sample ranks every row)."""
    if buckets < 1 or until <= since:
        raise ValueError("a series needs at least one bucket over a window that ends after it starts")
    width = (until - since) / buckets
    edges = [since + width * i for i in range(buckets)]
    o, c = operation_outcomes, shadow_comparisons
    o_bucket = _bucket_of(o.c.finished_at, edges)
    o_where = _where(o, o.c.finished_at, since, until, scope)
    # Grouped over a subquery's bucket column, not the CASE itself: PostgreSQL would not match a GROUP BY
    # expression whose bound edges are parameters of their own.
    runs = sa.select(o_bucket, o.c.path, o.c.status).where(*o_where).subquery()
    counts = sa.select(runs.c.bucket, runs.c.path, runs.c.status, sa.func.count())
    ops: dict[int, dict[str, int]] = {}
    failed: dict[int, dict[str, int]] = {}
    for index, path, status, n in conn.execute(counts.group_by(runs.c.bucket, runs.c.path, runs.c.status)):
        by_path = ops.setdefault(index, {})
        by_path[path] = by_path.get(path, 0) + int(n)
        if status == "failed":
            failed.setdefault(index, {})[path] = int(n)
    spread = (o.c.id * sa.literal(_HASH, sa.BigInteger)) % sa.literal(4294967296, sa.BigInteger)
    inner = sa.select(o_bucket, o.c.path, o.c.duration_s, spread.label("spread"), o.c.id).where(*o_where).subquery()
    rank = sa.func.row_number().over(partition_by=[inner.c.bucket, inner.c.path], order_by=[inner.c.spread, inner.c.id])
    ranked = sa.select(inner.c.bucket, inner.c.path, inner.c.duration_s, rank.label("rank")).subquery()
    sample = sa.select(ranked.c.bucket, ranked.c.path, ranked.c.duration_s).where(ranked.c.rank <= latency_per_bucket)
    durations: dict[tuple[int, str], list[float]] = {}
    for index, path, seconds in conn.execute(sample) if latency_per_bucket > 0 else ():
        durations.setdefault((index, path), []).append(float(seconds))
    made = sa.select(_bucket_of(c.c.compared_at, edges), c.c.outcome)
    made_sub = made.where(*_where(c, c.c.compared_at, since, until, scope)).subquery()
    compared = sa.select(made_sub.c.bucket, made_sub.c.outcome, sa.func.count())
    outcomes: dict[int, dict[str, int]] = {}
    for index, outcome, n in conn.execute(compared.group_by(made_sub.c.bucket, made_sub.c.outcome)):
        outcomes.setdefault(index, {})[outcome] = int(n)
    latency: dict[int, dict[str, Mapping[str, float]]] = {}
    for (index, path), values in durations.items():
        described = percentiles(values, (50, 99))
        if described is not None:
            latency.setdefault(index, {})[path] = described
    return ScopeSeries(
        since,
        width,
        tuple(
            Bucket(edges[i], ops.get(i, {}), failed.get(i, {}), latency.get(i, {}), outcomes.get(i, {}))
            for i in range(buckets)
        ),
    )
