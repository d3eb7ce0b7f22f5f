"""`cloudops db prune` on SQLite and the real PostgreSQL: per-table counts, a dry run that counts what the real
run deletes, JSON, and one clear line for bad input (exit 2) or a database that is down or not migrated (exit 1).

The rules are Clouddriver's task retention's (spinnaker/clouddriver, clouddriver-sql
`src/main/kotlin/com/netflix/spinnaker/clouddriver/sql/SqlTaskCleanupAgent.kt`: finished only, past a TTL, in
batches), applied to every table cloudops keeps per operation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from infra import free_port
from retention_seed import OLD, YOUNG, comparisons, count, database_url, gateway_task, outcomes, owners

import migrations
from cloudops.cli import cli
from gateway.tables import gateway_tasks
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

EXPECTED = {
    "operation_owners": 1,
    "operation_outcomes": 1,
    "shadow_comparisons": 1,
    "outcome_rollups": 1,
    "comparison_rollups": 1,
    "gateway_operations": 2,
    "gateway_tasks": 1,
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    import sqlalchemy as sa

    found = database_url(request.param, request, tmp_path)
    engine = sa.create_engine(found)
    owners(engine, ["op-old", "op-young", "op-running"])
    outcomes(engine, ["op-old"], OLD)
    outcomes(engine, ["op-young"], YOUNG)
    comparisons(engine, ["op-old"], OLD)
    gateway_task(engine, "done", "succeeded", OLD)
    gateway_task(engine, "running", "running", OLD)
    engine.dispose()
    return found


def _prune(*args: str) -> Result:
    return CliRunner().invoke(cli, ["db", "prune", *args], catch_exceptions=False)


def _rows(url: str) -> tuple[int, ...]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        return tuple(
            count(engine, t) for t in (operation_owners, operation_outcomes, shadow_comparisons, gateway_tasks)
        )
    finally:
        engine.dispose()


def test_a_dry_run_counts_what_the_prune_then_deletes(url: str) -> None:
    dry = _prune("--older-than", "30d", "--db", url, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    counted = json.loads(dry.output)
    assert counted["dryRun"] is True and counted["deleted"] == EXPECTED and counted["olderThanSeconds"] == 30 * 86400
    assert _rows(url) == (3, 2, 1, 2)
    done = _prune("--older-than", "30d", "--db", url, "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["deleted"] == counted["deleted"]
    assert _rows(url) == (2, 1, 0, 1)


def test_the_text_output_names_each_table_and_its_count(url: str) -> None:
    result = _prune("--older-than", "30d", "--db", url, "--batch-size", "1", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "would be deleted (dry run)" in lines[0] and "rows finished before" in lines[0]
    assert {line.split()[0]: int(line.split()[1]) for line in lines[1:]} == EXPECTED
    real = _prune("--older-than", "30d", "--db", url, "--batch-size", "1")
    assert real.exit_code == 0 and " deleted:" in real.output.splitlines()[0]


@pytest.mark.parametrize(
    ("value", "message"), [("0d", "above zero"), ("banana", "not a duration"), ("-5m", "not a duration")]
)
def test_a_bad_age_is_one_line_and_exit_2(value: str, message: str, tmp_path: Path) -> None:
    result = _prune("--older-than", value, "--db", f"sqlite:///{tmp_path / 'never.db'}")
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error:") and "--older-than" in last and message in last
    assert not (tmp_path / "never.db").exists()


def test_a_database_that_is_down_is_one_line_and_exit_1() -> None:
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/cloudops"
    result = _prune("--older-than", "30d", "--db", down)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Connection refused" in lines[0]


def test_a_database_that_is_not_migrated_is_one_line_and_exit_1(tmp_path: Path) -> None:
    behind = f"sqlite:///{tmp_path / 'behind.db'}"
    migrations.upgrade(behind, "0002_router_tables")
    for db, state in ((f"sqlite:///{tmp_path / 'empty.db'}", "base (no tables)"), (behind, "0002_router_tables")):
        result = _prune("--older-than", "30d", "--db", db)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.output
        assert state in lines[0] and "run `cloudops db upgrade` first" in lines[0]
