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
from infra import REPO_ROOT, Process, cloudops_argv


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
        "temporal_empty_two_tasks",
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
    two = report["two_regions"]
    _summary_ok(two["floor"], 2)
    _summary_ok(two["durable"], 2)
    assert two["floor"]["failed"] == two["durable"]["failed"] == 0
    over = two["durable"]["p50_ms"] - two["floor"]["p50_ms"]
    assert two["durable_p50_over_floor_ms"] == pytest.approx(over, abs=0.01)
    assert [t["target"] for t in report["targets"]] == [
        "durable p50 - floor p50 (ms) <= 25",
        "durable p99 - floor p50 (ms) <= 60",
    ]


@pytest.mark.temporal
@pytest.mark.slow
def test_bench_throughput_compares_the_router_with_the_raw_client_and_samples_worker_memory() -> None:
    """The in-process arms, the tree rows (the baseline commit's code from a git worktree, this tree with one and
    with two workers on a queue, CPU per operation by process) and the memory phase, each tiny."""
    report = _bench(
        "throughput",
        "--workers",
        "1,2",
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
    memory = report["memory"]
    assert memory["operations_started"] == 12 and memory["workflows_open_while_sampled"] == 12
    assert memory["worker_rss_peak_mb"] >= memory["worker_rss_idle_mb"] > 0
    trees = report["trees"]
    assert trees["baseline_commit"] and trees["this_commit"]
    rows = trees["rows"]
    assert set(rows) == {"baseline_1_worker", "this_1_worker", "this_2_workers"}
    for name, row in rows.items():
        assert row["ops"] == 8 and row["failed"] == 0 and row["ops_per_s"] > 0, name
        _summary_ok(row["latency"], 8)
        cpu = row["cpu_ms_per_op"]
        assert cpu["total"] > 0 and cpu["temporal"] is not None and cpu["caller"] is not None, name
        workers = [k for k in cpu if k.startswith("worker-")]
        assert len(workers) == (2 if name == "this_2_workers" else 1), name
        assert cpu["all_workers"] == pytest.approx(sum(cpu[k] for k in workers), abs=0.02)
    assert trees["ratio_this_over_baseline_ops_per_s"] == pytest.approx(
        rows["this_1_worker"]["ops_per_s"] / rows["baseline_1_worker"]["ops_per_s"], rel=0.01
    )
    values = [t["value"] for t in report["targets"]]
    assert values[:2] == [trees["ratio_this_over_baseline_ops_per_s"], rate["ratio_router_over_raw_same_start"]]
    assert len(report["targets"]) == 3


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
    assert report["postgresql"] == "not measured: pass --postgres-url"


@pytest.mark.postgres
def test_bench_router_measures_ownership_and_records_on_postgresql(postgres_server: Process) -> None:
    import psycopg

    base = postgres_server.extra["url"]
    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_router")
        conn.execute("CREATE DATABASE bench_router")
    url = base.rsplit("/", 1)[0] + "/bench_router"
    report = _bench(
        "router", "--samples", "200", "--work-samples", "20", "--work-ms", "1", "--shadow-work-ms", "2",
        "--candidate-ms", "5", "--postgres-url", url,
    )  # fmt: skip
    overhead = report["overhead"]
    in_memory = overhead["instant_path_in_memory_ownership"]
    for name in ("instant_path_postgresql_ownership_and_records", "instant_path_postgresql_pool_without_pre_ping"):
        figures = overhead[name]
        _summary_ok(figures["router"], 40, "us")
        added = figures["router"]["p50_us"] - in_memory["router"]["p50_us"]
        assert figures["added_over_in_memory_p50_us"] == pytest.approx(added, abs=0.2)
        # A first attempt's claim: one statement on one checkout, nothing else on the caller's thread.
        sql = figures["caller_sql_per_operation"]
        assert (sql["operations"], sql["statements"], sql["checkouts"]) == (50, 1.0, 1.0), sql
        assert sql["pre_ping_on_checkout"] is (name == "instant_path_postgresql_ownership_and_records")
    target = report["targets"][-1]
    assert target["value"] == overhead["instant_path_postgresql_ownership_and_records"]["added_over_in_memory_p50_us"]
    assert "postgresql" not in report  # measured, so not marked as not measured
    for floor in report["postgresql_floor"].values():
        _summary_ok(floor, 40, "us")


def test_bench_router_refuses_a_postgres_url_that_is_not_one() -> None:
    done = subprocess.run(
        cloudops_argv("bench", "router", "--json", "--postgres-url", "sqlite:///x.db"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert done.returncode != 0 and "give a PostgreSQL one" in done.stderr and "Traceback" not in done.stderr


_EVIDENCE_BASELINE = "f60b18b3f664988c444666cac2df6b7b3552c204"
_READERS = ("report", "evidence", "dashboard")


def _reader_ok(found: dict[str, Any], warm: bool) -> None:
    assert found["seconds"] >= 0 and found["cpu_s"] >= 0 and found["peak_rss_mb"] > 10, found
    assert ("warm_median_seconds" in found) is warm and ("warm_median_cpu_s" in found) is warm


def _evidence_ok(database: dict[str, Any], rows: int, baseline: bool) -> None:
    """Every reader read the whole tiny database (it fits the baseline's row caps), with its figures."""
    assert database["fill_s"] >= 0
    for mode in _READERS:
        _reader_ok(database[mode]["read_model"], warm=mode != "report")
        if baseline:
            _reader_ok(database[mode]["baseline"], warm=mode != "report")
            assert database[mode]["same_digest"] is True, database[mode]
            assert database[mode]["baseline_over_read_model"]["speedup"] is not None
    assert database["report"]["read_model"]["digest"] == {"scopes": 20, "operations": rows, "comparisons": rows // 2}
    assert database["dashboard"]["read_model"]["digest"]["operations"] == rows
    evidence = database["evidence"]["read_model"]["digest"]
    assert evidence["durable"] > 0 and evidence["legacy"] > 0 and evidence["comparisons"] > 0


def _git_has(commit: str) -> bool:
    found = subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], check=False)
    return found.returncode == 0


@pytest.mark.skipif(not _git_has(_EVIDENCE_BASELINE), reason="the baseline commit is not in this checkout")
def test_bench_evidence_times_the_readers_against_the_baseline() -> None:
    report = _bench("evidence", "--rows", "2000", "--scopes", "20", "--repeats", "1", timeout=180)
    assert report["baseline_ref"] == _EVIDENCE_BASELINE
    _evidence_ok(report["databases"]["sqlite"], 2000, baseline=True)
    assert "not measured" in report["databases"]["postgresql"]
    assert [t["target"] for t in report["targets"]] == [
        "sqlite report_s <= 10",
        "sqlite report_peak_rss_mb <= 500",
        "sqlite evidence_s <= 0.2",
        "sqlite dashboard_s <= 1",
    ]


def test_bench_evidence_measures_postgresql_too(postgres_server: Any) -> None:
    import uuid

    import sqlalchemy as sa

    name = f"bench_evidence_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_server.extra["url"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = postgres_server.extra["url"].rsplit("/", 1)[0] + f"/{name}"
    report = _bench("evidence", "--rows", "1000", "--scopes", "20", "--no-baseline", "--postgres-url", url)
    for database in ("sqlite", "postgresql"):
        _evidence_ok(report["databases"][database], 1000, baseline=False)
    # The server is local: its backends' CPU is counted beside the client's (at 1,000 rows it can round to 0: the
    # kernel counts CPU in 10 ms ticks, so only its presence and sign are checked here).
    server_cpu = report["databases"]["postgresql"]["report"]["read_model"]["server_cpu_s"]
    assert isinstance(server_cpu, float | int) and server_cpu >= 0
    assert len(report["targets"]) == 8 and report["targets"][4]["target"] == "postgresql report_s <= 10"
    done = subprocess.run(
        cloudops_argv("bench", "evidence", "--rows", "100", "--no-baseline", "--postgres-url", url),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert done.returncode != 0 and "already holds outcomes" in done.stderr and "Traceback" not in done.stderr
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name}"))
    admin.dispose()


def test_bench_retention_prunes_the_same_rows_in_batches_as_one_delete_does() -> None:
    report = _bench("retention", "--rows", "1000", "--batch-size", "300")
    sqlite = report["databases"]["sqlite"]
    expected = {"operation_owners": 1000, "operation_outcomes": 1000, "shadow_comparisons": 500}
    expected |= {"outcome_rollups": 50, "comparison_rollups": 1}  # the pruned hour's cells: 50 applications, one
    assert sqlite["batched"]["deleted"] == sqlite["baseline_one_delete"]["deleted"] == expected
    # ceil(1000 / 300) outcome batches and ceil(500 / 300) comparison batches, each sweep ending on a short one,
    # then one (short) batch of each rollup table's emptied cells.
    assert sqlite["batched"]["transactions"]["n"] == 4 + 2 + 1 + 1
    _summary_ok(sqlite["batched"]["transactions"], 8)
    assert sqlite["ratios"]["longest_batch_over_one_delete"] > 0
    assert report["databases"]["postgresql"].startswith("not measured")


def test_bench_console_times_every_matrix_page_it_names() -> None:
    report = _bench("console", "--applications", "30", "--repeat", "1", "--no-baseline", timeout=120)
    current, columns = report["current"], 10  # the catalogue's operations; the bench records no other
    assert report["database"]["properties"] == 8 + 3 + 2 and report["database"]["outcomes"] == 150
    assert {name: figures["status"] for name, figures in current.items()} == {name: 200 for name in current}
    assert current["default_page"]["cells"] == 20 * 3 * columns  # 20 applications a page, 3 accounts each
    assert current["page_of_200_applications"]["cells"] == current["api_page_of_200"]["cells"] == 30 * 3 * columns
    assert current["whole_matrix_stage_filter"]["cells"] == 3 * 3 * columns  # the 3 applications with a canary
    assert all(f["median_s"] >= f["min_s"] >= 0 and f["cpu_median_s"] >= 0 for f in current.values())
    assert report["baseline"] == "not measured (--no-baseline)"


@pytest.mark.slow  # three services started: sim cloud, legacy service, gateway
def test_bench_gateway_measures_both_reads_directly_and_through_the_gateway() -> None:
    report = _bench("gateway", "--samples", "30", "--warmup", "3")
    assert report["benchmark"] == "gateway"
    assert set(report["reads"]) == {"credentials", "task_poll"}
    for read in report["reads"].values():
        _summary_ok(read["direct"], 30)
        _summary_ok(read["through_gateway"], 30)
        assert read["added_p50_ms"] == round(read["through_gateway"]["p50_ms"] - read["direct"]["p50_ms"], 3)
    assert [t["target"] for t in report["targets"]] == [
        "added p50 on credentials reads (ms) <= 2.0",
        "added p50 on task_poll reads (ms) <= 2.0",
    ]
    assert report["memory"]["gateway_rss_mb"] > 0


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
