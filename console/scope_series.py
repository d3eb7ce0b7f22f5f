"""The scope page's numbers over time: per time bucket of the dashboard window, operations and failures per path,
a latency percentile pair per path, and shadow comparisons per outcome, for one cell's dimensions.

Bounded SQL queries, each aggregated in the database (`GROUP BY` bucket): the outcomes (path split and failure
rate) and the comparisons, counted by `console.series_counts` (from the raw rows, or, for the dashboard's charts
over whole hours, from the hourly rollups and the raw rows of the partial edge hours only), and a latency sample
of at most `LATENCY_PER_BUCKET` durations per bucket and path (a stable pseudo-random subset, the same hash the
router's read model samples by, `router.read_model`). So a busy window brings at most
`buckets x paths x (statuses + LATENCY_PER_BUCKET)` values into Python, whatever its rows. The bucket is a portable
`CASE` over the bucket edges (no dialect's date functions), so SQLite and PostgreSQL read it alike.
`console.queries.RouterTables.scope_series` runs it; `console.scope_charts` draws it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from console.series_counts import bucket_of, chart_edges, is_hourly, raw_counts, rollup_counts
from router.describe import percentiles
from router.tables import operation_outcomes

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


def _durations(
    conn: sa.Connection, scope: Mapping[str, str], edges: Sequence[datetime], until: datetime, per_bucket: int
) -> dict[tuple[int, str], list[float]]:
    """At most `per_bucket` durations per bucket and path, the stable pseudo-random subset (it ranks every row)."""
    o = operation_outcomes
    where = [o.c.finished_at >= edges[0], o.c.finished_at < until, *(o.c[k] == v for k, v in scope.items())]
    spread = (o.c.id * sa.literal(_HASH, sa.BigInteger)) % sa.literal(4294967296, sa.BigInteger)
    bucket = bucket_of(o.c.finished_at, edges)
    inner = sa.select(bucket, o.c.path, o.c.duration_s, spread.label("spread"), o.c.id).where(*where).subquery()
    rank = sa.func.row_number().over(partition_by=[inner.c.bucket, inner.c.path], order_by=[inner.c.spread, inner.c.id])
    ranked = sa.select(inner.c.bucket, inner.c.path, inner.c.duration_s, rank.label("rank")).subquery()
    sample = sa.select(ranked.c.bucket, ranked.c.path, ranked.c.duration_s).where(ranked.c.rank <= per_bucket)
    durations: dict[tuple[int, str], list[float]] = {}
    for index, path, seconds in conn.execute(sample):
        durations.setdefault((index, path), []).append(float(seconds))
    return durations


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

    With a latency sample (`latency_per_bucket > 0`, the scope page) the buckets are even from `since` and every
    count comes from the raw rows, as the sample ranks them anyway. Without one (`latency_per_bucket=0`, the
    dashboard, whose charts draw no latency) the buckets lie on the hour grid when their width is a whole number
    of hours (a 24 h window: one-hour buckets, plus a partial first and last one unless it starts on the hour;
    `series_counts.chart_edges`), and the counts of whole hours come from the rollups, of partial hours from the
    raw rows; a shorter width stays even and on the raw rows."""
    edges = chart_edges(since, until, buckets, aligned=latency_per_bucket <= 0)
    width = (until - since) / buckets
    from_rollups = latency_per_bucket <= 0 and is_hourly(width)
    counts = (rollup_counts if from_rollups else raw_counts)(conn, scope, edges, until)
    durations = _durations(conn, scope, edges, until, latency_per_bucket) if latency_per_bucket > 0 else {}
    latency: dict[int, dict[str, Mapping[str, float]]] = {}
    for (index, path), values in durations.items():
        described = percentiles(values, (50, 99))
        if described is not None:
            latency.setdefault(index, {})[path] = described
    return ScopeSeries(
        since,
        width,
        tuple(
            Bucket(
                edge,
                counts.operations.get(i, {}),
                counts.failures.get(i, {}),
                latency.get(i, {}),
                counts.comparisons.get(i, {}),
            )
            for i, edge in enumerate(edges)
        ),
    )
