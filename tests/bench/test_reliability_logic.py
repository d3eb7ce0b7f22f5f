"""The reliability benchmark's pure parts: the outage schedule, the orchestrator's ledger (what a restarted
orchestrator resumes from), the rows a run holds, its targets and its table. The bench smoke
(tests/bench/test_bench_smoke.py) runs the whole thing against real services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench._orchestrator import Ledger, LedgerFile, Started
from bench._outage import OutagePhase, outage_phase
from bench._workload import OpRecord
from bench.reliability import rows_for, table, targets
from router.contract import OperationRequest, ResultStatus


def _record(op: str, status: ResultStatus = ResultStatus.SUCCEEDED) -> OpRecord:
    request = OperationRequest(op, "createServerGroup", "createServerGroup", "prod", "api", "aws", {"a": [1]})
    plan = {"mutations": [{"kind": "createServerGroup", "target": "api-main-v000"}]}
    return OpRecord(request, status, "", "", "", plan, {"serverGroupNameByRegion": {"us-east-1": "x"}}, 1.5)


def test_the_outage_schedule_is_up_then_down_in_every_period() -> None:
    assert outage_phase(0.0, 60.0, 20.0) == OutagePhase(False, 40.0)
    assert outage_phase(39.5, 60.0, 20.0) == OutagePhase(False, 0.5)
    assert outage_phase(40.0, 60.0, 20.0) == OutagePhase(True, 20.0)
    assert outage_phase(59.0, 60.0, 20.0) == OutagePhase(True, 1.0)
    assert outage_phase(60.0, 60.0, 20.0) == OutagePhase(False, 40.0)
    assert outage_phase(110.0, 60.0, 20.0) == OutagePhase(True, 10.0)
    assert outage_phase(130.0, 60.0, 20.0) == OutagePhase(False, 30.0)
    assert outage_phase(-5.0, 60.0, 20.0) == OutagePhase(False, 40.0)  # before the start counts as the start


@pytest.mark.parametrize(("every", "down"), [(60.0, 60.0), (60.0, 90.0), (60.0, 0.0)])
def test_an_outage_schedule_without_up_or_down_time_is_refused(every: float, down: float) -> None:
    with pytest.raises(ValueError, match="less than its period"):
        outage_phase(0.0, every, down)


def test_an_op_record_survives_its_json_form() -> None:
    record = _record("op-1", ResultStatus.FAILED)
    assert OpRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_the_ledger_replays_reads_starts_and_outcomes_and_skips_a_line_cut_short() -> None:
    done = _record("op-1")
    lines = [
        json.dumps({"t": "read", "pipeline": "p-0", "groups": ["api-main-v000"]}),
        json.dumps({"t": "start", "op": "op-1", "handle": "legacy:task-1", "at": 10.0}),
        json.dumps({"t": "start", "op": "op-2", "handle": "durable:cloudop-op-2", "at": 11.0}),
        json.dumps(
            {"t": "start", "op": "op-1", "handle": "legacy:task-1", "at": 99.0}
        ),  # a second start: the first counts
        json.dumps({"t": "done", "op": "op-1", "record": done.to_json()}),
        "",
        '{"t": "done", "op": "op-2", "rec',  # the SIGKILL came mid-write
    ]
    ledger = Ledger.replay(lines)
    assert ledger.reads == {"p-0": ("api-main-v000",)}
    assert ledger.started == {"op-1": Started("legacy:task-1", 10.0), "op-2": Started("durable:cloudop-op-2", 11.0)}
    assert ledger.records == {"op-1": done}
    assert not ledger.finished and ledger.unreadable_lines == 1
    assert Ledger.replay([*lines[:5], json.dumps({"t": "finished"})]).finished


def test_the_ledger_file_appends_whole_lines_that_a_restarted_reader_replays(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    assert LedgerFile.read(path) == Ledger()  # no file yet: nothing done
    first = LedgerFile(path)
    first.append({"t": "start", "op": "op-1", "handle": "legacy:t", "at": 1.0})
    first.close()
    second = LedgerFile(path)  # the restarted orchestrator appends to the same file
    second.append({"t": "done", "op": "op-1", "record": _record("op-1").to_json()})
    second.close()
    ledger = LedgerFile.read(path)
    assert set(ledger.started) == set(ledger.records) == {"op-1"}
    assert path.read_text().count("\n") == 2


def test_rows_follow_the_paths_and_the_legacy_store() -> None:
    names = [r.name for r in rows_for(("legacy", "durable"), "both")]
    assert names == ["legacy-memory", "legacy-redis", "durable-sqlite"]
    assert [r.name for r in rows_for(("legacy",), "redis")] == ["legacy-redis"]
    assert [r.name for r in rows_for(("durable",), "both")] == ["durable-sqlite"]


def _row(failed: int, operations: int = 2000) -> dict[str, object]:
    return {
        "operations": operations,
        "failed": failed,
        "failure_upper95_percent": 0.1497,
        "duplicated_mutations": 0,
        "lost_mutations": 0,
        "orphaned_server_groups": 2,
        "zombie_tasks": 1,
        "operation_duration": {"n": operations, "p50_ms": 840.0, "p99_ms": 10_800.0},
    }


def test_targets_judge_the_durable_row_of_a_scenario_only() -> None:
    met = targets("state-kill", {"legacy-redis": _row(50), "durable-sqlite": _row(0)}, 2000)
    assert [t["met"] for t in met] == [True, True, True, True]
    assert met[0]["target"] == "state-kill: durable failed operations <= 0"
    missed = targets("state-kill", {"durable-sqlite": _row(1, operations=1999)}, 2000)
    assert [t["met"] for t in missed] == [False, True, True, False]
    assert targets("state-kill", {"legacy-redis": _row(50)}, 2000) == []


def test_the_table_has_one_line_per_row_with_its_figures() -> None:
    text = table({"executor-kill": {"rows": {"legacy-redis": _row(57), "durable-sqlite": _row(0)}}})
    header, legacy, durable = text.splitlines()
    assert header.split() == ["scenario", "row", "ops", "failed", "95%", "upper", "dup", "lost", "orphaned"] + [
        "zombies",
        "p50",
        "p99",
    ]
    assert legacy.split() == ["executor-kill", "legacy-redis", "2000", "57", "0.150%", "0", "0", "2", "1"] + [
        "0.84s",
        "10.80s",
    ]
    assert durable.split()[:4] == ["executor-kill", "durable-sqlite", "2000", "0"]
