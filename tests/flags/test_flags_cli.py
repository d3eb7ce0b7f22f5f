"""`cloudops flags` through click's CliRunner on a real SQLite file (and PostgreSQL for the schema hint)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from infra import Process

from cloudops.cli import cli
from flags import RedisChangeBus, SqlFlagStore


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(db: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["flags", "--db", db, *args], env={"CLOUDOPS_ACTOR": "tester", **(env or {})})


def ok(db: str, *args: str) -> Any:
    result = run(db, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_issue_examples_end_to_end(db: str) -> None:
    created = ok(
        db,
        "set",
        "cloudops.migration.stage",
        "canary",
        "--percent",
        "10",
        "--application",
        "api",
        "--account",
        "prod",
        "--reason",
        "ramp api/prod",
        "--ticket",
        "CHG-42",
    )
    assert (created["value"], created["percent"], created["scope"], created["updatedBy"], created["ticket"]) == (
        "canary",
        10.0,
        {"application": "api", "account": "prod"},
        "tester",
        "CHG-42",
    )
    ok(db, "set", "cloudops.migration.stage", "shadow", "--reason", "everyone shadows")
    found = ok(
        db,
        "explain",
        "--application",
        "api",
        "--account",
        "prod",
        "--operation",
        "createServerGroup",
        "--provider",
        "aws",
        "--stage-type",
        "deploy",
        "--operation-id",
        "op-1",
    )
    decision = found["decision"]
    assert (decision["value"], decision["propertyId"], decision["percent"]) == ("canary", created["id"], 10.0)
    assert [c["outcome"] for c in found["candidates"]] == ["won", "lost"]
    text = run(db, "explain", "--application", "web")
    assert text.exit_code == 0 and '"shadow"' in text.output and "no_match" in text.output


def test_list_get_history_restore_delete(db: str) -> None:
    first = ok(db, "set", "cloudops.migration.stage", "shadow", "--application", "api", "--reason", "one")
    ok(db, "set", "cloudops.migration.stage", "durable", "--application", "api", "--reason", "two")
    listed = ok(db, "list")
    assert [p["value"] for p in listed["properties"]] == ["durable"] and listed["killSwitches"] == []
    assert ok(db, "get", "cloudops.migration.stage", "--application", "api")["version"] == 2
    assert ok(db, "get", "--id", first["id"])["value"] == "durable"
    history = ok(db, "history", "cloudops.migration.stage")
    assert [(h["action"], h["reason"]) for h in history] == [("update", "two"), ("create", "one")]
    assert history[0]["before"]["value"] == "shadow" and history[0]["after"]["value"] == "durable"
    restored = ok(db, "restore", first["id"], "1", "--reason", "back to shadow")
    assert (restored["value"], restored["version"]) == ("shadow", 3)
    deleted = ok(db, "delete", "cloudops.migration.stage", "--application", "api", "--reason", "cleanup")
    assert deleted["action"] == "delete" and ok(db, "list")["properties"] == []
    human = run(db, "history", "--id", first["id"])
    assert human.exit_code == 0 and "restore" in human.output and "tester" in human.output


def test_kill_switches(db: str) -> None:
    ok(db, "set", "cloudops.migration.stage", "complete", "--reason", "done")
    assert ok(db, "kill-switch", "on", "--reason", "incident 12")["engaged"] is True
    decision = ok(db, "explain", "--application", "api")["decision"]
    assert (decision["value"], decision["killSwitch"]) == ("legacy", True)
    assert run(db, "list").output.count("KILL SWITCH") == 1
    ok(db, "kill-switch", "off", "--reason", "resolved")
    ok(db, "kill-switch", "on", "--key", "cloudops.migration.stage", "--reason", "stage off")
    assert ok(db, "explain", "--application", "api")["decision"]["reasonKind"] == "key_off"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "cloudops.migration.stage", "turbo", "--reason", "x"], "must be one of legacy"),
        (["set", "cloudops.migration.stage", "canary", "--reason", "x"], "needs a percent"),
        (["set", "cloudops.migration.stage", "canary", "--percent", "140", "--reason", "x"], "0<=x<=100"),
        (["set", "cloudops.shadow.sample_percent", "lots", "--reason", "x"], "number from 0 to 100"),
        (["set", "cloudops.durable.retry_window_seconds", "0", "--reason", "x"], "positive integer"),
        (["set", "cloudops.migration.stage", "durable", "--expires", "2001-01-01T00:00Z", "--reason", "x"], "past"),
        (["set", "cloudops.migration.stage", "durable", "--expires", "soon", "--reason", "x"], "duration"),
        (["set", "cloudops.migration.stage", "durable", "--reason", " "], "needs a reason"),
        (["set", "cloudops.migration.stage", "durable"], "Missing option '--reason'"),
        (["set", "cloudops.migration.stage", "durable", "--region", "x", "--reason", "x"], "No such option"),
        (["explain", "--attribute", "novalue"], "NAME=VALUE"),
        (["get"], "give a KEY"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(db: str, args: list[str], message: str) -> None:
    result = run(db, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert ok(db, "history") == []


def test_a_tie_is_refused_naming_the_property(db: str) -> None:
    api = ok(db, "set", "cloudops.migration.stage", "shadow", "--application", "api", "--reason", "x")
    web = ok(db, "set", "cloudops.migration.stage", "durable", "--application", "web", "--reason", "x")
    result = run(
        db, "set", "cloudops.migration.stage", "durable", "--application", "api", "--id", web["id"], "--reason", "move"
    )
    assert result.exit_code == 2 and api["id"] in result.output and "tie" in result.output


def test_values_parse_as_json_unless_asked_not_to(db: str) -> None:
    assert ok(db, "set", "payments.limits", '{"max": 3}', "--reason", "x")["value"] == {"max": 3}
    assert ok(db, "set", "payments.label", "42", "--string", "--reason", "x")["value"] == "42"
    assert ok(db, "set", "cloudops.durable.retry_window_seconds", "900", "--reason", "x")["value"] == 900
    expiring = ok(db, "set", "payments.flag", "true", "--expires", "2h", "--reason", "x")
    assert expiring["value"] is True and expiring["expiresAt"]


def test_the_database_comes_from_the_environment(db: str) -> None:
    result = CliRunner().invoke(
        cli, ["flags", "set", "x.y", "1", "--reason", "env", "--actor", "me"], env={"CLOUDOPS_DATABASE_URL": db}
    )
    assert result.exit_code == 0, result.output
    assert [p.key for p in SqlFlagStore(db).list_properties()] == ["x.y"]


@pytest.mark.postgres
def test_postgres_without_the_schema_says_to_run_db_upgrade(postgres_server: Process) -> None:
    from test_flags_store_contract import fresh_postgres_url

    result = run(fresh_postgres_url(postgres_server), "list")
    assert result.exit_code == 1 and "cloudops db upgrade" in result.output and "Traceback" not in result.output


@pytest.mark.redis
def test_changes_are_pushed_when_redis_is_given(db: str, redis_server: Process) -> None:
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    feed = RedisChangeBus(url).feed()
    try:
        ok(db, "set", "x.y", "1", "--reason", "x")  # creates the schema first
        result = CliRunner().invoke(
            cli,
            ["flags", "--db", db, "--redis", url, "set", "x.y", "2", "--reason", "push"],
            env={"CLOUDOPS_ACTOR": "t"},
        )
        assert result.exit_code == 0, result.output
        assert feed.wait(5) == SqlFlagStore(db).current_version()
    finally:
        feed.close()
