"""The hourly rollups on SQLite and PostgreSQL: the triggers keep them equal to the rows (inserts, deletes,
concurrent writers, the migration's backfill of rows already there, retention), and reads backed by them give
exactly what a read of the raw rows gives, on random data and at the edges of hour buckets; the latency sample is
the one a full ranking picks."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

import migrations
from router.latency_sample import HASH
from router.read_model import OutcomeReadModel, ReadWindow
from router.retention import router_rules
from router.retention_sql import prune
from router.retention_values import RetentionPolicy
from router.rollups import HOUR, hour_floor, split, utc_bound
from router.tables import comparison_rollups, operation_outcomes, outcome_rollups, shadow_comparisons

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)
APPS, ACCOUNTS, PATHS = ("api", "web", "batch"), ("prod", "test"), ("legacy", "durable")
STATUSES = (("succeeded", None), ("failed", "business"), ("failed", "timeout"), ("failed", None))
OUTCOMES = ("match", "mismatch", "ignored", "candidate_failed")


def _new_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'rollups-{uuid.uuid4().hex[:6]}.db'}"
    base = request.getfixturevalue("postgres_server").extra["url"]
    name = f"ru_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(base.rsplit("/", 1)[0] + "/" + name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _new_url(kind, request, tmp_path)


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    migrations.upgrade(url)
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def _times(rng: random.Random, n: int) -> list[datetime]:
    """Times over six hours, a fifth of them exactly on an hour or a microsecond either side of one."""
    found = []
    for _ in range(n):
        if rng.random() < 0.2:
            edge = T0 + HOUR * rng.randrange(7)
            found.append(edge + timedelta(microseconds=rng.choice((-1, 0, 1))))
        else:
            found.append(T0 + timedelta(seconds=rng.uniform(0, 6 * 3600)))
    return found


def _outcomes(rng: random.Random, n: int, start: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i, at in enumerate(_times(rng, n), start):
        status, kind = rng.choice(STATUSES)
        rows.append(
            {
                "operation_id": f"op-{i}",
                "operation": rng.choice(("resize", "deploy")),
                "stage_type": "s",
                "account": rng.choice(ACCOUNTS),
                "application": rng.choice(APPS),
                "provider": "aws",
                "path": rng.choice(PATHS),
                "stage": rng.choice(("canary", "shadow")),
                "status": status,
                "error_kind": kind,
                "errors": [],
                "decision": {},
                "fallback": rng.random() < 0.1,
                "duration_s": rng.lognormvariate(0, 1),
                "finished_at": at,
            }
        )
    return rows


def _comparisons(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [
        {
            "operation_id": f"cmp-{i}",
            "operation": "resize",
            "stage_type": "s",
            "account": rng.choice(ACCOUNTS),
            "application": rng.choice(APPS),
            "provider": "aws",
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": rng.choice(OUTCOMES),
            "diffs": [],
            "control": {},
            "candidate": {},
            "control_duration_s": 0.1,
            "candidate_duration_s": 0.1,
            "compared_at": at,
        }
        for i, at in enumerate(_times(rng, n))
    ]


def _insert(engine: sa.Engine, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), list(rows))


def _raw_cells(engine: sa.Engine) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """The rollups as they should be, counted here from the raw rows (hour of each row in UTC)."""
    o, c = operation_outcomes, shadow_comparisons
    outcomes: Counter[tuple[Any, ...]] = Counter()
    comparisons: Counter[tuple[Any, ...]] = Counter()
    dims = ("application", "account", "operation", "stage_type", "provider")
    with engine.connect() as conn:
        for r in conn.execute(sa.select(o)).mappings():
            key = (hour_floor(utc_bound(r["finished_at"])), *(r[d] for d in dims), r["path"], r["status"])
            key += (r["error_kind"] or "", r["stage"])
            outcomes[(*key, "operations")] += 1
            outcomes[(*key, "fallbacks")] += int(bool(r["fallback"]))
        for r in conn.execute(sa.select(c)).mappings():
            comparisons[(hour_floor(utc_bound(r["compared_at"])), *(r[d] for d in dims), r["outcome"])] += 1
    return +outcomes, +comparisons


def _rollup_cells(engine: sa.Engine) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    outcomes: Counter[tuple[Any, ...]] = Counter()
    comparisons: Counter[tuple[Any, ...]] = Counter()
    dims = ("application", "account", "operation", "stage_type", "provider")
    o, c = outcome_rollups, comparison_rollups
    cell = [*(o.c[d] for d in dims), o.c.path, o.c.status, o.c.error_kind, o.c.stage]
    with engine.connect() as conn:
        for r in conn.execute(sa.select(o.c.bucket, *cell, o.c.operations, o.c.fallbacks)):
            key = (utc_bound(r[0]), *r[1:-2])
            outcomes[(*key, "operations")] += r.operations
            outcomes[(*key, "fallbacks")] += r.fallbacks
        for r in conn.execute(sa.select(c.c.bucket, *(c.c[d] for d in dims), c.c.outcome, c.c.comparisons)):
            comparisons[(utc_bound(r[0]), *r[1:-1])] += r.comparisons
    return +outcomes, +comparisons


def _raw_paths(rows: Sequence[dict[str, Any]], window: ReadWindow, group_by: Sequence[str]) -> dict[Any, Any]:
    """The counts a GROUP BY over the raw rows gives, computed here from the rows inserted."""
    found: dict[Any, Any] = {}
    for r in rows:
        at = r["finished_at"]
        if at < window.since or (window.until is not None and at > window.until):
            continue
        if any(r[k] != v for k, v in window.scope.items()):
            continue
        by_path = found.setdefault(tuple(r[d] for d in group_by), {}).setdefault(r["path"], [Counter(), 0, 0])
        by_path[0][(r["status"], r["error_kind"])] += 1
        by_path[1] += 1
        by_path[2] += int(r["fallback"])
    return found


def _windows(rng: random.Random) -> list[ReadWindow]:
    """Windows on hour boundaries and off them, open-ended, inside one hour, empty and inverted."""
    found = [
        ReadWindow(T0, None),
        ReadWindow(T0 - HOUR, T0 + 7 * HOUR),
        ReadWindow(T0 + HOUR, T0 + 3 * HOUR),
        ReadWindow(T0 + HOUR - timedelta(microseconds=1), T0 + 3 * HOUR + timedelta(microseconds=1)),
        ReadWindow(T0 + timedelta(minutes=10), T0 + timedelta(minutes=50)),
        ReadWindow(T0 + 2 * HOUR, T0 + 2 * HOUR),
        ReadWindow(T0 + 3 * HOUR, T0 + HOUR),
        ReadWindow(T0 + HOUR, T0 + 5 * HOUR, {"application": "api", "account": "prod"}),
    ]
    for _ in range(12):
        since = T0 + timedelta(seconds=rng.uniform(-1800, 6 * 3600))
        until = None if rng.random() < 0.2 else since + timedelta(seconds=rng.uniform(0, 5 * 3600))
        scope = {"application": rng.choice(APPS)} if rng.random() < 0.3 else {}
        found.append(ReadWindow(since, until, scope))
    return found


def test_the_triggers_keep_the_rollups_equal_to_the_rows_through_inserts_and_deletes(engine: sa.Engine) -> None:
    rng = random.Random(11)
    _insert(engine, operation_outcomes, _outcomes(rng, 1500))
    _insert(engine, shadow_comparisons, _comparisons(rng, 700))
    assert _rollup_cells(engine) == _raw_cells(engine) != (Counter(), Counter())
    with engine.begin() as conn:  # a delete of arbitrary rows counts them back out
        conn.execute(operation_outcomes.delete().where(operation_outcomes.c.id % 3 == 0))
        conn.execute(shadow_comparisons.delete().where(shadow_comparisons.c.outcome == "match"))
    assert _rollup_cells(engine) == _raw_cells(engine)


def test_reads_backed_by_the_rollups_equal_reads_of_the_raw_rows_at_every_edge(engine: sa.Engine) -> None:
    rng = random.Random(5)
    rows = _outcomes(rng, 2500)
    _insert(engine, operation_outcomes, rows)
    compared = _comparisons(rng, 900)
    _insert(engine, shadow_comparisons, compared)
    model = OutcomeReadModel(engine)
    for window in _windows(rng):
        for group_by in ((), ("application",), ("application", "account", "operation")):
            expected = _raw_paths(rows, window, group_by)
            got = model.paths(window, group_by)
            assert set(got) == set(expected), (window, group_by)
            for key, by_path in expected.items():
                for path, (statuses, total, fallbacks) in by_path.items():
                    stats = got[key][path]
                    assert (stats.statuses, stats.total, stats.fallbacks) == (dict(statuses), total, fallbacks)
                    assert len(stats.latencies) == total  # under the bound: every duration
        counts: dict[Any, Counter[str]] = {}
        for r in compared:
            inside = r["compared_at"] >= window.since and (window.until is None or r["compared_at"] <= window.until)
            if inside and all(r[k] == v for k, v in window.scope.items()):
                counts.setdefault((r["application"],), Counter())[r["outcome"]] += 1
        assert model.comparison_counts(window, ("application",)) == {k: dict(v) for k, v in counts.items()}


def _ranked_sample(engine: sa.Engine, window: ReadWindow, bound: int) -> dict[tuple[str, str], list[float]]:
    """The sample as a full ranking of every row picks it: the `bound` first per (application, path) in the
    order of the id's multiplicative hash, then the id."""
    o = operation_outcomes
    where = [o.c.finished_at >= window.since] + ([o.c.finished_at <= window.until] if window.until else [])
    by_key: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    with engine.connect() as conn:
        for app, path, row_id, duration in conn.execute(
            sa.select(o.c.application, o.c.path, o.c.id, o.c.duration_s).where(*where)
        ):
            by_key.setdefault((app, path), []).append(((row_id * HASH) % 2**32, row_id, duration))
    return {k: sorted(d for _, _, d in sorted(v)[:bound]) for k, v in by_key.items()}


@pytest.mark.parametrize("bound", [1, 7, 60, 5000])
def test_the_latency_sample_is_the_one_a_full_ranking_picks(engine: sa.Engine, bound: int) -> None:
    rng = random.Random(bound)
    _insert(engine, operation_outcomes, _outcomes(rng, 1200))
    model = OutcomeReadModel(engine, latency_sample=bound)
    for window in (ReadWindow(T0, None), ReadWindow(T0 + timedelta(minutes=30), T0 + 4 * HOUR)):
        got = model.paths(window, ("application",))
        expected = _ranked_sample(engine, window, bound)
        assert {(k[0], p): sorted(s.latencies) for k, by in got.items() for p, s in by.items()} == expected
        # Some scopes only: the others keep their counts and get no sample.
        some = model.paths(window, ("application",), latency_for=[("api",)])
        assert sorted(some[("api",)]["legacy"].latencies) == expected[("api", "legacy")]
        assert (
            some[("web",)]["legacy"].latencies == () and some[("web",)]["legacy"].total == got[("web",)]["legacy"].total
        )
        counts_only = model.paths(window, ("application",), latency_for=())
        added = model.with_latencies(window, ("application",), counts_only, [("web",)])
        for path, stats in got[("web",)].items():  # the same sample (in whatever order the rows came)
            assert (added[("web",)][path].statuses, sorted(added[("web",)][path].latencies)) == (
                stats.statuses,
                sorted(stats.latencies),
            )
        assert added[("api",)]["durable"].latencies == ()


def test_split_takes_whole_hours_from_the_rollups_and_the_partial_ones_from_the_rows() -> None:
    part = split(T0 + timedelta(minutes=20), T0 + 3 * HOUR + timedelta(minutes=5))
    assert (part.first, part.end) == (T0 + HOUR, T0 + 3 * HOUR)
    assert [(e.since, e.until, e.closed) for e in part.edges] == [
        (T0 + timedelta(minutes=20), T0 + HOUR, False),
        (T0 + 3 * HOUR, T0 + 3 * HOUR + timedelta(minutes=5), True),
    ]
    assert split(T0, None).first == T0 and split(T0, None).edges == ()
    inside = split(T0 + timedelta(minutes=5), T0 + timedelta(minutes=65))
    assert inside.first is None and len(inside.edges) == 1 and inside.edges[0].closed
    assert split(T0 + HOUR, T0).edges == () and split(T0 + HOUR, T0).first is None
    naive = split(datetime(2026, 4, 1, 8, 30), None)  # a naive bound is UTC, as the tables keep it
    assert naive.first == T0 + HOUR


def test_the_migration_backfills_the_rows_already_there(url: str) -> None:
    migrations.upgrade(url, "0010_gateway_admissions")
    eng = sa.create_engine(url)
    try:
        rng = random.Random(3)
        _insert(eng, operation_outcomes, _outcomes(rng, 600))
        _insert(eng, shadow_comparisons, _comparisons(rng, 300))
        migrations.upgrade(url)
        assert _rollup_cells(eng) == _raw_cells(eng) != (Counter(), Counter())
        _insert(eng, operation_outcomes, _outcomes(rng, 50, start=600))  # and the triggers carry on from there
        assert _rollup_cells(eng) == _raw_cells(eng)
    finally:
        eng.dispose()
    migrations.downgrade(url, "0010_gateway_admissions")
    migrations.upgrade(url)


def test_retention_prunes_the_rollups_of_pruned_hours_and_what_is_left_equals_the_rows(engine: sa.Engine) -> None:
    rng = random.Random(9)
    _insert(engine, operation_outcomes, _outcomes(rng, 800))
    _insert(engine, shadow_comparisons, _comparisons(rng, 400))
    now = T0 + 2 * HOUR + timedelta(minutes=30) + timedelta(days=30)  # the cutoff falls inside an hour
    counted = prune(engine, RetentionPolicy(30 * 86400), router_rules(), now=now, dry_run=True)
    report = prune(engine, RetentionPolicy(30 * 86400, batch_size=7), router_rules(), now=now)
    assert report.deleted == counted.deleted and report.deleted["outcome_rollups"] > 0
    assert report.deleted["comparison_rollups"] > 0
    assert _rollup_cells(engine) == _raw_cells(engine)
    with engine.connect() as conn:
        oldest = conn.execute(sa.select(sa.func.min(outcome_rollups.c.bucket))).scalar()
    assert utc_bound(oldest) == T0 + 2 * HOUR  # the hour the cutoff falls in stays, counting what is left of it
    model = OutcomeReadModel(engine)
    window = ReadWindow(T0, None)
    kept = [r for r in _outcomes(random.Random(9), 800) if r["finished_at"] >= report.cutoff]
    assert {k: {p: s.total for p, s in v.items()} for k, v in model.paths(window, ("application",)).items()} == {
        k: {p: t for p, (_, t, _) in v.items()} for k, v in _raw_paths(kept, window, ("application",)).items()
    }


@pytest.mark.postgres
def test_concurrent_writers_count_every_row_once(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = _new_url("postgres", request, tmp_path)
    migrations.upgrade(url)
    eng = sa.create_engine(url, pool_size=6)
    try:
        rng = random.Random(1)
        batches = [_outcomes(rng, 40, start=i * 40) for i in range(24)]
        failures: list[BaseException] = []

        def write(mine: list[list[dict[str, Any]]]) -> None:
            for batch in mine:
                for attempt in range(5):  # a deadlock between two writers is retried, as the record writer does
                    try:
                        _insert(eng, operation_outcomes, batch)
                        break
                    except sa.exc.OperationalError as exc:
                        if attempt == 4:
                            failures.append(exc)

        threads = [threading.Thread(target=write, args=(batches[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert _rollup_cells(eng) == _raw_cells(eng)
        with eng.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(outcome_rollups.c.operations))).scalar() == 960
    finally:
        eng.dispose()


def test_a_threshold_that_lets_too_few_rows_through_falls_back_to_the_full_ranking(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import router.latency_sample

    _insert(engine, operation_outcomes, _outcomes(random.Random(2), 600))
    monkeypatch.setattr(router.latency_sample, "_threshold", lambda bound, counts: 1)  # almost nothing passes
    window = ReadWindow(T0, None)
    got = OutcomeReadModel(engine, latency_sample=9).paths(window, ("application",))
    assert {(k[0], p): sorted(s.latencies) for k, by in got.items() for p, s in by.items()} == _ranked_sample(
        engine, window, 9
    )
