"""The rollout controller as a service (issue 20, item 4): rollouts advance by themselves, and several replicas
on one database never tick the same rollout at once (a lease per rollout, in SQL)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from infra import cloudops_argv, wait_until

import migrations
from flags import SqlFlagStore
from rollouts.controller import RolloutController
from rollouts.leases import LeaseStore
from rollouts.model import RolloutPlan
from rollouts.service import RolloutService
from rollouts.tick import TickResult


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlFlagStore]:
    url = f"sqlite:///{tmp_path / 'rollouts.db'}"
    migrations.upgrade(url)
    store = SqlFlagStore(url)
    yield store
    store.close()


def test_a_lease_is_held_until_it_lapses_and_renewed_by_its_holder(store: SqlFlagStore) -> None:
    leases = LeaseStore(store.engine)
    assert leases.acquire("ro-1", "a", now=100.0, ttl_s=30)
    assert not leases.acquire("ro-1", "b", now=110.0, ttl_s=30)
    assert leases.acquire("ro-1", "a", now=120.0, ttl_s=30)  # a renewal: a holds it until 150
    assert not leases.acquire("ro-1", "b", now=149.0, ttl_s=30)
    assert leases.acquire("ro-1", "b", now=150.0, ttl_s=30) and leases.holder("ro-1", 151.0) == "b"
    leases.release("ro-1", "b")
    assert leases.holder("ro-1", 151.0) is None and leases.acquire("ro-1", "a", now=151.0, ttl_s=30)


def test_replicas_tick_each_rollout_once_per_pass(store: SqlFlagStore) -> None:
    controller = RolloutController(store.engine, store)
    started = [
        controller.start(RolloutPlan({"application": app}, min_ops=0, min_duration_s=0), actor="alice")
        for app in ("api", "web", "billing")
    ]
    ticked: dict[str, list[str]] = {"one": [], "two": []}

    def replica(name: str) -> RolloutService:
        return RolloutService(
            controller,
            LeaseStore(store.engine),
            holder=name,
            interval_s=60,
            on_tick=lambda r: ticked[name].append(r.rollout.id),
        )

    one, two = replica("one"), replica("two")
    barrier = threading.Barrier(2)

    def run(service: RolloutService) -> None:
        barrier.wait()
        service.tick_due()

    threads = [threading.Thread(target=run, args=(s,)) for s in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = sorted(ticked["one"] + ticked["two"])
    assert every == sorted(r.id for r in started), ticked  # each rollout ticked exactly once, by one replica
    held_by_one = list(ticked["one"])
    one.tick_due()  # its next pass renews and ticks its own rollouts; the other replica's stay with it
    assert ticked["one"][len(held_by_one) :] == held_by_one


def test_a_failing_store_is_counted_and_the_pass_goes_on(store: SqlFlagStore) -> None:
    controller = RolloutController(store.engine, store)
    controller.start(RolloutPlan({"application": "api"}, min_ops=0, min_duration_s=0), actor="alice")
    results: list[TickResult] = []
    service = RolloutService(controller, LeaseStore(store.engine), holder="x", interval_s=1, on_tick=results.append)
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE rollout_leases"))
    assert service.tick_due() == [] and service.errors == 1 and results == []


@pytest.mark.slow
def test_the_controller_command_advances_a_rollout_by_itself(store: SqlFlagStore, tmp_path: Path) -> None:
    """`cloudops rollout controller` as `cloudops dev` runs it: nobody ticks, the rollout moves from shadow on."""
    controller = RolloutController(store.engine, store)
    rollout = controller.start(RolloutPlan({"application": "api"}, min_ops=0, min_duration_s=0), actor="alice")
    url = str(store.engine.url)
    argv = cloudops_argv("rollout", "controller", "--db", url, "--interval", "1s", "--identity", "test", "--json")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def moved() -> bool:
            return controller.get(rollout.id).version > rollout.version

        wait_until(moved, timeout=30, what="the controller to tick the rollout")
        assert LeaseStore(store.engine).holder(rollout.id, time.time()) == "test"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "rollout controller test stopped" in err
    assert LeaseStore(store.engine).holder(rollout.id, time.time()) is None  # released at the stop


def test_bad_options_get_one_line(store: SqlFlagStore) -> None:
    argv = cloudops_argv("rollout", "controller", "--db", str(store.engine.url), "--interval", "30s", "--lease", "10s")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must be longer than --interval" in done.stderr
    assert "Traceback" not in done.stderr
