"""`cloudops report` through click's CliRunner, on rows written by the router's own record store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import migrations
from cloudops.cli import cli
from router.compare import Comparison, ComparisonOutcome, FieldDiff, Observation
from router.contract import ErrorKind, OperationError, OperationRequest, OperationResult, Path as RunPath, ResultStatus
from router.records import OutcomeRecord, SqlRecordStore
from router.shadow import ShadowRecord


def run(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    records = SqlRecordStore(engine)
    for i in range(30):
        request = OperationRequest(f"op-{i}", "resizeServerGroup", "resize", "prod", "checkout", "aws", {"capacity": i})
        path = RunPath.DURABLE if i % 2 else RunPath.LEGACY
        failed = i in (3, 4)
        result = OperationResult(
            status=ResultStatus.FAILED if failed else ResultStatus.SUCCEEDED,
            path=path,
            operation_id=request.operation_id,
            errors=(OperationError(ErrorKind.INFRASTRUCTURE, "retries exhausted"),) if failed else (),
        )
        records.write_outcome(OutcomeRecord(request, result, "canary", duration_s=0.5 + i / 100))
        control = Observation(path, ResultStatus.SUCCEEDED, plan={"capacity": i}, duration_s=0.5)
        other = RunPath.LEGACY if path is RunPath.DURABLE else RunPath.DURABLE
        candidate = Observation(other, ResultStatus.SUCCEEDED, plan={"capacity": i + (i == 7)}, duration_s=0.1)
        diffs = (FieldDiff("plan.capacity", i, i + 1),) if i == 7 else ()
        outcome = ComparisonOutcome.MISMATCH if i == 7 else ComparisonOutcome.MATCH
        records.write_comparison(
            ShadowRecord(request, control, candidate, Comparison(outcome, diffs), datetime.now(UTC))
        )
    engine.dispose()
    return url


def test_html_to_a_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("report", "--since", "1h", "--format", "html", "--out", str(out), "--db", db)
    assert f"wrote {out}: 0 flag scopes (0 ready, 0 hold, 0 roll back); 1 breakdown rows" in result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "resizeServerGroup / aws / prod / checkout" in html
    assert "<svg" in html and "<script" not in html


def test_json_and_markdown_to_standard_output(db: str) -> None:
    data = json.loads(run("report", "--since", "30m", "--format", "json", "--db", db).output)
    [scope] = data["scopes"]
    assert scope["paths"]["legacy"]["total"] == 15 and scope["paths"]["durable"]["total"] == 15
    assert scope["paths"]["durable"]["errorKinds"] == {"infrastructure": 1}
    assert scope["shadow"]["counts"]["mismatch"] == 1 and scope["shadow"]["counts"]["match"] == 29
    assert scope["topDiffFields"][0]["path"] == "plan.capacity"
    assert scope["verdict"]["verdict"] == "hold"  # 15 per path is under the default minimum of 20
    relaxed = json.loads(
        run("report", "--format", "json", "--db", db, "--min-samples", "10", "--max-mismatch-rate", "5%").output
    )
    assert relaxed["thresholds"]["min_samples"] == 10 and relaxed["thresholds"]["max_mismatch_rate"] == 0.05
    # 15 operations per path, one failure each: the sequential gates cannot show a 2-point margin, so they hold...
    assert relaxed["scopes"][0]["verdict"]["verdict"] == "hold"
    # ...where the fixed-horizon gates, which pass what they cannot show worse, call it ready.
    fixed = run("report", "--format", "json", "--db", db, "--min-samples", "10", "--max-mismatch-rate", "5%",
                "--gates", "fixed_horizon").output  # fmt: skip
    assert json.loads(fixed)["scopes"][0]["verdict"]["verdict"] == "ready"
    wide = run("report", "--format", "json", "--db", db, "--min-samples", "10", "--max-mismatch-rate", "5%",
               "--failure-margin", "40%").output  # fmt: skip
    assert json.loads(wide)["thresholds"]["failure_margin"] == 0.4
    markdown = run("report", "--format", "md", "--db", db).output
    assert markdown.startswith("# Shadow-run report") and "checkout" in markdown


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--since", "yesterday"], "Invalid value for '--since': 'yesterday' is not a duration", 2),
        (["--format", "pdf"], "'pdf' is not one of", 2),
        (["--max-mismatch-rate", "much"], "give a percent", 2),
        (["--alpha", "2"], "Invalid value for '--alpha'", 2),
        (["--out", "/nonexistent-dir/report.html"], "cannot write /nonexistent-dir/report.html", 1),
    ],
)
def test_bad_input_says_what_to_do(db: str, args: list[str], message: str, code: int) -> None:
    result = run("report", "--db", db, *args, code=code)
    assert message in result.output and "Traceback" not in result.output


def test_an_unmigrated_postgres_style_database_is_refused(tmp_path: Path) -> None:
    result = run("report", "--db", "postgresql://nobody@127.0.0.1:1/none", code=1)
    assert "127.0.0.1" in result.output and "Traceback" not in result.output
