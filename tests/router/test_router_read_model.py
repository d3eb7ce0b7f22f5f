"""The read model on SQLite and PostgreSQL: counts, bounded latency samples and differing fields aggregated in SQL,
and the router's table definitions match the migrated schema (indexes included)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import migrations
from router.read_model import OutcomeReadModel, ReadWindow
from router.tables import metadata, operation_outcomes, shadow_comparisons

NOW = datetime(2026, 4, 1, 12, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rm.db'}"
    else:
        base = request.getfixturevalue("postgres_server").extra["url"]
        name = f"rm_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    migrations.upgrade(url)
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def _outcome(i: int, app: str, path: str, status: str, duration: float, kind: str | None = None) -> dict[str, Any]:
    return {
        "operation_id": f"op-{i}",
        "operation": "resize",
        "stage_type": "s",
        "account": "prod",
        "application": app,
        "provider": "aws",
        "path": path,
        "stage": "canary",
        "status": status,
        "error_kind": kind,
        "errors": [],
        "decision": {},
        "fallback": i % 5 == 0,
        "duration_s": duration,
        "finished_at": NOW - timedelta(minutes=i % 50),
    }


def _comparison(i: int, outcome: str, diffs: Any) -> dict[str, Any]:
    dims = {"operation": "resize", "stage_type": "s", "account": "prod", "application": "api", "provider": "aws"}
    return {
        "operation_id": f"cmp-{i}",
        **dims,
        "control_path": "legacy",
        "candidate_path": "durable",
        "outcome": outcome,
        "diffs": diffs,
        "control": {},
        "candidate": {},
        "control_duration_s": 0.1,
        "candidate_duration_s": 0.1,
        "compared_at": NOW - timedelta(minutes=i),
    }


def test_counts_samples_and_fields_are_aggregated_in_sql(engine: sa.Engine) -> None:
    rows = [_outcome(i, "api", "legacy", "succeeded", float(i)) for i in range(100)]
    rows += [_outcome(100 + i, "api", "durable", "failed", 1.0, "business") for i in range(3)]
    rows += [_outcome(200, "web", "durable", "failed", 2.0)]
    diff = {"path": "capacity.max", "control": 3, "candidate": 4}
    ignored = {"path": "tags.x", "control": 1, "candidate": 2, "ignoredBy": "rule"}
    comparisons = [_comparison(i, "match", []) for i in range(5)]
    comparisons += [_comparison(10 + i, "mismatch", [diff, ignored]) for i in range(4)]
    comparisons += [_comparison(20, "ignored", [ignored]), _comparison(21, "mismatch", {"truncated": True})]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)
        conn.execute(shadow_comparisons.insert(), comparisons)
    model = OutcomeReadModel(engine, latency_sample=10)
    window = ReadWindow(NOW - timedelta(hours=1), NOW)
    paths = model.paths(window, ("application",))
    legacy = paths[("api",)]["legacy"]
    assert (legacy.total, legacy.failures, legacy.fallbacks) == (100, 0, 20)
    assert len(legacy.latencies) == 10 and len(set(legacy.latencies)) == 10  # bounded, distinct rows
    assert paths[("api",)]["durable"].error_kinds == {"business": 3}
    assert paths[("web",)]["durable"].error_kinds == {"unknown": 1}
    assert len(OutcomeReadModel(engine).paths(window)[()]["legacy"].latencies) == 100  # every one under the cap
    scoped = model.paths(ReadWindow(window.since, NOW, {"application": "web"}))
    assert set(scoped) == {()} and scoped[()]["durable"].total == 1
    assert model.comparison_counts(window) == {(): {"match": 5, "mismatch": 5, "ignored": 1}}
    fields = model.differing_fields(window, ("application",), examples=3)[("api",)]
    assert (fields["capacity.max"].mismatches, fields["capacity.max"].ignored) == (4, 0)
    assert (fields["tags.x"].mismatches, fields["tags.x"].ignored) == (0, 5)
    newest = fields["capacity.max"].examples
    assert [op for op, _ in newest] == ["cmp-10", "cmp-11", "cmp-12"] and newest[0][1]["candidate"] == 4


def test_the_router_tables_match_the_migrated_schema(engine: sa.Engine) -> None:
    ours = set(metadata.tables)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    relevant = [d for d in diffs if not (isinstance(d, tuple) and d[0] == "remove_table") and _table(d) in ours]
    assert relevant == []


def _table(diff: Any) -> str:
    if isinstance(diff, list):
        return _table(diff[0])
    kind, target = diff[0], diff[1]
    if kind.endswith("_table"):
        return str(target.name)
    if kind.endswith(("_index", "_constraint", "_fk")):
        return str(target.table.name)
    return str(diff[2])
