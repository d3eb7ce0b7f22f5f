"""The charts' per-bucket counts (`console.series_counts`) on SQLite and a real PostgreSQL: the hour grid the
dashboard's buckets lie on, and the rollup-backed counts equal to the raw rows' for the same buckets, on random
data with rows on, and a microsecond either side of, the hour boundaries and the window's ends."""

from __future__ import annotations

import random
import uuid
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import migrations
from console.scope_series import read_series
from console.series_counts import BucketCounts, chart_edges, raw_counts, rollup_counts
from router.rollups import HOUR
from router.tables import operation_outcomes, shadow_comparisons

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)
APPS, PATHS, OUTCOMES = ("api", "web"), ("legacy", "durable"), ("match", "mismatch", "candidate_failed")
_US = timedelta(microseconds=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated SQLite file, or a fresh migrated database on a real PostgreSQL (the rollups' triggers)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'counts.db'}"
    else:
        base = request.getfixturevalue("postgres_server").extra["url"]
        name = f"sc_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    migrations.upgrade(url)
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def _times(rng: random.Random, n: int) -> list[datetime]:
    """Times over fourteen hours from T0 - 1 h, a quarter exactly on an hour or a microsecond either side."""
    found = []
    for _ in range(n):
        if rng.random() < 0.25:
            found.append(T0 + HOUR * rng.randrange(-1, 14) + _US * rng.choice((-1, 0, 1)))
        else:
            found.append(T0 - HOUR + timedelta(seconds=rng.uniform(0, 14 * 3600)))
    return found


def _dims(rng: random.Random) -> dict[str, str]:
    return {"application": rng.choice(APPS), "account": rng.choice(("prod", "test")), "operation": "resize",
            "stage_type": rng.choice(("", "s")), "provider": "aws"}  # fmt: skip


def _rows(rng: random.Random, n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    outcomes = []
    for i, at in enumerate(_times(rng, n)):
        status, kind = ("failed", "business") if rng.random() < 0.3 else ("succeeded", None)
        outcomes.append({"operation_id": f"op-{i}", **_dims(rng), "path": rng.choice(PATHS), "stage": "canary",
                         "status": status, "error_kind": kind, "errors": [], "decision": {}, "fallback": False,
                         "duration_s": 1.0, "finished_at": at})  # fmt: skip
    comparisons = [
        {
            "operation_id": f"cmp-{i}",
            **_dims(rng),
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": rng.choice(OUTCOMES),
            "diffs": [],
            "control": {},
            "candidate": {},
            "control_duration_s": 0.1,
            "candidate_duration_s": 0.1,
            "compared_at": at,
        }  # fmt: skip
        for i, at in enumerate(_times(rng, n // 2))
    ]
    return outcomes, comparisons


def _expected(
    outcomes: Sequence[dict[str, Any]],
    comparisons: Sequence[dict[str, Any]],
    scope: Mapping[str, str],
    edges: Sequence[datetime],
    until: datetime,
) -> BucketCounts:
    """The counts computed here from the rows inserted: each row of [edges[0], until) in the last edge before it."""
    ops: dict[int, dict[str, int]] = {}
    failed: dict[int, dict[str, int]] = {}
    made: dict[int, dict[str, int]] = {}

    def add(found: dict[int, dict[str, int]], at: datetime, key: str) -> None:
        index = bisect_right(list(edges), at) - 1
        found.setdefault(index, {})[key] = found.get(index, {}).get(key, 0) + 1

    for r in outcomes:
        if edges[0] <= r["finished_at"] < until and all(r[k] == v for k, v in scope.items()):
            add(ops, r["finished_at"], r["path"])
            if r["status"] == "failed":
                add(failed, r["finished_at"], r["path"])
    for r in comparisons:
        if edges[0] <= r["compared_at"] < until and all(r[k] == v for k, v in scope.items()):
            add(made, r["compared_at"], r["outcome"])
    return BucketCounts(ops, failed, made)


def _windows(rng: random.Random) -> list[tuple[datetime, int, int, dict[str, str]]]:
    """(since, bucket width in hours, buckets, scope): on the hour, a microsecond off it, mid-hour, past the
    data, one bucket, scoped; then random ones."""
    found: list[tuple[datetime, int, int, dict[str, str]]] = [
        (T0, 1, 12, {}),
        (T0 + _US, 1, 12, {}),
        (T0 - _US, 1, 6, {}),
        (T0 + timedelta(minutes=17), 1, 6, {"application": "api"}),
        (T0 + timedelta(minutes=59), 2, 3, {"application": "web", "stage_type": ""}),
        (T0 - 3 * HOUR, 1, 24, {}),
        (T0 + 5 * HOUR + timedelta(minutes=30), 1, 1, {}),
    ]
    for _ in range(10):
        since = T0 - 2 * HOUR + timedelta(seconds=rng.uniform(0, 10 * 3600))
        if rng.random() < 0.3:
            since = since.replace(minute=0, second=0, microsecond=0)
        scope = {"application": rng.choice(APPS)} if rng.random() < 0.4 else {}
        found.append((since, rng.choice((1, 2, 3)), rng.randint(1, 8), scope))
    return found


def test_a_day_lies_on_the_hour_grid_when_the_width_is_whole_hours() -> None:
    on_hour = chart_edges(T0, T0 + 24 * HOUR, 24, aligned=True)
    assert on_hour == tuple(T0 + HOUR * i for i in range(24))
    since = T0 + timedelta(minutes=17)
    off = chart_edges(since, since + 24 * HOUR, 24, aligned=True)
    assert len(off) == 25 and off[0] == since and off[1] == T0 + HOUR and off[-1] == T0 + 24 * HOUR
    assert chart_edges(since, since + 48 * HOUR, 24, aligned=True)[1:3] == (T0 + 2 * HOUR, T0 + 4 * HOUR)
    assert chart_edges(since, since + 24 * HOUR, 24, aligned=False)[1] == since + HOUR  # the scope page's
    assert chart_edges(since, since + 2 * HOUR, 24, aligned=True)[1] == since + timedelta(minutes=5)  # too short
    naive = chart_edges(since.replace(tzinfo=None), (since + 24 * HOUR).replace(tzinfo=None), 24, aligned=True)
    assert naive == off  # a naive bound is UTC, as the tables store it
    with pytest.raises(ValueError, match="at least one bucket"):
        chart_edges(since, since, 24, aligned=True)


def test_rollup_counts_equal_the_raw_rows_for_the_same_buckets(engine: sa.Engine) -> None:
    rng = random.Random(15)
    outcomes, comparisons = _rows(rng, 1500)
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), outcomes)
        conn.execute(shadow_comparisons.insert(), comparisons)
    ends_on_a_row = 0
    with engine.connect() as conn:
        for since, hours, buckets, scope in _windows(rng):
            until = since + HOUR * hours * buckets
            edges = chart_edges(since, until, buckets, aligned=True)
            expected = _expected(outcomes, comparisons, scope, edges, until)
            assert raw_counts(conn, scope, edges, until) == expected, (since, hours, buckets, scope)
            assert rollup_counts(conn, scope, edges, until) == expected, (since, hours, buckets, scope)
            ends_on_a_row += any(o["finished_at"] in (since, until) for o in outcomes)
    assert ends_on_a_row >= 2  # the data has rows exactly at the windows' ends (the end is open, the start not)


def test_rollup_counts_refuse_buckets_off_the_hour(engine: sa.Engine) -> None:
    since = T0 + timedelta(minutes=17)
    with engine.connect() as conn, pytest.raises(ValueError, match="on the hour"):
        rollup_counts(conn, {}, chart_edges(since, since + 2 * HOUR, 4, aligned=False), since + 2 * HOUR)


def test_the_dashboard_series_reads_the_rollups_and_counts_what_the_scope_page_counts(engine: sa.Engine) -> None:
    rng = random.Random(4)
    outcomes, comparisons = _rows(rng, 600)
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), outcomes)
        conn.execute(shadow_comparisons.insert(), comparisons)
    since = T0 - timedelta(minutes=23)
    with engine.connect() as conn:
        dashboard = read_series(conn, {}, since=since, until=since + 12 * HOUR, buckets=12, latency_per_bucket=0)
        on_hour = read_series(conn, {"application": "api"}, since=T0, until=T0 + 6 * HOUR, buckets=6)
        no_sample = read_series(conn, {"application": "api"}, since=T0, until=T0 + 6 * HOUR, buckets=6,
                                latency_per_bucket=0)  # fmt: skip
    edges = [b.start for b in dashboard.buckets]
    assert len(edges) == 13 and edges[0] == since and edges[1] == T0 and dashboard.width == HOUR
    expected = _expected(outcomes, comparisons, {}, edges, since + 12 * HOUR)
    for i, bucket in enumerate(dashboard.buckets):
        assert dict(bucket.operations) == expected.operations.get(i, {})
        assert dict(bucket.failures) == expected.failures.get(i, {})
        assert dict(bucket.comparisons) == expected.comparisons.get(i, {})
        assert not bucket.latency
    # The scope page's series (with its latency sample, from the raw rows) counts the same on the same buckets.
    for sampled, counted in zip(on_hour.buckets, no_sample.buckets, strict=True):
        assert sampled.start == counted.start and sampled.operations == counted.operations
        assert sampled.failures == counted.failures and sampled.comparisons == counted.comparisons
    assert any(b.latency for b in on_hour.buckets) and not no_sample.empty
