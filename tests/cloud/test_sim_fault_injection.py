"""Seeded faults: determinism across runs and thread interleavings, lost responses and the journal, hard-down
switches, and the latency distribution."""

from __future__ import annotations

import dataclasses
import math
import statistics
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from cloud.errors import AlreadyExists, CloudError, CloudTimeout, CloudUnavailable, TransientCloudError
from cloud.model import Capacity, Listener, LoadBalancerSpec, ServerGroupSpec
from cloud.sim import FaultConfig, FaultKind, SimCloud, summarise_journal
from cloud.sim.faults import call_identity, decide

A, R = "prod", "us-east-1"


def lost_only(rate: float, seed: int) -> FaultConfig:
    return FaultConfig(rate=rate, seed=seed, throttle=0, server_error=0, timeout=0, lost_response=1)


def spec(name: str, desired: int = 1) -> ServerGroupSpec:
    return ServerGroupSpec(name=name, capacity=Capacity(0, 10, desired), image="ami-1")


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except CloudError as exc:
        return exc.code
    return "ok"


def test_decisions_are_a_pure_function_of_seed_call_and_occurrence() -> None:
    config = FaultConfig(rate=0.3, seed=7)
    identity = call_identity("createServerGroup", {"account": A, "name": "x"})
    draws = [decide(config, identity, n) for n in range(200)]
    assert draws == [decide(FaultConfig(rate=0.3, seed=7), identity, n) for n in range(200)]
    assert draws != [decide(FaultConfig(rate=0.3, seed=8), identity, n) for n in range(200)]
    assert len({d.kind for d in draws}) > 2  # retries of one call get fresh draws
    assert all(decide(FaultConfig(rate=0.0), identity, n).kind is None for n in range(200))
    assert all(decide(FaultConfig(rate=1.0), identity, n).kind is not None for n in range(200))


def test_failure_kinds_follow_their_weights() -> None:
    config = FaultConfig(rate=1.0, seed=1, throttle=3, server_error=1, timeout=0, lost_response=0)
    kinds = Counter(decide(config, call_identity("m", {"i": i}), 0).kind for i in range(4000))
    assert set(kinds) == {FaultKind.THROTTLE, FaultKind.SERVER_ERROR}
    assert 2.5 < kinds[FaultKind.THROTTLE] / kinds[FaultKind.SERVER_ERROR] < 3.5
    rate = Counter(
        decide(FaultConfig(rate=0.04, seed=7), call_identity("m", {"i": i}), 0).kind is None for i in range(5000)
    )
    assert 0.03 < rate[False] / 5000 < 0.05


def test_fault_configs_validate_and_round_trip() -> None:
    for bad in ({"rate": 1.5}, {"throttle": -1.0}, {"latency_median_ms": -1.0}):
        with pytest.raises(ValueError):
            FaultConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive sum"):
        FaultConfig(throttle=0, server_error=0, timeout=0, lost_response=0)
    config = FaultConfig(rate=0.2, seed=3, lost_response=2.0, latency_median_ms=5.0, latency_spread=0.3)
    assert FaultConfig.from_json(config.to_json()) == config
    assert FaultConfig.from_json({"rate": 0.5}, base=config) == dataclasses.replace(config, rate=0.5)
    with pytest.raises(ValueError, match="unknown fault setting"):
        FaultConfig.from_json({"rat": 0.5})
    with pytest.raises(ValueError, match="must be a number"):
        FaultConfig.from_json({"rate": "high"})


def _thread_workload(sim: SimCloud, worker: int, results: dict[int, list[str]]) -> None:
    """A fixed sequence of calls on resources only this worker touches; no retries, so failures cascade."""
    out: list[str] = []
    for g in range(6):
        _group_lifecycle(sim, worker, g, out)
    results[worker] = out


def _group_lifecycle(sim: SimCloud, worker: int, g: int, out: list[str]) -> None:
    name = f"w{worker}-main-v{g:03d}"
    out.append(outcome(lambda: sim.create_server_group(A, R, spec(name, 2), f"{name}-c")))
    out.append(outcome(lambda: sim.describe_server_group(A, R, name)))
    out.append(outcome(lambda: sim.resize_server_group(A, R, name, Capacity(0, 10, 3), f"{name}-r")))
    out.append(outcome(lambda: sim.disable_server_group(A, R, name, f"{name}-d")))
    out.append(outcome(lambda: sim.list_server_groups(A, R, f"w{worker}-main")))
    out.append(outcome(lambda: sim.describe_server_group(A, R, name)))
    lb = LoadBalancerSpec(f"w{worker}-lb{g}", (Listener("HTTP", 80, "HTTP", 7001),))
    out.append(outcome(lambda: sim.upsert_load_balancer(A, R, lb, f"{name}-lb")))
    out.append(outcome(lambda: sim.destroy_server_group(A, R, name, f"{name}-x")))


def _run_workers(concurrent: bool) -> tuple[dict[int, list[str]], list[tuple[str, str]]]:
    # A tiny seeded latency makes the threads really interleave (time.sleep releases the GIL).
    sim = SimCloud(faults=FaultConfig(rate=0.04, seed=7, latency_median_ms=0.2, latency_spread=1.0))
    results: dict[int, list[str]] = {}
    workers = range(6)
    if concurrent:
        threads = [threading.Thread(target=_thread_workload, args=(sim, w, results)) for w in reversed(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for w in workers:
            _thread_workload(sim, w, results)
    journal = sorted((e.token, e.target) for e in sim.journal())
    return results, journal


def test_the_same_seeded_workload_fails_the_same_calls_whatever_the_interleaving() -> None:
    sequential, journal_a = _run_workers(concurrent=False)
    concurrent, journal_b = _run_workers(concurrent=True)
    failures = [(w, i, o) for w, outs in sorted(sequential.items()) for i, o in enumerate(outs) if o != "ok"]
    assert any(o in ("Throttling", "ServiceUnavailable", "RequestTimeout") for _, _, o in failures)
    assert concurrent == sequential
    assert journal_a == journal_b
    assert _run_workers(concurrent=True) == (concurrent, journal_b)


def test_lost_responses_retried_with_the_same_token_are_journaled_once() -> None:
    sim = SimCloud(faults=lost_only(0.5, 11))
    tokens: list[str] = []
    attempts = Counter[str]()

    def until_done(call: Callable[[str], object], token: str) -> object:
        tokens.append(token)
        while True:
            attempts[token] += 1
            try:
                return call(token)
            except TransientCloudError:
                assert attempts[token] < 50

    def lifecycle(name: str) -> None:
        group = until_done(lambda t: sim.create_server_group(A, R, spec(name, 2), t), f"{name}-create")
        until_done(lambda t: sim.resize_server_group(A, R, name, Capacity(0, 10, 4), t), f"{name}-resize")
        until_done(lambda t: sim.disable_server_group(A, R, name, t), f"{name}-disable")
        victim = group.instances[0].id  # type: ignore[attr-defined]
        until_done(lambda t: sim.terminate_instances(A, R, (victim,), t), f"{name}-terminate")
        until_done(lambda t: sim.destroy_server_group(A, R, name, t), f"{name}-destroy")

    for g in range(8):
        lifecycle(f"app-main-v{g:03d}")

    assert sim.injected_faults()["lost_response"] >= 10
    journal = sim.journal()
    assert [e.token for e in journal] == tokens  # every mutation applied exactly once, in order
    assert summarise_journal(journal).clean
    assert sim.list_server_groups(A, R) == []


def test_retrying_a_lost_response_with_a_fresh_token_shows_up_in_the_journal() -> None:
    sim = SimCloud(faults=lost_only(1.0, 1))
    with pytest.raises(CloudTimeout):
        sim.create_server_group(A, R, spec("app-v000"), "first")
    with pytest.raises(CloudTimeout):
        sim.resize_server_group(A, R, "app-v000", Capacity(0, 5, 3), "r1")
    sim.set_fault_rate(0.0)
    with pytest.raises(AlreadyExists):  # the create was applied although its answer was lost
        sim.create_server_group(A, R, spec("app-v000"), "second")
    sim.resize_server_group(A, R, "app-v000", Capacity(0, 5, 3), "r2")  # a careless retry under a new token
    summary = summarise_journal(sim.journal())
    assert [e.token for e in summary.duplicates] == ["r2"]
    assert summary.by_kind == {"createServerGroup": 1, "resizeServerGroup": 2}


def test_hard_down_switches_fail_their_scope_and_apply_nothing() -> None:
    sim = SimCloud()
    sim.create_server_group(A, R, spec("app-v000"), "t0")
    sim.set_hard_down(account="prod")
    for call in (
        lambda: sim.list_server_groups(A, "eu-west-1"),
        lambda: sim.describe_server_group(A, R, "app-v000"),
        lambda: sim.create_server_group(A, R, spec("app-v001"), "t1"),
        lambda: sim.destroy_server_group(A, R, "app-v000", "t2"),
    ):
        with pytest.raises(CloudUnavailable) as info:
            call()
        assert info.value.account == "prod" and info.value.retryable
    assert sim.list_server_groups("test", R) == []
    assert len(sim.accounts()) == 4
    sim.set_hard_down(account="prod", down=False)
    sim.set_hard_down(region="eu-west-1")
    assert sim.describe_server_group(A, R, "app-v000") is not None
    for account in ("prod", "titustest"):
        with pytest.raises(CloudUnavailable):
            sim.list_server_groups(account, "eu-west-1")
    sim.set_hard_down(account="test", region=R)
    assert sim.hard_down() == [(None, "eu-west-1"), ("test", R)]
    with pytest.raises(CloudUnavailable):
        sim.list_server_groups("test", R)
    sim.list_server_groups("test", "us-west-2")
    sim.set_hard_down()
    with pytest.raises(CloudUnavailable, match="whole cloud"):
        sim.accounts()
    for scope in sim.hard_down():
        sim.set_hard_down(*scope, down=False)
    sim.destroy_server_group(A, R, "app-v000", "t2")
    assert [e.token for e in sim.journal()] == ["t0", "t2"]
    assert sim.injected_faults()["hard_down"] == 8


def _latencies(config: FaultConfig, calls: int = 400) -> list[float]:
    slept: list[float] = []
    sim = SimCloud(faults=config, sleep=slept.append)
    for i in range(calls):
        sim.describe_server_group(A, R, f"g{i}")
    return slept


def test_latency_is_seeded_and_log_normal() -> None:
    config = FaultConfig(seed=5, latency_median_ms=50.0, latency_spread=0.5)
    slept = _latencies(config)
    assert slept == _latencies(config)
    assert slept != _latencies(FaultConfig(seed=6, latency_median_ms=50.0, latency_spread=0.5))
    ms = sorted(s * 1000 for s in slept)
    assert 45 < statistics.median(ms) < 55
    p84 = ms[int(0.8413 * len(ms))]
    assert 0.4 < math.log(p84 / statistics.median(ms)) < 0.6  # one sigma above the median
    assert _latencies(FaultConfig(seed=5, latency_median_ms=20.0), 10) == [0.02] * 10
    assert _latencies(FaultConfig(seed=5), 10) == []


def test_retries_of_a_call_draw_afresh_and_replay_identically() -> None:
    def run() -> list[str]:
        sim = SimCloud(faults=FaultConfig(rate=0.5, seed=3))
        return [outcome(lambda: sim.describe_server_group(A, R, "same")) for _ in range(40)]

    first = run()
    assert first == run()
    assert "ok" in first and len(set(first)) > 1
