"""The gateway's SQL store on SQLite and PostgreSQL (deduplication, leases, moving a task on), its migration
against its table definitions, and its settings' layers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path as FsPath

import psycopg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from infra import Process

import migrations
from cloudops.cli import cli
from gateway import GatewaySettings, load_gateway_settings
from gateway.model import Entry, OpSpec, OpState, OpView, TaskState
from gateway.store import GatewayStore
from gateway.tables import metadata as gateway_metadata
from router.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server: Process = request.getfixturevalue("postgres_server")
        base = server.extra["url"]
        name = f"gw_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = base.rsplit("/", 1)[0] + "/" + name
    migrations.upgrade(url)
    created = sa.create_engine(url)
    yield created
    created.dispose()


def specs(crid: str, count: int = 2) -> list[OpSpec]:
    return [
        OpSpec(i, f"{crid}-{i}", "resizeServerGroup", "aws", "prod", "app", "resize", "ResizeServerGroup", {"i": i})
        for i in range(count)
    ]


def view(state: OpState) -> OpView:
    return OpView(state, (Entry("ORCHESTRATION", "done"),), ({"k": "v"},))


def test_create_deduplicates_on_the_client_request_id(engine: sa.Engine) -> None:
    store = GatewayStore(engine)
    task, created = store.create("t1", "crid", specs("crid"), provider="aws", execution_id="e", owner_id="a", lease_s=5)
    again, created_again = store.create(
        "t2", "crid", specs("crid"), provider="aws", execution_id=None, owner_id="b", lease_s=5
    )
    assert created and not created_again and again == task
    assert store.get("t2") is None and store.by_request_id("crid") == task
    assert [op.spec for op in task.ops] == specs("crid") and task.state is TaskState.RUNNING
    assert store.running_ids() == ["t1"]


def test_leases_keep_a_task_with_one_process_until_they_lapse(engine: sa.Engine) -> None:
    clock = Clock()
    store = GatewayStore(engine, clock=clock)
    store.create("t1", "crid", specs("crid"), provider=None, execution_id=None, owner_id="a", lease_s=5)
    assert store.claim("b", 5) == [] and store.claim("a", 5) == ["t1"]
    clock.now += 6  # "a" stopped renewing: it crashed
    assert store.claim("b", 5) == ["t1"] and store.claim("a", 5) == []
    assert not store.finish_op("t1", 0, view(OpState.SUCCEEDED), owner_id="a")  # a process without the lease
    store.release("b")
    assert store.claim("a", 5) == ["t1"]


def test_finishing_operations_moves_the_task_on_to_its_end(engine: sa.Engine) -> None:
    store = GatewayStore(engine)
    store.create("t1", "crid", specs("crid", 2), provider=None, execution_id=None, owner_id="a", lease_s=5)
    store.set_handle("t1", 0, "legacy:abc")
    store.mark("t1", 0, OpState.RETRYABLE)
    task = store.get("t1")
    assert task is not None and task.state is TaskState.RETRYABLE and task.ops[0].state is OpState.RETRYABLE
    assert store.running_ids() == []
    store.mark("t1", 0, OpState.RUNNING)
    assert store.finish_op("t1", 0, view(OpState.SUCCEEDED), owner_id="a")
    assert not store.finish_op("t1", 0, view(OpState.SUCCEEDED), owner_id="a")  # already moved on
    first = store.note_attempt("t1", 1)
    assert store.note_attempt("t1", 1) == first  # the first attempt is kept
    assert store.finish_op("t1", 1, view(OpState.SUCCEEDED), owner_id="a")
    task = store.get("t1")
    assert task is not None and task.state is TaskState.SUCCEEDED and task.position == 2 and task.current is None
    assert task.ops[0].view == view(OpState.SUCCEEDED) and task.ops[0].handle == "legacy:abc"
    assert store.claim("a", 5) == []


def test_a_failed_operation_ends_the_task(engine: sa.Engine) -> None:
    store = GatewayStore(engine)
    store.create("t1", "crid", specs("crid", 2), provider=None, execution_id=None, owner_id="a", lease_s=5)
    assert store.finish_op("t1", 0, view(OpState.FAILED), owner_id="a")
    task = store.get("t1")
    assert task is not None and task.state is TaskState.FAILED and task.position == 0
    assert [op.state for op in task.ops] == [OpState.FAILED, OpState.PENDING]


def test_the_migration_matches_the_table_definitions(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    for table in gateway_metadata.sorted_tables:
        migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert set(migrated) == {c.name for c in table.columns}, table.name
        for column in table.columns:
            assert migrated[column.name]["nullable"] == column.nullable, (table.name, column.name)
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)}
        declared = {(c.name,) for c in table.columns if c.unique}
        assert declared <= uniques, table.name


def test_settings_come_in_layers_and_name_what_is_wrong(tmp_path: FsPath) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("router:\n  legacy_url: http://x\ngateway:\n  tick_s: 0.5\n  cloud: sim\n")
    env = {"CLOUDOPS_GATEWAY_TICK_S": "0.25", "CLOUDOPS_GATEWAY_LEASE_S": "3"}
    settings = load_gateway_settings(config, env, {"lease_s": 2.0, "cloud": None})
    assert settings == GatewaySettings(cloud="sim", tick_s=0.25, lease_s=2.0)
    with pytest.raises(ConfigurationError, match="unknown gateway setting 'tick'"):
        load_gateway_settings(None, {}, {"tick": 1})
    with pytest.raises(ConfigurationError, match="'lease_s' from the environment"):
        load_gateway_settings(None, {"CLOUDOPS_GATEWAY_LEASE_S": "soon"})
    with pytest.raises(ConfigurationError, match="greater than 0"):
        load_gateway_settings(None, {}, {"tick_s": 0})
    flat = tmp_path / "flat.yaml"
    flat.write_text("legacy_url: http://x\ngateway:\n  tick_s: 0.5\n")
    with pytest.raises(ConfigurationError, match="under a 'router' section"):
        load_gateway_settings(flat, {})


def test_the_command_says_what_is_wrong_with_its_configuration(tmp_path: FsPath) -> None:
    runner = CliRunner()
    assert "X-Spinnaker-Stage-Type" in runner.invoke(cli, ["gateway", "--help"]).output
    bad = tmp_path / "bad.yaml"
    bad.write_text("router: [\n")
    result = runner.invoke(cli, ["gateway", "--config", str(bad)])
    assert result.exit_code == 1 and "is not valid" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli, ["gateway", "--cloud", "gce://nowhere"])
    assert result.exit_code == 1 and "gateway setting 'cloud'" in result.output
