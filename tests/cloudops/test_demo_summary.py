"""The demo's summary: per-path counts and percentiles from the step records, the waits a worker kill caused,
where each rollout ended and why, the table and the findings (which say only what the numbers support), and the
progress display on a terminal and off one."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

from cloudops.demo.pipelines import PipelineOutcome, PipelineStatus, StepRecord
from cloudops.demo.progress import Progress, Tally, status_line
from cloudops.demo.render import findings, render_text
from cloudops.demo.summary import (
    CloudSummary,
    ConsoleAccess,
    DemoSummary,
    rollout_line,
    summarise_paths,
    waits_after_kills,
)
from cloudops.demo.workload import Step, build_workload
from flags import MigrationStage
from rollouts.model import Phase, Rollout, RolloutPlan, RolloutStatus

_PIPELINE = build_workload(run_id="r", ops=4, seed=1).pipelines[0]


def _record(path: str, duration: float, *, ok: bool = True, code: str = "", at: float = 1000.0) -> StepRecord:
    return StepRecord(
        operation_id=f"op-{path}-{duration}-{code}",
        execution_id=_PIPELINE.execution_id,
        cluster=_PIPELINE.cluster,
        step=Step.CREATE if ok else Step.DESTROY,
        path=path,
        stage="canary",
        succeeded=ok,
        error_kind=None if ok else "business",
        error_code=code,
        error="" if ok else "refused",
        duration_s=duration,
        finished_at=at,
    )


def _records() -> list[StepRecord]:
    legacy = [_record("legacy", float(d)) for d in range(1, 11)]
    legacy.append(_record("legacy", 2.0, ok=False, code="AlreadyExists"))
    durable = [_record("durable", 0.5), _record("durable", 45.0, at=2000.0)]
    return legacy + durable


def test_paths_count_operations_failures_and_latency_percentiles() -> None:
    legacy, durable = summarise_paths(_records())
    assert (legacy.path, legacy.operations, legacy.failed) == ("legacy", 11, 1)
    assert legacy.error_kinds == {"business": 1} and legacy.error_codes == {"AlreadyExists": 1}
    assert legacy.latency_s is not None and legacy.latency_s["p50"] == 5.0
    assert durable.operations == 2 and durable.failed == 0 and durable.by_operation == {"createServerGroup": 2}
    empty_legacy, empty_durable = summarise_paths([])
    assert empty_legacy.operations == 0 and empty_legacy.latency_s is None and empty_durable.failure_rate is None


def test_waits_after_kills_are_slow_durable_operations_running_at_a_kill() -> None:
    records = _records()
    assert [w.duration_s for w in waits_after_kills(records, [1990.0])] == [45.0]
    assert waits_after_kills(records, [2001.0]) == ()  # the kill came after it finished
    assert waits_after_kills(records, [1990.0], min_s=60.0) == ()


def _rollout(status: RolloutStatus, position: int, last: dict[str, object] | None) -> Rollout:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    plan = RolloutPlan({"application": "checkout", "account": "prod"}, steps=(50, 100), min_ops=10)
    target = plan.phases()[position] if position < 3 else Phase(MigrationStage.DURABLE)
    return Rollout(
        "ro-1", plan, status, position, target, True, None, now, now, now, None, "demo", "r", 3, last_result=last
    )


def test_rollout_lines_say_where_each_rollout_ended_and_why() -> None:
    holding = {
        "outcome": "inconclusive",
        "checks": [
            {"name": "failure_rate", "outcome": "pass", "reason": "fine"},
            {"name": "min_ops", "outcome": "inconclusive", "reason": "4 durable operations at this step (need 10)"},
        ],
    }
    line = rollout_line(_rollout(RolloutStatus.RUNNING, 1, holding), moves=1)
    assert (line.stage, line.percent, line.label) == ("canary", 50.0, "canary 50%")
    assert line.why == "4 durable operations at this step (need 10)"
    done = rollout_line(_rollout(RolloutStatus.COMPLETED, 3, {"outcome": "pass", "checks": []}), moves=3)
    assert (done.stage, done.label, done.why) == ("durable", "durable (completed)", "")


def _summary() -> DemoSummary:
    records = _records()
    return DemoSummary(
        run_id="demo-1",
        seed=1,
        fault_rate=0.04,
        elapsed_s=181.0,
        planned_operations=16,
        pipelines={"succeeded": 3, "failed": 1, "stopped": 0},
        paths=summarise_paths(records),
        comparisons={"match": 9, "mismatch": 1},
        fallbacks=0,
        rollouts=(rollout_line(_rollout(RolloutStatus.COMPLETED, 3, None), 3),),
        worker_kills=2,
        cloud=CloudSummary({"throttle": 3, "lost_response": 1}, 40, 1, 1),
        state_dir="/tmp/x",
        report_path="/tmp/x/report.html",
        console=ConsoleAccess("http://127.0.0.1:9999", "demo", "s3cret"),
        killed_waits=waits_after_kills(records, [1990.0]),
        unshadowed=("destroyServerGroup",),
    )


def test_the_table_shows_every_number_of_the_run() -> None:
    summary = _summary()
    text = render_text(summary)
    assert "13 of 16 planned operations in 3m01s" in text and "2 worker kills" in text
    legacy_row = next(line for line in text.splitlines() if line.startswith("legacy "))
    assert legacy_row.split()[:4] == ["legacy", "11", "1", "9.1%"] and "business 1" in legacy_row
    assert "shadow comparisons: 10 (match 9, mismatch 1, ignored 0," in text
    assert "application=checkout,account=prod" in text and "durable (completed)" in text
    assert "report:  /tmp/x/report.html" in text and "user demo, password s3cret" in text
    document = summary.to_json()
    assert document["operations"] == 13 and document["paths"]["legacy"]["failed"] == 1
    assert document["shadowComparisons"]["candidate_timeout"] == 0 and document["killedWaits"][0]["durationS"] == 45


def test_findings_follow_the_numbers() -> None:
    summary = _summary()
    notes = findings(summary)
    assert any("legacy failed 1 of 11 operations (9.1%) and durable 0 of 2" in n for n in notes)
    assert any(n.startswith("1 legacy failures were AlreadyExists or NotFound") for n in notes)
    assert any("applied 1 changes twice" in n for n in notes)
    assert any("1 durable operations were running when the worker was killed" in n for n in notes)
    quiet = DemoSummary(**{**_fields(summary), "paths": summarise_paths(_records()[:10]), "cloud": None})
    quiet_notes = findings(quiet)
    assert not any("AlreadyExists" in n or "twice" in n for n in quiet_notes)


def _fields(summary: DemoSummary) -> dict[str, object]:
    return {name: getattr(summary, name) for name in DemoSummary.__dataclass_fields__}


def test_progress_rewrites_one_line_on_a_terminal_and_prints_lines_elsewhere() -> None:
    tally = Tally(planned=8)
    tally.begin("op-legacy-1.0-")
    for record in _records()[:3]:
        tally.add(record)
    tally.finished([PipelineOutcome(_PIPELINE, PipelineStatus.SUCCEEDED, 4)])
    snap = tally.snapshot()
    assert (snap.done, snap.by_path["legacy"], snap.pipelines["succeeded"], snap.in_flight) == (3, 3, 1, 0)
    line = status_line(snap, Counter({"canary": 2, "durable": 1}), kills=1, elapsed_s=83)
    assert line.startswith("[1:23] 3/8 ops | legacy 3 (0 failed) | durable 0 (0 failed)")
    assert "rollouts: canary 2, durable 1 | worker kills 1" in line

    tty = io.StringIO()
    shown = Progress(tty, tty=True)
    shown.status("first")
    shown.event("rollout moved")
    shown.status("second")
    assert tty.getvalue() == "\r\x1b[Kfirst\r\x1b[Krollout moved\nfirst\r\x1b[Ksecond"

    plain = io.StringIO()
    logged = Progress(plain, tty=False, plain_every_s=3600)
    logged.status("first")
    logged.status("second")  # within plain_every_s: not repeated
    logged.event("rollout moved")
    logged.finish("done")
    assert plain.getvalue() == "first\nrollout moved\ndone\n"
