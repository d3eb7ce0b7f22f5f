"""The guarded rollout end to end on a migrated SQLite database, with the real SQL flag store.

Rows are inserted into operation_outcomes / shadow_comparisons with chosen timestamps; the controller's clock is
passed explicitly, so every step's window is exact.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import migrations
from flags import STAGE_KEY, FlagStoreUnavailable, SqlFlagStore
from rollouts.controller import RolloutController, TickAction
from rollouts.errors import InvalidPlan, InvalidTransition, RolloutConflict, RolloutNotFound
from rollouts.gates import Thresholds
from rollouts.model import EventKind, RolloutPlan, RolloutStatus, parse_duration, parse_scope, parse_steps
from rollouts.tables import metadata as rollout_metadata
from router.tables import operation_outcomes, shadow_comparisons

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCOPE = {"application": "api", "account": "prod"}
DIMS = {
    "application": "api",
    "account": "prod",
    "operation": "createServerGroup",
    "stage_type": "createServerGroup",
    "provider": "aws",
}
_serial = iter(range(10**9))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add_outcomes(
    engine: sa.Engine,
    when: datetime,
    path: str,
    n: int,
    failures: int = 0,
    median: float = 1.0,
    dims: dict[str, str] = DIMS,
) -> None:
    rng = random.Random(next(_serial))
    rows: list[dict[str, Any]] = [
        {
            "operation_id": f"op-{next(_serial)}",
            **dims,
            "path": path,
            "stage": "canary",
            "status": "failed" if i < failures else "succeeded",
            "error_kind": "infrastructure" if i < failures else None,
            "errors": [],
            "decision": {},
            "fallback": False,
            "duration_s": max(0.01, rng.gauss(median, median * 0.1)),
            "finished_at": when,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)


def add_comparisons(
    engine: sa.Engine, when: datetime, outcome: str, n: int, dims: dict[str, str] = DIMS, diffs: Any = ()
) -> None:
    rows = [
        {
            "operation_id": f"op-{next(_serial)}",
            **dims,
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": outcome,
            "diffs": list(diffs),
            "control": {},
            "candidate": {},
            "control_duration_s": 1.0,
            "candidate_duration_s": 0.2,
            "compared_at": when,
        }
        for _ in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(shadow_comparisons.insert(), rows)


@pytest.fixture
def flags_store(tmp_path: Path) -> Iterator[SqlFlagStore]:
    url = f"sqlite:///{tmp_path / 'rollouts.db'}"
    migrations.upgrade(url)
    store = SqlFlagStore(url)
    yield store
    store.close()


@pytest.fixture
def controller(flags_store: SqlFlagStore) -> RolloutController:
    return RolloutController(flags_store.engine, flags_store, clock=lambda: T0)


def plan(steps: tuple[float, ...] = (10, 100), **kwargs: Any) -> RolloutPlan:
    # A wide failure margin: these tests are of the machine, and 30 durable operations cannot show a 2-point one.
    thresholds = Thresholds(min_samples=20, failure_margin=0.2)
    options: dict[str, Any] = {"min_ops": 20, "min_duration_s": 60, "thresholds": thresholds}
    options.update(kwargs)
    return RolloutPlan(scope=SCOPE, steps=steps, **options)


def stage_of(store: SqlFlagStore) -> tuple[Any, float | None, str]:
    prop = store.find_property(STAGE_KEY, SCOPE)
    assert prop is not None
    return prop.value, prop.percent, prop.updated_by


def healthy_canary(engine: sa.Engine, when: datetime, *, legacy: int = 40) -> None:
    add_outcomes(engine, when, "legacy", legacy, failures=1)
    add_outcomes(engine, when, "durable", 30)
    add_comparisons(engine, when, "match", 30)


def test_a_rollout_walks_shadow_canary_durable_with_its_evidence(
    controller: RolloutController, flags_store: SqlFlagStore
) -> None:
    engine = flags_store.engine
    rollout = controller.start(plan(), actor="alice", reason="move api/prod")
    actor = f"rollout:{rollout.id}"
    assert rollout.status is RolloutStatus.RUNNING and rollout.flag_synced
    assert stage_of(flags_store) == ("shadow", None, actor)

    held = controller.tick(rollout.id, now=at(30))
    assert held.action is TickAction.HELD and held.gate is not None
    assert "too few comparisons" in held.gate.summary()
    controller.tick(rollout.id, now=at(35))  # the same hold again: no second timeline entry

    add_comparisons(engine, at(40), "match", 30)
    add_comparisons(engine, at(40), "mismatch", 5, dims={**DIMS, "application": "other"})  # another scope
    moved = controller.tick(rollout.id, now=at(90))
    assert moved.action is TickAction.ADVANCED, moved.gate.summary() if moved.gate else moved.note
    assert stage_of(flags_store) == ("canary", 10.0, actor)

    healthy_canary(engine, at(100))
    assert controller.tick(rollout.id, now=at(200)).action is TickAction.ADVANCED
    assert stage_of(flags_store) == ("canary", 100.0, actor)

    # At 100% nothing runs on legacy: the baseline widens to everything since the rollout started.
    add_outcomes(engine, at(250), "durable", 30)
    add_comparisons(engine, at(250), "match", 30)
    done = controller.tick(rollout.id, now=at(400))
    assert done.action is TickAction.COMPLETED, done.gate.summary() if done.gate else done.note
    assert done.rollout.status is RolloutStatus.COMPLETED and done.rollout.finished_at == at(400)
    assert stage_of(flags_store) == ("durable", None, actor)
    assert controller.tick(rollout.id, now=at(500)).action is TickAction.IDLE

    timeline = controller.timeline(rollout.id)
    assert [e.kind for e in timeline] == [
        EventKind.STARTED,
        EventKind.HELD,
        EventKind.ADVANCED,
        EventKind.ADVANCED,
        EventKind.COMPLETED,
    ]
    assert [e.to_phase.label() if e.to_phase else None for e in timeline] == [
        "shadow",
        "shadow",
        "canary 10%",
        "canary 100%",
        "durable",
    ]
    last = timeline[-1]
    assert "rollout's start" in last.evidence["baseline"]
    assert last.evidence["counts"]["durable"] == {"total": 30, "failures": 0}
    assert last.evidence["gate"]["outcome"] == "pass"
    assert timeline[2].evidence["counts"]["comparisons"]["mismatch"] == 0  # the other scope's rows stay out

    audit = flags_store.history(key=STAGE_KEY)
    assert {c.actor for c in audit} == {actor}
    assert [c.after["value"] if c.after else None for c in reversed(audit)] == ["shadow", "canary", "canary", "durable"]
    assert "shadow passed its gates" in audit[-2].reason and "mismatch rate" in audit[-2].reason

    with pytest.raises(RolloutConflict, match="already durable"):
        controller.start(plan(), actor="alice")


def test_a_failing_step_rolls_back_at_once_to_the_last_good_stage(
    controller: RolloutController, flags_store: SqlFlagStore
) -> None:
    engine = flags_store.engine
    rollout = controller.start(plan(steps=(10, 50), min_duration_s=3600), actor="alice")
    add_comparisons(engine, at(10), "match", 30)
    assert controller.tick(rollout.id, now=at(3601)).action is TickAction.ADVANCED

    add_outcomes(engine, at(3700), "legacy", 60, failures=1)
    add_outcomes(engine, at(3700), "durable", 60, failures=20)
    result = controller.tick(rollout.id, now=at(3720))  # long before the step's minimum duration: fail fast
    assert result.action is TickAction.ROLLED_BACK
    assert result.rollout.status is RolloutStatus.ROLLED_BACK
    assert stage_of(flags_store) == ("shadow", None, f"rollout:{rollout.id}")
    event = controller.timeline(rollout.id)[-1]
    assert event.kind is EventKind.ROLLED_BACK and event.from_phase and event.from_phase.label() == "canary 10%"
    assert "failure rate: durable" in event.reason and "is worse than legacy" in event.reason
    failure = next(c for c in event.evidence["gate"]["checks"] if c["name"] == "failure_rate")
    assert failure["outcome"] == "fail" and failure["evidence"]["candidateFailures"] == 20
    audit = flags_store.history(key=STAGE_KEY, limit=1)[0]
    assert "failed its gates; rolled back to shadow" in audit.reason
    assert controller.tick(rollout.id, now=at(3800)).action is TickAction.IDLE
    # The scope is free again: a new rollout may start (from shadow).
    assert controller.start(plan(), actor="bob").status is RolloutStatus.RUNNING


def test_a_failing_shadow_returns_to_legacy(controller: RolloutController, flags_store: SqlFlagStore) -> None:
    rollout = controller.start(plan(), actor="alice")
    add_comparisons(flags_store.engine, at(5), "match", 30)
    add_comparisons(flags_store.engine, at(5), "mismatch", 20)
    result = controller.tick(rollout.id, now=at(10))
    assert result.action is TickAction.ROLLED_BACK
    assert stage_of(flags_store)[0] == "legacy"


def test_pause_resume_and_abort(controller: RolloutController, flags_store: SqlFlagStore) -> None:
    engine = flags_store.engine
    rollout = controller.start(plan(), actor="alice")
    paused = controller.pause(rollout.id, actor="bob", reason="incident 42", now=at(5))
    assert paused.status is RolloutStatus.PAUSED
    add_comparisons(engine, at(10), "match", 30)
    assert controller.tick(rollout.id, now=at(100)).action is TickAction.IDLE
    assert stage_of(flags_store)[0] == "shadow"
    with pytest.raises(InvalidTransition, match="it is paused"):
        controller.pause(rollout.id, actor="bob", reason="again")

    resumed = controller.resume(rollout.id, actor="bob", reason="incident over", now=at(200))
    assert resumed.status is RolloutStatus.RUNNING and resumed.step_started_at == at(200)
    # The evidence window restarted at the resume: the comparisons from before it no longer count.
    assert controller.tick(rollout.id, now=at(300)).action is TickAction.HELD
    add_comparisons(engine, at(210), "match", 30)
    assert controller.tick(rollout.id, now=at(300)).action is TickAction.ADVANCED
    assert stage_of(flags_store)[:2] == ("canary", 10.0)

    aborted = controller.abort(rollout.id, actor="carol", reason="not this quarter", now=at(400))
    assert aborted.status is RolloutStatus.ABORTED and aborted.flag_synced
    assert stage_of(flags_store) == ("legacy", None, f"rollout:{rollout.id}")
    assert "aborted by carol" in flags_store.history(key=STAGE_KEY, limit=1)[0].reason
    kinds = [(e.kind, e.actor) for e in controller.timeline(rollout.id)]
    assert (EventKind.PAUSED, "bob") in kinds and (EventKind.RESUMED, "bob") in kinds
    assert kinds[-1] == (EventKind.ABORTED, "carol")
    with pytest.raises(InvalidTransition, match="cannot resume"):
        controller.resume(rollout.id, actor="bob", reason="no")


def test_abort_keep_leaves_the_flag(controller: RolloutController, flags_store: SqlFlagStore) -> None:
    rollout = controller.start(plan(), actor="alice")
    add_comparisons(flags_store.engine, at(10), "match", 30)
    controller.tick(rollout.id, now=at(100))
    aborted = controller.abort(rollout.id, actor="carol", reason="stay at 10%", keep=True)
    assert aborted.target is None and aborted.status is RolloutStatus.ABORTED
    assert stage_of(flags_store)[:2] == ("canary", 10.0)
    assert controller.timeline(rollout.id)[-1].to_phase is None


def test_two_tickers_never_double_advance(flags_store: SqlFlagStore) -> None:
    first = RolloutController(flags_store.engine, flags_store, clock=lambda: T0)
    rollout = first.start(plan(), actor="alice")
    add_comparisons(flags_store.engine, at(10), "match", 30)

    # Deterministic interleaving: the second ticker read the rollout before the first one advanced it.
    stale = first.get(rollout.id)
    second = RolloutController(flags_store.engine, flags_store, clock=lambda: T0)
    second.store.get = lambda rollout_id: stale  # type: ignore[method-assign]
    assert first.tick(rollout.id, now=at(100)).action is TickAction.ADVANCED
    lost = second.tick(rollout.id, now=at(100))
    assert lost.action is TickAction.LOST_RACE

    # And for real: several threads tick the same rollout at once.
    add_outcomes(flags_store.engine, at(150), "legacy", 40)
    add_outcomes(flags_store.engine, at(150), "durable", 30)
    add_comparisons(flags_store.engine, at(150), "match", 30)
    tickers = [RolloutController(flags_store.engine, flags_store, clock=lambda: T0) for _ in range(4)]
    barrier = threading.Barrier(len(tickers))
    actions: list[TickAction] = []

    def run(ticker: RolloutController) -> None:
        barrier.wait()
        actions.append(ticker.tick(rollout.id, now=at(300)).action)

    threads = [threading.Thread(target=run, args=(t,)) for t in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert actions.count(TickAction.ADVANCED) == 1, actions
    assert first.get(rollout.id).position == 2  # shadow -> canary 10 -> canary 100, once each
    kinds = [e.kind for e in first.timeline(rollout.id)]
    assert kinds.count(EventKind.ADVANCED) == 2
    writes = [c for c in flags_store.history(key=STAGE_KEY) if c.after and c.after["value"] == "canary"]
    assert sorted(c.after["percent"] for c in writes if c.after) == [10.0, 100.0]


def test_a_flag_changed_outside_pauses_and_resume_reapplies(
    controller: RolloutController, flags_store: SqlFlagStore
) -> None:
    rollout = controller.start(plan(), actor="alice")
    flags_store.set_property(STAGE_KEY, "legacy", SCOPE, actor="dave", reason="hotfix: back to legacy")
    result = controller.tick(rollout.id, now=at(50))
    assert result.action is TickAction.PAUSED and result.rollout.status is RolloutStatus.PAUSED
    assert "changed outside the rollout by dave" in result.note
    assert stage_of(flags_store)[0] == "legacy"  # the rollout never fights a person
    controller.resume(rollout.id, actor="dave", reason="hotfix deployed")
    assert stage_of(flags_store) == ("shadow", None, f"rollout:{rollout.id}")


class _FlakyFlags:
    """The real store, except that the next `fail` writes raise FlagStoreUnavailable (the database went away)."""

    def __init__(self, store: SqlFlagStore, fail: int) -> None:
        self._store, self.fail = store, fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def set_property(self, *args: Any, **kwargs: Any) -> Any:
        if self.fail > 0:
            self.fail -= 1
            raise FlagStoreUnavailable("the flag store at sqlite:///x is unavailable: disk I/O error")
        return self._store.set_property(*args, **kwargs)


def test_a_failed_flag_write_is_retried_on_the_next_tick(flags_store: SqlFlagStore) -> None:
    flaky = _FlakyFlags(flags_store, fail=2)
    controller = RolloutController(flags_store.engine, flaky, clock=lambda: T0)
    rollout = controller.start(plan(), actor="alice")
    assert not rollout.flag_synced and flags_store.find_property(STAGE_KEY, SCOPE) is None
    pending = controller.tick(rollout.id, now=at(10))
    assert pending.action is TickAction.FLAG_PENDING and "disk I/O error" in pending.note
    assert controller.tick(rollout.id, now=at(20)).action is TickAction.HELD
    assert stage_of(flags_store) == ("shadow", None, f"rollout:{rollout.id}")
    assert "retrying the write of started" in flags_store.history(key=STAGE_KEY, limit=1)[0].reason


def test_conflicts_and_unknown_ids(controller: RolloutController) -> None:
    first = controller.start(plan(), actor="alice")
    with pytest.raises(RolloutConflict, match=first.id):
        controller.start(plan(), actor="bob")
    other = controller.start(RolloutPlan(scope={"application": "web"}, min_ops=1, min_duration_s=0), actor="bob")
    assert other.id != first.id
    assert {r.id for r in controller.list([RolloutStatus.RUNNING])} == {first.id, other.id}
    with pytest.raises(RolloutNotFound, match="ro-nope"):
        controller.tick("ro-nope")
    with pytest.raises(RolloutNotFound):
        controller.abort("ro-nope", actor="a", reason="b")


def test_plan_input_is_validated() -> None:
    assert parse_scope("account=prod, application=api") == {"application": "api", "account": "prod"}
    assert parse_steps("1,5,25") == (1.0, 5.0, 25.0)
    assert parse_duration("10m") == 600 and parse_duration("1.5h") == 5400 and parse_duration("2d") == 172800
    for bad, message in [
        ("app=api", "unknown dimension 'app'"),
        ("application", "write dimension=value"),
        ("", "needs a scope"),
        ("application=api,application=web", "twice"),
    ]:
        with pytest.raises(InvalidPlan, match=message):
            parse_scope(bad)
    for bad_steps, message in [("5,1", "rise strictly"), ("0,5", "above 0"), ("1,x", "percents"), ("150", "at most")]:
        with pytest.raises(InvalidPlan, match=message):
            parse_steps(bad_steps)
    with pytest.raises(InvalidPlan, match="s, m, h or d"):
        parse_duration("10 minutes")
    with pytest.raises(InvalidPlan, match="min ops"):
        RolloutPlan(scope=SCOPE, min_ops=-1)


def test_the_migration_matches_the_table_definitions(flags_store: SqlFlagStore) -> None:
    inspector = sa.inspect(flags_store.engine)
    for table in rollout_metadata.sorted_tables:
        migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(migrated) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert migrated[column.name]["nullable"] == column.nullable, (table.name, column.name)
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        declared = {tuple(c.name for c in u.columns) for u in table.constraints if isinstance(u, sa.UniqueConstraint)}
        assert declared <= uniques, table.name
    assert migrations.current(flags_store.engine) == migrations.head()
