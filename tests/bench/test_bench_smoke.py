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
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["executor-kill", "state-kill", "cloud-outage", "orchestrator-kill"])
def test_bench_reliability_runs_every_row_of_a_scenario_and_accounts_for_every_operation(scenario: str) -> None:
    """Each scenario, tiny: the legacy rows (tasks in memory, in Redis) and the durable row (a dev server on a
    SQLite file) under the same faults; the durable row loses, duplicates and fails nothing."""
    report = _bench(
        "reliability",
        "--scenario",
        scenario,
        "--ops",
        "8",
        "--clusters",
        "3",
        "--concurrency",
        "3",
        "--kill-every",
        "3",
        "--outage-seconds",
        "1",
        "--outage-every",
        "1.5",
        "--health-delay",
        "0.1",
        "--legacy-poll",
        "0.1",
        "--legacy-timeout",
        "10",
        timeout=240,
    )
    assert report["workload"]["operations_planned"] >= 8
    assert set(report["scenarios"]) == {scenario}
    rows = report["scenarios"][scenario]["rows"]
    assert set(rows) == {"legacy-memory", "legacy-redis", "durable-sqlite"}
    for name, row in rows.items():
        assert row["operations"] == row["succeeded"] + row["failed"] > 0, name
        assert row["operations"] + row["skipped_after_a_failure"] == report["workload"]["operations_planned"]
        assert sum(row["failures_by_code"].values()) == row["failed"]
        assert row["failure_upper95_percent"] >= row["failure_percent"] >= 0
        assert row["lost_mutations"] == sum(row["lost_mutations_detail"].values())
        assert row["zombie_tasks"] == sum(v or 0 for v in row["zombie_tasks_detail"].values())
        assert row["journal"]["total"] >= row["succeeded"] - row["lost_mutations"]  # each operation: 1 mutation
        _summary_ok(row["operation_duration"], row["operations"])
        faults = row["faults"]
        if scenario == "cloud-outage":  # a legacy row may finish before the first outage; the durable row cannot
            assert faults["switch_errors"] == [], name
            assert name != "durable-sqlite" or faults["outages"] >= 1 <= row["injected_faults"].get("hard_down", 0)
        else:
            assert faults["restart_errors"] == [], name
    assert "clouddriver itself" in rows["legacy-memory"]["faults"]["hits"] or scenario != "state-kill"
    durable = rows["durable-sqlite"]
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
