"""Retention of the router's tables on SQLite and the real PostgreSQL: old rows go, young ones and the owners of
operations still running stay, a backlog goes in bounded batches, and the background pass runs (or not, `off`).

Modelled on Clouddriver's task retention: clouddriver-sql `sql/SqlTaskCleanupAgent.kt` (finished tasks past
`sql.agent.task-cleanup.completed-ttl-ms`, dependents first, `batch-size` rows per transaction; settings in
`config/SqlTaskCleanupAgentProperties.kt`) and clouddriver-core `data/task/jedis/RedisTaskRepository.java`
(a 12-hour TTL on every task key).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path as FsPath
from typing import Any

import pytest
import sqlalchemy as sa
from infra import free_port, wait_until
from retention_seed import NOW, OLD, YOUNG, column, comparisons, count, engine_for, outcomes, owners

from router.config import load_config
from router.errors import ConfigurationError, RetentionUnavailable
from router.metrics import RouterMetrics
from router.retention import router_rules
from router.retention_loop import RetentionLoop
from router.retention_sql import prune
from router.retention_values import PruneReport, RetentionPolicy, parse_retention
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

THIRTY_DAYS = RetentionPolicy(30 * 86400)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Iterator[sa.Engine]:
    yield from engine_for(request.param, request, tmp_path)


def _seed(engine: sa.Engine) -> None:
    """op-old finished 40 days ago; op-young a day ago; op-running has an owner and no outcome (claimed 40 days
    ago: it may be running, or its starter died); op-again finished 40 days ago and, re-run, a day ago."""
    owners(engine, ["op-old", "op-young", "op-running", "op-again"])
    outcomes(engine, ["op-old", "op-again"], OLD)
    outcomes(engine, ["op-young", "op-again"], YOUNG)
    comparisons(engine, ["op-old"], OLD)
    comparisons(engine, ["op-young"], YOUNG)


def test_old_rows_and_the_owners_of_finished_operations_go_young_ones_and_running_owners_stay(
    engine: sa.Engine,
) -> None:
    _seed(engine)
    report = prune(engine, THIRTY_DAYS, router_rules(), now=NOW)
    assert report.deleted == {
        "operation_owners": 1,
        "operation_outcomes": 2,
        "shadow_comparisons": 1,
        "outcome_rollups": 1,
        "comparison_rollups": 1,
    }
    assert not report.dry_run and report.cutoff == NOW - timedelta(days=30)
    assert column(engine, operation_owners, "operation_id") == {"op-young", "op-running", "op-again"}
    assert column(engine, operation_outcomes, "operation_id") == {"op-young", "op-again"}
    assert column(engine, shadow_comparisons, "operation_id") == {"op-young"}
    # Once op-again's newest outcome is old too, its owner goes with it; op-running's never does.
    later = prune(engine, THIRTY_DAYS, router_rules(), now=NOW + timedelta(days=30))
    assert later.deleted == {
        "operation_owners": 2,
        "operation_outcomes": 2,
        "shadow_comparisons": 1,
        "outcome_rollups": 1,
        "comparison_rollups": 1,
    }
    assert column(engine, operation_owners, "operation_id") == {"op-running"}


def test_a_dry_run_counts_exactly_what_the_prune_then_deletes_and_deletes_nothing(engine: sa.Engine) -> None:
    _seed(engine)
    counted = prune(engine, THIRTY_DAYS, router_rules(), now=NOW, dry_run=True)
    assert counted.dry_run and (count(engine, operation_owners), count(engine, operation_outcomes)) == (4, 4)
    assert prune(engine, THIRTY_DAYS, router_rules(), now=NOW).deleted == counted.deleted
    assert prune(engine, THIRTY_DAYS, router_rules(), now=NOW, dry_run=True).total == 0


def _deletes(engine: sa.Engine) -> list[tuple[str, int]]:
    """(table, rows) of every DELETE statement run on `engine` from now on, in order."""
    statements: list[tuple[str, int]] = []

    @sa.event.listens_for(engine, "after_cursor_execute")
    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM"):
            statements.append((statement.split()[2], cursor.rowcount))

    return statements


def test_a_backlog_larger_than_a_batch_goes_in_bounded_batches_owners_before_their_outcomes(
    engine: sa.Engine,
) -> None:
    ids = [f"op-{i}" for i in range(12_000)]
    owners(engine, ids)
    outcomes(engine, ids, OLD)
    comparisons(engine, ids[:7], OLD)
    deletes = _deletes(engine)
    report = prune(engine, RetentionPolicy(30 * 86400, batch_size=5000), router_rules(), now=NOW)
    expected = {"operation_owners": 12_000, "operation_outcomes": 12_000, "shadow_comparisons": 7}
    assert report.deleted == expected | {"outcome_rollups": 1, "comparison_rollups": 1}
    assert count(engine, operation_owners) == count(engine, operation_outcomes) == 0
    # 5,000 + 5,000 + 2,000, each batch's owners before its outcomes, every statement its own bounded step.
    assert deletes == [
        ("operation_owners", 5000),
        ("operation_outcomes", 5000),
        ("operation_owners", 5000),
        ("operation_outcomes", 5000),
        ("operation_owners", 2000),
        ("operation_outcomes", 2000),
        ("shadow_comparisons", 7),
        ("outcome_rollups", 1),  # the old hour's cells, emptied by the deletes' triggers, go last
        ("comparison_rollups", 1),
    ]


def test_a_prune_asked_to_stop_stops_after_the_batch_in_progress(engine: sa.Engine) -> None:
    outcomes(engine, [f"op-{i}" for i in range(10)], OLD)
    asked: list[int] = []

    def keep_going() -> bool:
        asked.append(1)
        return len(asked) == 1  # yes before the first batch, no after it

    report = prune(engine, RetentionPolicy(86400, batch_size=4), router_rules()[:1], now=NOW, keep_going=keep_going)
    assert report.deleted["operation_outcomes"] == 4 and count(engine, operation_outcomes) == 6


def test_a_database_that_is_down_or_not_migrated_is_one_clear_error(tmp_path: FsPath) -> None:
    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(RetentionUnavailable, match=r"cannot prune postgresql\+psycopg://postgres@127.0.0.1.*reachable"):
        prune(down, THIRTY_DAYS, router_rules())
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(RetentionUnavailable, match=r"no such table.*cloudops db upgrade") as raised:
        prune(empty, THIRTY_DAYS, router_rules(), dry_run=True)
    assert "\n" not in raised.value.message
    down.dispose()
    empty.dispose()


def test_the_background_pass_prunes_counts_and_stops_when_closed(engine: sa.Engine) -> None:
    owners(engine, ["op-old", "op-running"])
    outcomes(engine, ["op-old"], OLD)
    metrics = RouterMetrics()
    loop = RetentionLoop(
        lambda keep_going: prune(engine, THIRTY_DAYS, router_rules(), keep_going=keep_going), metrics, interval_s=0.05
    )
    try:
        wait_until(lambda: loop.passes >= 2, timeout=10, what="two retention passes")
    finally:
        loop.close()
    assert column(engine, operation_owners, "operation_id") == {"op-running"}
    assert metrics.value("cloudops_router_retention_deleted_total", {"table": "operation_outcomes"}) == 1
    assert metrics.value("cloudops_router_retention_deleted_total", {"table": "operation_owners"}) == 1
    passes = loop.passes
    outcomes(engine, ["op-late"], OLD)
    assert not loop._thread.is_alive() and loop.passes == passes and count(engine, operation_outcomes) == 1


def test_a_failed_pass_is_logged_and_counted_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    metrics = RouterMetrics()
    loop = RetentionLoop(lambda keep_going: prune(down, THIRTY_DAYS, router_rules()), metrics, interval_s=3600)
    try:
        assert loop.run_once() is None and loop.run_once() is None
    finally:
        loop.close()
        down.dispose()
    assert loop.failures == 2 and loop.passes == 0
    assert metrics.value("cloudops_router_internal_errors_total", {"where": "retention"}) == 2
    assert "retention pass failed" in caplog.text and "cannot prune" in caplog.text


def _built(tmp_path: FsPath, retention: str) -> tuple[Any, sa.Engine]:
    from router.factory import build_routing_runner

    url = f"sqlite:///{tmp_path / f'{retention}.db'}"
    env = {"CLOUDOPS_DATABASE_URL": url, "CLOUDOPS_RETENTION": retention}
    runner = build_routing_runner(load_config(environ=env), retention_interval_s=0.05)  # migrates the SQLite file
    engine = sa.create_engine(url)
    outcomes(engine, ["op-old"], OLD)
    return runner, engine


def test_a_built_router_prunes_its_tables_on_its_own(tmp_path: FsPath) -> None:
    runner, engine = _built(tmp_path, "30d")
    try:
        deleted = {"table": "operation_outcomes"}
        metric = "cloudops_router_retention_deleted_total"
        wait_until(lambda: runner.metrics.value(metric, deleted) == 1, timeout=10, what="the router's own prune")
        assert count(engine, operation_outcomes) == 0
    finally:
        runner.close()
        engine.dispose()


def test_a_built_router_with_retention_off_prunes_nothing(tmp_path: FsPath) -> None:
    runner, engine = _built(tmp_path, "off")
    try:
        # Ten intervals: a loop would have pruned by now (the test above sees it within one or two).
        time.sleep(0.5)
        assert not [t for t in threading.enumerate() if t.name == "cloudops-retention"]
        assert count(engine, operation_outcomes) == 1
        assert runner.metrics.value("cloudops_router_retention_deleted_total", {"table": "operation_outcomes"}) == 0
    finally:
        runner.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("raw", "seconds"), [("30d", 30 * 86400.0), (" 12h ", 43200.0), ("90m", 5400.0), ("off", None), (False, None)]
)
def test_a_retention_is_a_duration_or_off(raw: Any, seconds: float | None) -> None:
    assert parse_retention(raw) == seconds


@pytest.mark.parametrize("raw", ["0d", "banana", "30", "-1d", "", True, 30, "99999999d"])
def test_a_bad_retention_names_the_setting_and_its_source(raw: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"setting 'retention' from \$CLOUDOPS_RETENTION is .*or off"):
        parse_retention(raw, origin="$CLOUDOPS_RETENTION")


def test_the_retention_setting_comes_from_a_file_or_the_environment(tmp_path: FsPath) -> None:
    assert load_config(environ={}).retention_s == 30 * 86400
    assert load_config(environ={"CLOUDOPS_RETENTION": "12h"}).retention_s == 43200
    config_file = tmp_path / "router.yaml"
    config_file.write_text("router:\n  retention: off\n")  # YAML reads a bare off as false
    assert load_config(config_file, {}).retention == "off" and load_config(config_file, {}).retention_s is None
    with pytest.raises(ConfigurationError, match=r"setting 'retention' from \$CLOUDOPS_RETENTION is '0d'"):
        load_config(environ={"CLOUDOPS_RETENTION": "0d"})
    config_file.write_text("router:\n  retention: 30\n")
    with pytest.raises(ConfigurationError, match=rf"setting 'retention' from {config_file} is 30"):
        load_config(config_file, {})


@pytest.mark.parametrize(("max_age_s", "batch_size"), [(0, 10), (float("nan"), 10), (-5, 10), (60, 0), (60, True)])
def test_a_policy_refuses_what_would_prune_everything_or_nothing(max_age_s: float, batch_size: int) -> None:
    with pytest.raises(ConfigurationError):
        RetentionPolicy(max_age_s, batch_size)


def test_a_report_says_what_went_as_json() -> None:
    report = PruneReport(NOW, True, {"operation_outcomes": 3})
    assert report.to_json() == {"cutoff": NOW.isoformat(), "dryRun": True, "deleted": {"operation_outcomes": 3}}
    assert report.total == 3
