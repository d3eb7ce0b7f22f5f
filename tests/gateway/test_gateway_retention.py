"""Retention of the gateway's tables on SQLite and the real PostgreSQL: finished tasks older than the cutoff go
with their operations; running and retryable tasks, however old, and young finished ones stay; the gateway's
`retention` setting (or `off`) and its background pass.

As Clouddriver's `SqlTaskCleanupAgent` (spinnaker/clouddriver, clouddriver-sql
`src/main/kotlin/com/netflix/spinnaker/clouddriver/sql/SqlTaskCleanupAgent.kt`) selects only tasks in the
COMPLETED and FAILED states past its TTL, and deletes their dependent rows before the task rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path as FsPath

import pytest
import sqlalchemy as sa
from infra import wait_until
from retention_seed import NOW, OLD, YOUNG, column, count, engine_for, gateway_task, outcomes, owners

from gateway import GatewaySettings, build_gateway, load_gateway_settings
from gateway.retention import FINISHED_STATES, gateway_retention_loop, gateway_rules
from gateway.tables import gateway_operations, gateway_tasks
from router.config import load_config
from router.errors import ConfigurationError
from router.metrics import RouterMetrics
from router.retention_sql import prune
from router.retention_values import RetentionPolicy
from router.tables import operation_owners

THIRTY_DAYS = RetentionPolicy(30 * 86400)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Iterator[sa.Engine]:
    yield from engine_for(request.param, request, tmp_path)


def _seed(engine: sa.Engine) -> None:
    gateway_task(engine, "old-succeeded", "succeeded", OLD)
    gateway_task(engine, "old-failed", "failed", OLD, ops=1)
    gateway_task(engine, "old-running", "running", OLD)
    gateway_task(engine, "old-retryable", "retryable", OLD)
    gateway_task(engine, "young-succeeded", "succeeded", YOUNG)


def test_the_finished_states_are_the_final_ones() -> None:
    assert set(FINISHED_STATES) == {"succeeded", "failed"}


def test_old_finished_tasks_go_with_their_operations_running_and_retryable_ones_stay(engine: sa.Engine) -> None:
    _seed(engine)
    counted = prune(engine, THIRTY_DAYS, gateway_rules(), now=NOW, dry_run=True)
    report = prune(engine, THIRTY_DAYS, gateway_rules(), now=NOW)
    assert report.deleted == counted.deleted == {"gateway_operations": 3, "gateway_tasks": 2}
    assert column(engine, gateway_tasks, "id") == {"old-running", "old-retryable", "young-succeeded"}
    assert column(engine, gateway_operations, "task_id") == {"old-running", "old-retryable", "young-succeeded"}


def test_a_backlog_larger_than_a_batch_goes_in_batches(engine: sa.Engine) -> None:
    for i in range(25):
        gateway_task(engine, f"t{i:02d}", "succeeded", OLD, ops=1)
    gateway_task(engine, "running", "running", OLD)
    report = prune(engine, RetentionPolicy(86400, batch_size=10), gateway_rules(), now=NOW)
    assert report.deleted == {"gateway_operations": 25, "gateway_tasks": 25}
    assert column(engine, gateway_tasks, "id") == {"running"} and count(engine, gateway_operations) == 2


def test_the_gateway_prunes_its_tables_on_its_own_until_closed(engine: sa.Engine) -> None:
    _seed(engine)
    metrics = RouterMetrics()
    loop = gateway_retention_loop(engine, GatewaySettings().retention_s, metrics, interval_s=0.05)
    assert loop is not None
    try:
        wait_until(lambda: loop.passes >= 1, timeout=10, what="the gateway's retention pass")
    finally:
        loop.close()
    assert count(engine, gateway_tasks) == 3
    assert metrics.value("cloudops_router_retention_deleted_total", {"table": "gateway_tasks"}) == 2


def test_retention_off_starts_no_pass() -> None:
    settings = load_gateway_settings(environ={"CLOUDOPS_GATEWAY_RETENTION": "off"})
    assert settings.retention == "off" and settings.retention_s is None
    assert gateway_retention_loop(sa.create_engine("sqlite://"), settings.retention_s, RouterMetrics()) is None


def test_the_gateway_retention_setting_comes_from_its_section_or_its_variables(tmp_path: FsPath) -> None:
    assert GatewaySettings().retention_s == 30 * 86400
    config_file = tmp_path / "gateway.yaml"
    config_file.write_text("router: {}\ngateway:\n  retention: 12h\n")
    assert load_gateway_settings(config_file, environ={}).retention_s == 43200
    config_file.write_text("router: {}\ngateway:\n  retention: off\n")
    assert load_gateway_settings(config_file, environ={}).retention_s is None
    for bad in ("0d", "soon", "7"):
        with pytest.raises(ConfigurationError, match=r"gateway setting 'retention' from the environment is .*or off"):
            load_gateway_settings(environ={"CLOUDOPS_GATEWAY_RETENTION": bad})
    with pytest.raises(ConfigurationError, match="gateway setting 'retention'"):
        GatewaySettings(retention="forever")


def test_a_built_gateway_prunes_its_tables_and_its_router_prunes_the_router_s(tmp_path: FsPath) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    config = load_config(environ={"CLOUDOPS_DATABASE_URL": url})
    gateway = build_gateway(config, GatewaySettings(cloud="sim"), retention_interval_s=0.05)  # migrates the file
    engine = sa.create_engine(url)
    try:
        _seed(engine)
        owners(engine, ["op-old", "op-running"])
        outcomes(engine, ["op-old"], OLD)
        wait_until(
            lambda: (
                count(engine, gateway_tasks) == 3 and column(engine, operation_owners, "operation_id") == {"op-running"}
            ),
            timeout=10,
            what="both retention passes",
        )
    finally:
        gateway.close()
        engine.dispose()
