"""No outcome lost: an operation started by one router and finished in another records exactly one outcome and one
comparison, whoever polls it, on SQLite and on the real PostgreSQL; the reconciler records the operations whose
starter never polled them; rows from before migration 0006 are never reconciled.

Each `Proc` is one process's router: its own recorder thread, shadow executor and metrics, over the shared
database. The paths are `router.testing.ScriptedRunner` fakes shared by every router, standing for the legacy
service and Temporal that every process reaches: what is tested here is the recording, which does not depend on
how a real path behaves. The real services, killed starters and the command line are in
test_router_outcomes_e2e.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath

import pytest
import sqlalchemy as sa
from infra import Process, wait_until

import migrations
from flags import FlagTestData
from router.config import load_config
from router.contract import OperationHandle, OperationRequest, OperationResult, OperationState, OperationStatus, Path
from router.errors import ConfigurationError, UnknownHandle
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership, Ownership, SqlOwnership
from router.reconciler import Reconciler, ReconcileSettings, due
from router.records import BufferedRecorder, SqlRecordStore
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.tables import operation_outcomes, operation_owners, shadow_comparisons
from router.testing import ScriptedRunner, succeed_with_plan

PLAN = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        from flags.sql_engine import make_engine

        url = f"sqlite:///{tmp_path / 'outcomes.db'}"
        migrations.upgrade(url)
        eng = make_engine(url)  # WAL and a busy timeout, as every router's engine has
    else:
        server: Process = request.getfixturevalue("postgres_server")
        url = server.extra["url"]
        migrations.downgrade(url, "base")
        migrations.upgrade(url)
        eng = sa.create_engine(url)
    yield eng
    eng.dispose()


@dataclass
class Proc:
    router: RoutingRunner
    recorder: BufferedRecorder
    shadows: ShadowExecutor
    metrics: RouterMetrics

    def flush(self) -> None:
        assert self.recorder.flush(10)

    def deduplicated(self, kind: str) -> float:
        return self.metrics.value("cloudops_router_records_deduplicated_total", {"kind": kind})


@dataclass
class World:
    engine: sa.Engine
    legacy: ScriptedRunner
    durable: ScriptedRunner
    flags: FlagTestData
    procs: list[Proc]

    def proc(self) -> Proc:
        metrics = RouterMetrics()
        recorder = BufferedRecorder(SqlRecordStore(self.engine), metrics)
        shadows = ShadowExecutor(
            ShadowSettings(timeout_s=5),
            publish=recorder.record_comparison,
            metrics=metrics,
            publish_candidate=recorder.record_candidate,
        )
        router = RoutingRunner(
            legacy=self.legacy,
            durable=self.durable,
            flags=self.flags.client(),
            owners=SqlOwnership(self.engine),
            records=recorder,
            shadows=shadows,
            metrics=metrics,
            resources=(shadows, recorder),
        )
        found = Proc(router, recorder, shadows, metrics)
        self.procs.append(found)
        return found

    def count(self, table: sa.Table, operation_id: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(table)
        if operation_id is not None:
            query = query.where(table.c.operation_id == operation_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    legacy = ScriptedRunner(Path.LEGACY, succeed_with_plan(PLAN))
    durable = ScriptedRunner(Path.DURABLE, succeed_with_plan(PLAN))
    found = World(engine, legacy, durable, FlagTestData(), [])
    yield found
    for proc in found.procs:
        proc.router.close()


def _request(op_id: str, application: str = "myapp") -> OperationRequest:
    return OperationRequest(op_id, "resizeServerGroup", "resize", "prod", application, "aws", {"x": 1})


def test_started_in_one_router_and_polled_in_another_records_one_outcome_with_the_starters_facts(
    world: World,
) -> None:
    world.flags.stage("complete")
    starter, poller = world.proc(), world.proc()
    handle = starter.router.start(_request("op-a"))
    finished = poller.router.poll(handle).result
    assert finished is not None and finished.decision is not None and finished.decision.stage == "complete"
    poller.flush()
    with world.engine.connect() as conn:
        (row,) = conn.execute(sa.select(operation_outcomes)).all()
    dimensions = (row.operation, row.stage_type, row.account, row.application, row.provider)
    assert dimensions == ("resizeServerGroup", "resize", "prod", "myapp", "aws")
    assert (row.operation_id, row.path, row.stage, row.status, row.fallback) == (
        "op-a",
        "durable",
        "complete",
        "succeeded",
        False,
    )
    assert row.decision["stage"] == "complete" and row.workflow_id is None  # the scripted path gives no ids

    # The starter polls it too, later: its copy loses the claim; polling again anywhere records nothing more.
    assert starter.router.poll(handle).result is not None
    poller.router.poll(handle)
    starter.flush()
    poller.flush()
    assert world.count(operation_outcomes) == 1
    assert starter.deduplicated("outcome") == 1


def test_routers_polling_the_same_operations_at_once_record_each_exactly_once(world: World) -> None:
    world.flags.stage("legacy")
    starter = world.proc()
    pollers = [world.proc(), world.proc(), starter]
    handles = [starter.router.start(_request(f"op-{i}")) for i in range(20)]
    gate = threading.Barrier(len(pollers))

    def poll_all(proc: Proc) -> None:
        gate.wait()
        for handle in handles:
            assert proc.router.poll(handle).result is not None

    with ThreadPoolExecutor(len(pollers)) as pool:
        list(pool.map(poll_all, pollers))
    for proc in pollers:
        proc.flush()
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(operation_outcomes.c.operation_id, operation_outcomes.c.stage)).all()
    assert sorted(r.operation_id for r in rows) == sorted(f"op-{i}" for i in range(20))
    assert {r.stage for r in rows} == {"legacy"}


def test_a_shadow_finished_by_its_starter_and_polled_by_another_router_is_compared_once(world: World) -> None:
    world.flags.stage("shadow")
    starter, poller = world.proc(), world.proc()
    handle = starter.router.start(_request("op-shadow"))

    def candidate_kept() -> bool:
        with world.engine.connect() as conn:
            kept = conn.execute(
                sa.select(operation_owners.c.candidate).where(operation_owners.c.operation_id == "op-shadow")
            ).scalar()
        return kept is not None

    wait_until(candidate_kept, timeout=30, what="the shadow's half kept on the row")
    assert poller.router.poll(handle).result is not None
    poller.flush()
    with world.engine.connect() as conn:
        (compared,) = conn.execute(sa.select(shadow_comparisons)).all()
    assert (compared.operation_id, compared.outcome, compared.application) == ("op-shadow", "match", "myapp")
    assert (compared.control_path, compared.candidate_path) == ("legacy", "durable")

    # The starter's own poll completes its ticket: its in-memory comparison loses the claim.
    starter.router.poll(handle)
    assert starter.shadows.drain(5)
    starter.flush()
    assert world.count(shadow_comparisons) == 1 and world.count(operation_outcomes) == 1
    assert starter.deduplicated("comparison") == 1
    assert len(world.legacy.executed) == 1 and world.legacy.dry_runs == []  # one real run, on one path


def test_a_shadow_finishing_after_another_router_recorded_the_control_pairs_when_it_arrives(world: World) -> None:
    release = threading.Event()

    def slow_plan(request: OperationRequest, path: Path) -> OperationResult:
        release.wait(10)  # the candidate's dry run, still planning when the control is recorded elsewhere
        return succeed_with_plan(PLAN)(request, path)

    world.durable.script = slow_plan
    world.flags.stage("shadow")
    starter, poller = world.proc(), world.proc()
    handle = starter.router.start(_request("op-late"))
    assert poller.router.poll(handle).result is not None
    poller.flush()
    assert world.count(operation_outcomes) == 1 and world.count(shadow_comparisons) == 0
    release.set()
    wait_until(lambda: world.count(shadow_comparisons) == 1, timeout=30, what="the comparison paired on arrival")
    starter.router.close()
    assert world.count(shadow_comparisons) == 1


def test_the_reconciler_records_what_no_one_polled_and_skips_what_is_recorded(world: World) -> None:
    world.flags.stage("complete")
    starter, survivor = world.proc(), world.proc()
    handles = [starter.router.start(_request(f"op-r{i}")) for i in range(5)]
    starter.router.poll(handles[0])  # the starter recorded this one itself, before it "died"
    starter.flush()

    reconciler = survivor.router.start_reconciler(ReconcileSettings(interval_s=3600, grace_s=0.001, page_size=2))
    assert reconciler.run_once() == 4  # paged two at a time
    survivor.flush()
    assert world.count(operation_outcomes) == 5
    assert survivor.metrics.value("cloudops_router_reconciled_total", {"path": "durable"}) == 4
    assert reconciler.run_once() == 0  # every outcome is recorded: nothing is overdue any more


def test_the_reconciler_waits_out_the_grace_period(world: World) -> None:
    world.flags.stage("complete")
    starter = world.proc()
    starter.router.start(_request("op-young"))
    reconciler = starter.router.start_reconciler(ReconcileSettings(interval_s=3600, grace_s=3600))
    assert reconciler.run_once() == 0 and world.count(operation_outcomes) == 0


def _owned(op_id: str, path: Path, handle: str | None, age_s: float, finished: bool = False) -> Ownership:
    now = datetime.now(UTC)
    return Ownership(
        op_id, path, "", now - timedelta(seconds=age_s), handle=handle, finished_at=now if finished else None
    )


def test_due_names_each_overdue_operation_by_its_handle_or_its_workflow_id() -> None:
    rows = [
        _owned("a", Path.LEGACY, "legacy:task-1", 60),
        _owned("b", Path.DURABLE, None, 60),  # a blocking run on the durable path: the id names the workflow
        _owned("c", Path.LEGACY, None, 60),  # died before the legacy service answered: nothing to ask
        _owned("d", Path.DURABLE, "durable:cloudop-d", 1),  # too young
        _owned("e", Path.DURABLE, "durable:cloudop-e", 60, finished=True),
        _owned("f", Path.LEGACY, "not a handle", 60),
    ]
    assert due(rows, datetime.now(UTC), grace_s=30) == [
        OperationHandle(Path.LEGACY, "task-1"),
        OperationHandle(Path.DURABLE, "cloudop-b"),
    ]


def test_rows_from_before_the_migration_are_marked_finished_so_nothing_is_recorded_twice(tmp_path: FsPath) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrations.upgrade(url, "0005_read_model_indexes")
    eng = sa.create_engine(url)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO operation_owners (operation_id, path, reason, claimed_at, updated_at) "
                "VALUES ('old-op', 'legacy', 'stage legacy', :now, :now)"
            ),
            {"now": now},
        )
    migrations.upgrade(url)
    owners = SqlOwnership(eng)
    old = owners.owner("old-op")
    assert old is not None and old.finished_at is not None and old.started is None
    assert owners.unfinished(now + timedelta(days=1)) == []
    eng.dispose()


@pytest.mark.parametrize("setting", ["CLOUDOPS_RECONCILE_INTERVAL_S", "CLOUDOPS_RECONCILE_GRACE_S"])
def test_reconciler_settings_are_validated_like_the_others(setting: str) -> None:
    with pytest.raises(ConfigurationError, match="above 0"):
        load_config(environ={setting: "0"})
    assert load_config(environ={setting: "2.5"}).reconcile_grace_s in (2.5, 300.0)


def test_the_reconciler_lets_the_path_forget_an_operation_recorded_elsewhere_since_its_last_pass() -> None:
    """The poll here is a stand-in that says "still running" (the logic under test is the reconciler's own)."""
    owners = InMemoryOwnership()
    owners.claim("op-long", Path.LEGACY, "stage legacy")
    owners.note_handle("op-long", "legacy:task-long")
    polled: list[OperationHandle] = []
    forgotten: list[OperationHandle] = []

    def poll(handle: OperationHandle) -> OperationStatus:
        polled.append(handle)
        return OperationStatus(handle, OperationState.RUNNING, step="waiting")

    settings = ReconcileSettings(interval_s=3600, grace_s=0.0)
    reconciler = Reconciler(owners, poll, RouterMetrics(), settings=settings, forget=forgotten.append)
    time.sleep(0.01)
    assert reconciler.run_once() == 0 and forgotten == []
    finished = owners.owner("op-long")
    assert finished is not None
    owners._owners["op-long"] = replace(finished, finished_at=datetime.now(UTC))  # another router recorded it
    assert reconciler.run_once() == 0
    assert polled == [OperationHandle(Path.LEGACY, "task-long")]
    assert forgotten == [OperationHandle(Path.LEGACY, "task-long")]


def test_the_reconciler_asks_ever_less_often_about_an_operation_its_path_never_took() -> None:
    """A durable claim whose start was refused (no fallback) and never retried: its path says UnknownHandle."""
    owners = InMemoryOwnership()
    owners.claim("op-refused", Path.DURABLE, "stage complete")
    asked: list[int] = []

    def poll(handle: OperationHandle) -> OperationStatus:
        asked.append(len(passes))
        raise UnknownHandle(f"no workflow {handle.run_id}")

    reconciler = Reconciler(owners, poll, RouterMetrics(), settings=ReconcileSettings(interval_s=3600, grace_s=0.0))
    time.sleep(0.01)
    passes: list[int] = []
    for number in range(1, 8):
        passes.append(number)
        assert reconciler.run_once() == 0
    assert asked == [1, 3, 6]
