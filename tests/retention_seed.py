"""Rows of a chosen age in the router's and the gateway's tables, for the retention tests (router, gateway, CLI).

Written straight into the tables, with the columns the real writers fill (records.py, ownership.py, the gateway
store): retention reads nothing else, and only a direct insert can make a row 40 days old.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from infra import Process

import migrations
from gateway.tables import gateway_operations, gateway_tasks
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)
YOUNG = NOW - timedelta(days=1)
DIMENSIONS = {"operation": "resizeServerGroup", "stage_type": "resize", "account": "prod", "application": "app"}


def database_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'retention.db'}"
    else:
        server: Process = request.getfixturevalue("postgres_server")
        base = server.extra["url"]
        name = f"ret_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    migrations.upgrade(url)
    return url


def engine_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url(kind, request, tmp_path))
    yield engine
    engine.dispose()


def owners(engine: sa.Engine, operation_ids: Sequence[str], at: datetime = OLD) -> None:
    rows = [
        {"operation_id": i, "path": "legacy", "reason": "", "claimed_at": at, "updated_at": at} for i in operation_ids
    ]
    with engine.begin() as conn:
        conn.execute(operation_owners.insert(), rows)


def outcomes(engine: sa.Engine, operation_ids: Sequence[str], at: datetime) -> None:
    rows = [
        {
            "operation_id": i,
            **DIMENSIONS,
            "provider": "aws",
            "path": "legacy",
            "stage": "legacy",
            "status": "succeeded",
            "errors": [],
            "decision": {},
            "duration_s": 1.0,
            "finished_at": at,
        }
        for i in operation_ids
    ]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)


def comparisons(engine: sa.Engine, operation_ids: Sequence[str], at: datetime) -> None:
    rows = [
        {
            "operation_id": i,
            **DIMENSIONS,
            "provider": "aws",
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": "match",
            "diffs": [],
            "control": {},
            "candidate": {},
            "control_duration_s": 1.0,
            "candidate_duration_s": 1.0,
            "compared_at": at,
        }
        for i in operation_ids
    ]
    with engine.begin() as conn:
        conn.execute(shadow_comparisons.insert(), rows)


def gateway_task(engine: sa.Engine, task_id: str, state: str, at: datetime, ops: int = 2) -> None:
    """A gateway task in `state`, last changed `at`, with `ops` operations."""
    task: dict[str, Any] = {
        "id": task_id,
        "request_id": f"crid-{task_id}",
        "state": state,
        "position": 0,
        "size": ops,
        "start_time_ms": int(at.timestamp() * 1000),
        "lease_until": 0.0,
        "created_at": at,
        "updated_at": at,
    }
    op_rows = [
        {
            "task_id": task_id,
            "position": p,
            "operation_id": f"{task_id}-{p}",
            "name": "resizeServerGroup",
            "provider": "aws",
            "account": "prod",
            "application": "app",
            "stage_type": "resize",
            "class_name": "ResizeServerGroup",
            "context": {},
            "state": "succeeded",
            "updated_at": at,
        }
        for p in range(ops)
    ]
    with engine.begin() as conn:
        conn.execute(gateway_tasks.insert().values(**task))
        if op_rows:
            conn.execute(gateway_operations.insert(), op_rows)


def column(engine: sa.Engine, table: sa.Table, name: str) -> set[Any]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(table.c[name])).scalars())


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
