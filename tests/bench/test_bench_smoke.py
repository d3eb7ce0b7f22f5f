"""Each benchmark, run tiny through `cloudops bench <name> --json`: the JSON's shape and its invariants.

Nothing here is timed: speed targets are the benchmarks' business (their JSON says whether each is met). What is
checked is that a benchmark runs end to end against real services, measures what it says, and that its figures
are consistent with each other (counts add up, bounds bound, a p99 is not below its p50).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from infra import REPO_ROOT, cloudops_argv


def _bench(*args: str, timeout: float = 120) -> dict[str, Any]:
    done = subprocess.run(
        cloudops_argv("bench", *args, "--json"), capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["python"] and machine["versions"]["temporalio"]
    assert report["command"] == f"cloudops bench {args[0]}" and report["duration_s"] >= 0
    for target in report["targets"]:
        assert set(target) == {"target", "value", "met"} and isinstance(target["met"], bool)
    return report


def _summary_ok(summary: dict[str, Any], n: int, unit: str = "ms") -> None:
    assert summary["n"] == n
    assert 0 <= summary[f"min_{unit}"] <= summary[f"p50_{unit}"] <= summary[f"p99_{unit}"] <= summary[f"max_{unit}"]


@pytest.mark.temporal
@pytest.mark.slow
def test_bench_reliability_runs_both_paths_and_accounts_for_every_operation() -> None:
    report = _bench(
        "reliability",
        "--ops",
        "8",
        "--clusters",
        "3",
        "--concurrency",
        "3",
        "--kill-every",
        "5",
        "--health-delay",
        "0.1",
        "--legacy-poll",
        "0.1",
        timeout=150,
    )
    assert report["workload"]["operations_planned"] >= 8
    assert set(report["paths"]) == {"legacy", "durable"}
    for name, path in report["paths"].items():
        assert path["operations"] == path["succeeded"] + path["failed"] > 0, name
        assert path["operations"] + path["skipped_after_a_failure"] == report["workload"]["operations_planned"]
        assert sum(path["failures_by_code"].values()) == path["failed"]
        assert path["failure_upper95_percent"] >= path["failure_percent"] >= 0
        assert path["lost_mutations"] == sum(path["lost_mutations_detail"].values())
        assert path["zombie_tasks"] == sum(path["zombie_tasks_detail"].values())
        assert path["journal"]["total"] >= path["succeeded"] - path["lost_mutations"]  # each operation: 1 mutation
        assert path["killed_process"]["restart_errors"] == []
    durable = report["paths"]["durable"]
    assert (durable["failed"], durable["duplicated_mutations"], durable["lost_mutations"]) == (0, 0, 0), durable
    assert durable["orphaned_server_groups"] == 0 and durable["zombie_tasks"] == 0
    assert durable["journal"]["total"] == durable["succeeded"]
    assert [t["met"] for t in report["targets"]] == [True, True, True, True]  # the operations target is --ops


@pytest.mark.temporal
@pytest.mark.slow
def test_bench_latency_measures_the_floor_both_poll_intervals_and_durable() -> None:
    report = _bench("latency", "--samples", "2", "--orca-samples", "1", "--orca-poll", "0.3", "--fast-poll", "0.1")
    variants = report["variants"]
    assert set(variants) == {
        "floor_direct_provider",
        "legacy_poll_0.3s",
        "legacy_poll_0.1s",
        "durable",
        "durable_dev_server_defaults",
        "temporal_empty_shape",
    }
    for name, figures in variants.items():
        _summary_ok(figures, 1 if name == "legacy_poll_0.3s" else 2)
        assert figures["failed"] == 0, name
    floor = variants["floor_direct_provider"]["p50_ms"]
    assert report["p50_over_floor_ms"]["durable"] == pytest.approx(variants["durable"]["p50_ms"] - floor, abs=0.01)
    assert report["baseline"] == "floor_direct_provider"
    split = report["durable_over_floor_split_ms"]
    empty = variants["temporal_empty_shape"]["p50_ms"]
    assert split["temporal_empty_shape"] == pytest.approx(empty, abs=0.01)
    assert split["ours"] == pytest.approx(variants["durable"]["p50_ms"] - floor - empty, abs=0.01)


@pytest.mark.temporal
@pytest.mark.slow
def test_bench_throughput_compares_the_router_with_the_raw_client_and_samples_worker_memory() -> None:
    report = _bench(
        "throughput",
        "--ops",
        "8",
        "--concurrency",
        "4",
        "--rounds",
        "1",
        "--in-flight",
        "12",
        "--hold",
        "20",
        "--memory-window",
        "1",
    )
    rate = report["rate"]
    for arm in ("raw_client", "raw_client_same_start", "durable_runner", "routing_runner"):
        assert rate[arm]["ops"] == 8 and rate[arm]["failed"] == 0 and rate[arm]["ops_per_s"] > 0
    assert rate["ratio_router_over_raw"] == pytest.approx(
        rate["routing_runner"]["ops_per_s"] / rate["raw_client"]["ops_per_s"], rel=0.01
    )
    assert rate["ratio_router_over_raw_same_start"] == pytest.approx(
        rate["routing_runner"]["ops_per_s"] / rate["raw_client_same_start"]["ops_per_s"], rel=0.01
    )
    assert report["targets"][0]["value"] == rate["ratio_router_over_raw_same_start"]
    memory = report["memory"]
    assert memory["operations_started"] == 12 and memory["workflows_open_while_sampled"] == 12
    assert memory["worker_rss_peak_mb"] >= memory["worker_rss_idle_mb"] > 0
    assert len(report["targets"]) == 2


def test_bench_router_reports_overhead_and_the_shadow_ratio() -> None:
    report = _bench(
        "router",
        "--samples",
        "300",
        "--work-samples",
        "40",
        "--work-ms",
        "1",
        "--shadow-work-ms",
        "2",
        "--candidate-ms",
        "5",
    )
    overhead = report["overhead"]
    for name, figures in overhead.items():
        _summary_ok(figures["direct"], figures["direct"]["n"], "us")
        _summary_ok(figures["router"], figures["direct"]["n"], "us")
        assert figures["overhead_p50_us"] == pytest.approx(
            figures["router"]["p50_us"] - figures["direct"]["p50_us"], abs=0.2
        ), name
    for shadow in report["shadow"].values():
        n = shadow["shadow_on"]["n"]
        _summary_ok(shadow["shadow_on"], n, "us")
        _summary_ok(shadow["shadow_off"], n, "us")
        assert shadow["added_p50_us"] == pytest.approx(
            shadow["shadow_on"]["p50_us"] - shadow["shadow_off"]["p50_us"], abs=0.2
        )
        assert sum(shadow["shadows_compared"].values()) + shadow["shadows_skipped_at_the_cap"] >= n


def test_bench_evidence_times_the_readers_against_the_baseline() -> None:
    report = _bench("evidence", "--rows", "2000", "--scopes", "20", "--no-baseline", timeout=120)
    sqlite = report["databases"]["sqlite"]
    for mode in ("report", "evidence", "dashboard"):
        assert sqlite[mode]["read_model"]["seconds"] >= 0 and sqlite[mode]["read_model"]["peak_rss_mb"] > 0
    assert "not measured" in report["databases"]["postgresql"]


def test_bench_gates_reports_error_rates_and_operations_for_every_policy_and_scenario() -> None:
    report = _bench("gates", "--trials", "3", "--rate", "200", "--steps", "50,100", timeout=240)
    scenarios = report["scenarios"]
    assert set(scenarios) == {"equal", "fails_2x", "fails_10x", "p99_50pct_slower", "better"}
    assert [name for name, s in scenarios.items() if s["worse"]] == ["fails_2x", "fails_10x", "p99_50pct_slower"]
    assert set(report["results"]) == {"sequential", "fixed_every_tick", "fixed_calibrated"}
    for policy in ("sequential", "fixed_every_tick"):
        for name, cell in report["results"][policy].items():
            assert cell["trials"] == 3
            assert cell["promoted"] + cell["rolled_back"] + cell["undecided"] == pytest.approx(1)
            kind = "false_promotion" if scenarios[name]["worse"] else "false_rollback"
            assert cell[kind] == (cell["promoted"] if scenarios[name]["worse"] else cell["rolled_back"])
            if cell["median_durable_ops"] is not None:
                assert 0 < cell["median_durable_ops"] <= cell["median_total_ops"]
    # A durable failing 10x as often is rolled back by the sequential gates, every time.
    assert report["results"]["sequential"]["fails_10x"]["rolled_back"] == 1.0
    calibration = report["calibration"]
    horizon = report["policies"]["fixed_calibrated"]["horizon_durable_ops_per_step"]
    assert report["policies"]["fixed_calibrated"]["alpha"] == pytest.approx(0.05 / 4)  # 2 steps x 2 checks
    if horizon is not None:
        assert horizon in calibration["grid"] and calibration["tried"][-1] == {"horizon": horizon, "met": True}
    assert len(report["targets"]) == 10


def test_bench_gates_refuses_bad_options_plainly() -> None:
    for args, message in ((["--steps", "50,10"], "steps must rise strictly"), (["--trials", "0"], "--trials")):
        done = subprocess.run(
            cloudops_argv("bench", "gates", *args), capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
        )
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
