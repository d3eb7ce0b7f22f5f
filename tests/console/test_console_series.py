"""The scope page's numbers over time (`console.scope_series`): bucketed in SQL over a migrated SQLite database
and a real PostgreSQL, scoped to the cell, with the latency sample bounded per bucket and path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import migrations
from console.scope_series import read_series
from router.tables import operation_outcomes, shadow_comparisons

_DIMS = {"application": "api", "account": "prod", "operation": "resize", "stage_type": "", "provider": "aws"}
_UNTIL = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)
_SINCE = _UNTIL - timedelta(hours=24)


def _outcome(at: datetime, path: str, status: str, seconds: float, app: str = "api") -> dict[str, Any]:
    return {"operation_id": uuid.uuid4().hex, **_DIMS, "application": app, "path": path, "stage": "canary",
            "status": status, "error_kind": None if status == "succeeded" else "business", "errors": [],
            "decision": {}, "fallback": False, "duration_s": seconds, "finished_at": at}  # fmt: skip


def _comparison(at: datetime, outcome: str) -> dict[str, Any]:
    return {"operation_id": uuid.uuid4().hex, **_DIMS, "control_path": "legacy", "candidate_path": "durable",
            "outcome": outcome, "diffs": [], "control": {}, "candidate": {}, "control_duration_s": 0.1,
            "candidate_duration_s": 0.1, "compared_at": at}  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Any:
    """A migrated SQLite file, or a fresh database on a real PostgreSQL (the bucket's CASE must read alike)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'series.db'}"
    else:
        base = request.getfixturevalue("postgres_server").extra["url"]
        name = f"series_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def test_operations_failures_latency_and_comparisons_fall_in_their_hour(engine: sa.Engine) -> None:
    first, last = _SINCE + timedelta(minutes=10), _UNTIL - timedelta(minutes=5)
    rows = [_outcome(first, "legacy", "succeeded", s) for s in (1.0, 2.0, 3.0)]
    rows += [_outcome(first, "durable", "failed", 5.0), _outcome(last, "durable", "succeeded", 7.0)]
    rows += [_outcome(first, "legacy", "failed", 1.0, app="web")]  # another cell: left out
    rows += [_outcome(_SINCE - timedelta(minutes=1), "legacy", "failed", 1.0)]  # before the window: left out
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)
        conn.execute(shadow_comparisons.insert(), [_comparison(first, "match"), _comparison(last, "mismatch")])
        series = read_series(conn, _DIMS, since=_SINCE, until=_UNTIL, buckets=24)
    assert len(series.buckets) == 24 and series.width == timedelta(hours=1)
    head, tail = series.buckets[0], series.buckets[-1]
    assert head.start == _SINCE and dict(head.operations) == {"legacy": 3, "durable": 1}
    assert dict(head.failures) == {"durable": 1}
    assert head.latency["legacy"]["p50"] == 2.0 and head.latency["durable"]["p99"] == 5.0
    assert dict(head.comparisons) == {"match": 1} and dict(tail.comparisons) == {"mismatch": 1}
    assert dict(tail.operations) == {"durable": 1} and dict(tail.failures) == {}
    assert all(not b.operations for b in series.buckets[1:-1])
    assert series.paths == ["durable", "legacy"] and series.outcomes == ["match", "mismatch"]


def test_the_latency_sample_is_bounded_per_bucket_and_path(engine: sa.Engine) -> None:
    at = _SINCE + timedelta(minutes=1)
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), [_outcome(at, "legacy", "succeeded", float(i)) for i in range(50)])
        bounded = read_series(conn, _DIMS, since=_SINCE, until=_UNTIL, buckets=4, latency_per_bucket=1)
        full = read_series(conn, _DIMS, since=_SINCE, until=_UNTIL, buckets=4, latency_per_bucket=500)
    assert bounded.buckets[0].operations["legacy"] == 50  # the counts are every row
    assert full.buckets[0].latency["legacy"]["p50"] == 24.5
    one = bounded.buckets[0].latency["legacy"]
    assert one["p50"] == one["p99"] and not bounded.empty  # a sample of one duration, not the 50
    with engine.connect() as conn:  # the dashboard's charts: the same counts, no sample read at all
        counts_only = read_series(conn, _DIMS, since=_SINCE, until=_UNTIL, buckets=4, latency_per_bucket=0)
    assert counts_only.buckets[0].operations == full.buckets[0].operations
    assert all(not b.latency for b in counts_only.buckets)


def test_an_empty_window_is_empty_and_a_backwards_one_is_refused(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert read_series(conn, _DIMS, since=_SINCE, until=_UNTIL).empty
        with pytest.raises(ValueError, match="at least one bucket"):
            read_series(conn, _DIMS, since=_UNTIL, until=_SINCE)
