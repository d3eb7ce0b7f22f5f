"""`cloudops rollout` through click's CliRunner on a SQLite file: the whole lifecycle, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from cloudops.cli import cli
from flags import STAGE_KEY, SqlFlagStore
from router.tables import shadow_comparisons

DIMS = {
    "application": "api",
    "account": "prod",
    "operation": "createServerGroup",
    "stage_type": "deploy",
    "provider": "aws",
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def data(*args: str) -> Any:
    return json.loads(run(*args, "--json").output)


def add_comparisons(url: str, outcome: str, n: int, application: str = "api") -> None:
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    rows = [
        {
            "operation_id": f"{application}-{outcome}-{i}-{now.timestamp()}",
            **DIMS,
            "application": application,
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": outcome,
            "diffs": [],
            "control": {},
            "candidate": {},
            "control_duration_s": 1.0,
            "candidate_duration_s": 0.2,
            "compared_at": now,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(shadow_comparisons.insert(), rows)
    engine.dispose()


def stage(url: str, scope: dict[str, str]) -> tuple[Any, float | None]:
    store = SqlFlagStore(url)
    try:
        prop = store.find_property(STAGE_KEY, scope)
        assert prop is not None
        return prop.value, prop.percent
    finally:
        store.close()


def test_rollout_lifecycle_from_the_command_line(db: str) -> None:
    started = data(
        "rollout", "start", "--db", db, "--scope", "application=api,account=prod", "--steps", "10,50",
        "--min-ops", "20", "--min-duration", "0s", "--max-mismatch-rate", "2%", "--actor", "alice",
        "--reason", "move api/prod",
    )  # fmt: skip
    rid = started["id"]
    assert started["status"] == "running" and started["target"] == {"stage": "shadow", "percent": None}
    assert started["thresholds"]["max_mismatch_rate"] == 0.02 and started["minDurationS"] == 0
    assert stage(db, {"application": "api", "account": "prod"}) == ("shadow", None)
    assert [r["id"] for r in data("rollout", "list", "--db", db, "--status", "running")] == [rid]

    [held] = data("rollout", "tick", rid, "--db", db)
    assert held["action"] == "held" and "too few comparisons" in json.dumps(held["gate"])
    add_comparisons(db, "match", 25)
    add_comparisons(db, "mismatch", 25, application="web")  # another scope: not this rollout's evidence
    [moved] = data("rollout", "tick", "--db", db)  # no id: every running rollout
    assert moved["action"] == "advanced" and moved["rollout"]["target"] == {"stage": "canary", "percent": 10.0}
    assert stage(db, {"application": "api", "account": "prod"}) == ("canary", 10.0)

    paused = data("rollout", "pause", rid, "--db", db, "--reason", "incident 7", "--actor", "bob")
    assert paused["status"] == "paused"
    assert data("rollout", "resume", rid, "--db", db, "--actor", "bob")["status"] == "running"
    aborted = data("rollout", "abort", rid, "--db", db, "--reason", "stop", "--actor", "carol")
    assert aborted["status"] == "aborted" and aborted["target"] == {"stage": "legacy", "percent": None}
    assert stage(db, {"application": "api", "account": "prod"}) == ("legacy", None)

    status = run("rollout", "status", rid, "--db", db).output
    assert f"{rid}  aborted" in status and "timeline:" in status
    for line in ("started", "advanced", "paused", "resumed", "aborted"):
        assert f"  {line} " in status or f" {line}  " in status, line
    assert "carol: aborted by carol, back to legacy: stop" in status
    timeline = data("rollout", "status", rid, "--db", db)["timeline"]
    assert [e["kind"] for e in timeline] == ["started", "held", "advanced", "paused", "resumed", "aborted"]

    denied = run("rollout", "resume", rid, "--db", db, code=1)
    assert "cannot resume" in denied.output and "it is aborted" in denied.output


def test_watch_ticks_until_the_rollout_ends(db: str) -> None:
    rid = data("rollout", "start", "--db", db, "--scope", "application=web", "--min-ops", "1", "--min-duration", "0s")[
        "id"
    ]
    add_comparisons(db, "mismatch", 30, application="web")
    output = run("rollout", "watch", rid, "--db", db, "--interval", "0.01s", "--json").output
    ticks = [json.loads(line) for line in output.splitlines()]
    assert ticks[-1]["action"] == "rolled_back" and ticks[-1]["rollout"]["status"] == "rolled_back"
    assert stage(db, {"application": "web"}) == ("legacy", None)
    text = run("rollout", "watch", rid, "--db", db, "--interval", "1s").output
    assert f"{rid}: idle" in text  # an ended rollout: one look, then the watch stops


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "--scope", "app=api"], "unknown dimension 'app'"),
        (["start", "--scope", "application"], "write dimension=value"),
        (["start", "--scope", "application=api", "--min-duration", "10minutes"], "Invalid value for '--min-duration'"),
        (["start", "--scope", "application=api", "--steps", "50,10"], "steps must rise strictly"),
        (["start", "--scope", "application=api", "--max-mismatch-rate", "lots"], "give a percent"),
        (["start", "--scope", "application=api", "--alpha", "0.9"], "Invalid value for '--alpha'"),
        (["start", "--scope", "application=api", "--min-ops", "-5"], "Invalid value for '--min-ops'"),
        (["watch", "ro-x", "--interval", "soon"], "Invalid value for '--interval'"),
        (["start", "--scope", "application=api", "--gates", "bayes"], "Invalid value for '--gates'"),
        (["start", "--scope", "application=api", "--failure-margin", "lots"], "give a percent"),
        (["start", "--scope", "application=api", "--failure-margin", "0%"], "failure_margin must be above 0"),
        (["start", "--scope", "application=api", "--rollback-alpha", "0.5"], "Invalid value for '--rollback-alpha'"),
        (["start", "--scope", "application=api", "--promotion-alpha", "x"], "Invalid value for '--promotion-alpha'"),
    ],
)
def test_bad_input_is_a_clear_usage_error(db: str, args: list[str], message: str) -> None:
    result = run("rollout", *args, "--db", db, code=2)
    assert message in result.output and "Traceback" not in result.output


def test_unknown_rollouts_and_conflicts(db: str) -> None:
    for command in (["status", "ro-nope"], ["tick", "ro-nope"], ["pause", "ro-nope", "--reason", "x"]):
        result = run("rollout", *command, "--db", db, code=1)
        assert "no rollout 'ro-nope'" in result.output and "cloudops rollout list" in result.output
    first = data("rollout", "start", "--db", db, "--scope", "application=api")["id"]
    clash = run("rollout", "start", "--db", db, "--scope", "application=api", code=1)
    assert first in clash.output and "abort it first" in clash.output
    assert run("rollout", "list", "--db", db, "--status", "completed").output.strip() == "no rollouts"
    missing_reason = run("rollout", "abort", first, "--db", db, code=2)
    assert "--reason" in missing_reason.output


def test_an_unusable_database_is_reported_plainly(tmp_path: Path) -> None:
    result = run("rollout", "list", "--db", "nosuchdriver://x/y", code=1)
    assert "invalid database URL" in result.output or "cannot use" in result.output
    assert "Traceback" not in result.output


def test_start_takes_the_sequential_gates_options(db: str) -> None:
    started = data(
        "rollout", "start", "--db", db, "--scope", "application=api", "--failure-margin", "1%",
        "--promotion-alpha", "0.1", "--rollback-alpha", "0.01",
    )  # fmt: skip
    assert started["thresholds"]["family"] == "sequential"
    assert started["thresholds"]["failure_margin"] == 0.01
    assert (started["thresholds"]["promotion_alpha"], started["thresholds"]["rollback_alpha"]) == (0.1, 0.01)
    fixed = data("rollout", "start", "--db", db, "--scope", "application=web", "--gates", "fixed_horizon")
    assert fixed["thresholds"]["family"] == "fixed_horizon" and fixed["thresholds"]["failure_margin"] == 0.02
    stored = data("rollout", "status", started["id"], "--db", db)
    assert stored["thresholds"] == started["thresholds"]
