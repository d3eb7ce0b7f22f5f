"""The legacy monitor's pure state machine, case by case, and the legacy submit's wire shapes.

The rules are Orca's MonitorKatoTask (spinnaker/orca,
`orca-clouddriver/src/main/groovy/com/netflix/spinnaker/orca/clouddriver/tasks/MonitorKatoTask.groovy`, and its
spec `MonitorKatoTaskSpec.groovy` beside it in `src/test`): consecutive 404s up to a limit
(`kato.task.notFoundRetryCount`), reset by a successful read; transient errors keep the task running;
`status.failed` is terminal unless `status.retryable`, when the task is resumed (`POST /task/{id}:resume`; a
404 there is terminal); a completed task without result objects is still running while `kato.result.expected`;
the task's timeout ends it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from router.contract import ErrorKind, OperationRequest, Path, RouteDecision, RunOptions
from router.legacy_monitor import Finished, MonitorSettings, TaskRead, Verdict, Watch, expired, judge, resumed
from router.legacy_wire import (
    DECISION_KEY,
    DRY_RUN_KEY,
    client_request_id,
    context_dry_run_error,
    description,
    outputs_from_results,
    rejection_errors,
)

SETTINGS = MonitorSettings(timeout_s=60.0, not_found_limit=3, resume_backoff_s=120.0)
WATCH = Watch(task_id="t1", operation_id="op-1", expects_result=False, started=0.0, submitted_at=0.0)


def task(*, completed: bool = False, failed: bool = False, retryable: bool = False, **extra: Any) -> dict[str, Any]:
    status = {"phase": "ORCHESTRATION", "status": "s", "completed": completed, "failed": failed, "retryable": retryable}
    return {"status": status, "history": [], "resultObjects": [], **extra}


DEPLOYED = {"serverGroupNames": ["us-east-1:app-main-v001"], "serverGroupNameByRegion": {"us-east-1": "app-main-v001"}}
REJECTED = {
    "type": "EXCEPTION",
    "operation": "ResizeAsgAtomicOperation",
    "message": "no such group",
    "details": [{"additionalAttributes": {"code": "NotFound"}}],
}


def _kind(verdict: Verdict) -> str:
    if verdict.finished is None:
        return "resume" if verdict.resume else "running"
    return "succeeded" if not verdict.finished.errors else verdict.finished.errors[0].kind.value


# (case, watch, read, expected outcome, expected error code or step fragment, expected watch fields)
JUDGE_CASES: list[tuple[str, Watch, TaskRead, str, str, dict[str, Any]]] = [
    ("running task", WATCH, TaskRead(200, task()), "running", "ORCHESTRATION: s", {"not_found": 0}),
    ("first 404 counts", WATCH, TaskRead(404), "running", "task not found (1/3)", {"not_found": 1}),
    ("404 below the limit", replace(WATCH, not_found=1), TaskRead(404), "running", "(2/3)", {"not_found": 2}),
    ("404 at the limit: lost", replace(WATCH, not_found=2), TaskRead(404), "infrastructure", "task_not_found", {}),
    ("a read resets the 404s", replace(WATCH, not_found=2), TaskRead(200, task()), "running", "", {"not_found": 0}),
    ("no answer: unreachable", WATCH, TaskRead(None, error="ConnectError"), "running", "unreachable", {}),
    ("503 keeps it running", WATCH, TaskRead(503, None, "HTTP 503"), "running", "HTTP 503", {"not_found": 0}),
    ("429 keeps it running", replace(WATCH, not_found=1), TaskRead(429), "running", "HTTP 429", {"not_found": 1}),
    ("500 fails it", WATCH, TaskRead(500, {"message": "boom"}, "HTTP 500"), "infrastructure", "http_500", {}),
    ("a body that is no task", WATCH, TaskRead(200, {"nope": 1}), "infrastructure", "http_200", {}),
    ("completed", WATCH, TaskRead(200, task(completed=True, resultObjects=[DEPLOYED])), "succeeded", "", {}),
    ("completed, nothing expected", WATCH, TaskRead(200, task(completed=True)), "succeeded", "", {}),
    (
        "completed without results while expected",
        replace(WATCH, expects_result=True),
        TaskRead(200, task(completed=True)),
        "running",
        "waiting for result objects",
        {},
    ),
    (
        "unknown expectation judged from the history",
        replace(WATCH, expects_result=None),
        TaskRead(200, task(completed=True, history=[{"status": "Processing op: DeployAtomicOperation"}])),
        "running",
        "waiting for result objects",
        {},
    ),
    (
        "failed with a cloud rejection",
        WATCH,
        TaskRead(200, task(completed=True, failed=True, resultObjects=[REJECTED])),
        "business",
        "NotFound",
        {},
    ),
    ("failed without an exception", WATCH, TaskRead(200, task(failed=True)), "infrastructure", "task_failed", {}),
    ("failed retryably: resume", WATCH, TaskRead(200, task(failed=True, retryable=True)), "resume", "", {}),
    (
        "unreachable cleared by a read",
        replace(WATCH, unreachable="HTTP 503", next_delay=120.0),
        TaskRead(200, task()),
        "running",
        "",
        {"unreachable": "", "next_delay": None},
    ),
]


@pytest.mark.parametrize(
    ("case", "watch", "read", "outcome", "detail", "fields"), JUDGE_CASES, ids=[c[0] for c in JUDGE_CASES]
)
def test_judge(case: str, watch: Watch, read: TaskRead, outcome: str, detail: str, fields: dict[str, Any]) -> None:
    verdict = judge(watch, read, SETTINGS)
    assert _kind(verdict) == outcome, verdict
    if verdict.finished is not None and verdict.finished.errors:
        assert verdict.finished.errors[0].code == detail
    else:
        assert detail in verdict.step
    for name, value in fields.items():
        assert getattr(verdict.watch, name) == value, name


def test_judge_is_pure_and_keeps_the_results_of_a_finished_task() -> None:
    read = TaskRead(200, task(completed=True, resultObjects=[DEPLOYED, "junk"]))
    first, second = judge(WATCH, read, SETTINGS), judge(WATCH, read, SETTINGS)
    assert first == second and WATCH.not_found == 0
    assert first.finished == Finished((), (DEPLOYED,))


def test_unreachable_is_remembered_and_becomes_the_timeout_reason() -> None:
    down = judge(WATCH, TaskRead(None, error="ConnectError: refused"), SETTINGS).watch
    assert down.unreachable == "ConnectError: refused"
    assert expired(down, 59.9, SETTINGS) is None
    late = expired(down, 60.0, SETTINGS)
    assert late is not None and late.finished is not None
    assert [(e.kind, e.code) for e in late.finished.errors] == [(ErrorKind.INFRASTRUCTURE, "service_unreachable")]
    plain = expired(WATCH, 61.0, SETTINGS)
    assert plain is not None and plain.finished is not None
    assert [(e.kind, e.code) for e in plain.finished.errors] == [(ErrorKind.TIMEOUT, "timeout")]


RESUME_CASES = [
    ("accepted", TaskRead(200, {"id": "t1"}), "running", 1),
    ("no answer is swallowed", TaskRead(None, error="ReadTimeout"), "running", 1),
    ("refused with a 500 is swallowed", TaskRead(500, {"message": "not retryable"}), "running", 1),
    ("404: cannot be resumed", TaskRead(404, {"message": "Task not found"}), "infrastructure", 0),
]


@pytest.mark.parametrize(("case", "answer", "outcome", "resumes"), RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_resumed(case: str, answer: TaskRead, outcome: str, resumes: int) -> None:
    asked = judge(WATCH, TaskRead(200, task(failed=True, retryable=True)), SETTINGS)
    assert asked.resume
    verdict = resumed(asked, answer, SETTINGS)
    assert _kind(verdict) == outcome
    assert verdict.watch.resumes == resumes
    if outcome == "running":
        assert verdict.watch.next_delay == SETTINGS.resume_backoff_s and "resumed, retry 1" in verdict.step
    else:
        assert verdict.finished is not None and verdict.finished.errors[0].code == "resume_not_found"


def _request(**context: Any) -> OperationRequest:
    return OperationRequest("op-1", "resizeServerGroup", "resize", "prod", "app", "aws", {"region": "r", **context})


def test_the_description_carries_the_options_as_the_legacy_service_reads_them() -> None:
    decision = RouteDecision("shadow", Path.LEGACY, "stage shadow", "p-1", 3)
    plain = description(_request(), RunOptions())
    assert plain == {"region": "r", "credentials": "prod", "cloudProvider": "aws"}
    routed = description(_request(), RunOptions(dry_run=True, decision=decision, retry_window_seconds=60))
    assert routed[DRY_RUN_KEY] is True and routed[DECISION_KEY] == decision.to_json()
    assert DRY_RUN_KEY == "dryRun" and DECISION_KEY == "cloudops.decision"  # the wire names, unchanged
    assert client_request_id("op-1", dry_run=True) != client_request_id("op-1")


def test_a_dry_run_only_in_the_context_is_refused() -> None:
    error = context_dry_run_error(_request(dryRun=True), RunOptions())
    assert error is not None and (error.kind, error.field) == (ErrorKind.VALIDATION, "dryRun")
    assert context_dry_run_error(_request(dryRun=True), RunOptions(dry_run=True)) is None
    assert context_dry_run_error(_request(dryRun=False), RunOptions()) is None


def test_rejections_and_outputs() -> None:
    body = {"fieldErrors": [{"path": "[0].resizeServerGroup.capacity.min", "message": "bad", "code": "type"}]}
    (error,) = rejection_errors("resizeServerGroup", 400, body)
    assert (error.kind, error.field, error.code) == (ErrorKind.VALIDATION, "capacity.min", "type")
    (fallback,) = rejection_errors("resizeServerGroup", 422, None)
    assert fallback.code == "http_422"
    outputs = outputs_from_results([DEPLOYED, {"type": "cloudops.plan", "plan": {}}])
    assert outputs["deploy.server.groups"] == {"us-east-1": ["app-main-v001"]} and "plan" not in outputs
