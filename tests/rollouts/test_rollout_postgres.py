"""The guarded rollout on a real PostgreSQL: a scenario through advance and rollback, and concurrent tickers
racing on the row's compare-and-set (real row locks, real READ COMMITTED re-checks)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from infra import Process

import migrations
from flags import STAGE_KEY, SqlFlagStore
from rollouts.controller import RolloutController, TickAction
from rollouts.gates import Thresholds
from rollouts.model import EventKind, RolloutPlan, RolloutStatus
from router.tables import operation_outcomes, shadow_comparisons

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCOPE = {"application": "api", "provider": "aws"}
DIMS = {
    "application": "api",
    "account": "prod",
    "operation": "resizeServerGroup",
    "stage_type": "resize",
    "provider": "aws",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def pg_store(postgres_server: Process) -> Iterator[SqlFlagStore]:
    base = postgres_server.extra["url"]
    name = f"rollouts_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    migrations.upgrade(url)
    store = SqlFlagStore(url)
    yield store
    store.close()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _insert(engine: sa.Engine, when: datetime, path: str, n: int, failures: int = 0) -> None:
    rng = random.Random(n * 31 + failures)
    rows: list[dict[str, Any]] = [
        {
            "operation_id": f"{path}-{when.timestamp()}-{i}",
            **DIMS,
            "path": path,
            "stage": "canary",
            "status": "failed" if i < failures else "succeeded",
            "error_kind": "timeout" if i < failures else None,
            "errors": [],
            "decision": {},
            "fallback": False,
            "duration_s": rng.uniform(0.8, 1.2),
            "finished_at": when,
        }
        for i in range(n)
    ]
    matches = [
        {
            "operation_id": f"cmp-{path}-{when.timestamp()}-{i}",
            **DIMS,
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": "match",
            "diffs": [],
            "control": {},
            "candidate": {},
            "control_duration_s": 1.0,
            "candidate_duration_s": 0.1,
            "compared_at": when,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)
        conn.execute(shadow_comparisons.insert(), matches)


def test_advance_race_and_rollback_on_postgres(pg_store: SqlFlagStore) -> None:
    engine = pg_store.engine
    plan = RolloutPlan(scope=SCOPE, steps=(5, 50), min_ops=20, min_duration_s=0, thresholds=Thresholds(min_samples=20))
    controller = RolloutController(engine, pg_store, clock=lambda: T0)
    rollout = controller.start(plan, actor="alice", reason="postgres scenario")
    _insert(engine, at(10), "legacy", 30)

    # Several tickers, each with its own pool, race to judge the passing shadow step.
    tickers = [RolloutController(sa.create_engine(engine.url), pg_store) for _ in range(4)]
    barrier = threading.Barrier(len(tickers))
    actions: list[TickAction] = []

    def run(ticker: RolloutController) -> None:
        barrier.wait()
        actions.append(ticker.tick(rollout.id, now=at(20)).action)

    threads = [threading.Thread(target=run, args=(t,)) for t in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ticker in tickers:
        ticker.store.engine.dispose()
    assert actions.count(TickAction.ADVANCED) == 1, actions
    prop = pg_store.find_property(STAGE_KEY, SCOPE)
    assert prop is not None and (prop.value, prop.percent) == ("canary", 5.0)

    _insert(engine, at(30), "legacy", 40, failures=1)
    _insert(engine, at(30), "durable", 40, failures=15)
    result = controller.tick(rollout.id, now=at(40))
    assert result.action is TickAction.ROLLED_BACK
    assert controller.get(rollout.id).status is RolloutStatus.ROLLED_BACK
    prop = pg_store.find_property(STAGE_KEY, SCOPE)
    assert prop is not None and prop.value == "shadow" and prop.updated_by == f"rollout:{rollout.id}"
    # A ticker that read the rollout after the advance judged the new step (too little data yet): a hold.
    kinds = [e.kind for e in controller.timeline(rollout.id) if e.kind is not EventKind.HELD]
    assert kinds == [EventKind.STARTED, EventKind.ADVANCED, EventKind.ROLLED_BACK]
    audit = pg_store.history(key=STAGE_KEY)
    assert [c.after["value"] if c.after else None for c in reversed(audit)] == ["shadow", "canary", "shadow"]
