"""The gateway's HTTP contract in-process (Flask's test client): shapes, status codes, deduplication, validation,
routing per operation, ordering with prior results, failure, resume and restart.

The two paths are `router.testing.ScriptedRunner` fakes under a real RoutingRunner (these tests are about the
gateway's own logic, not how a path behaves); the legacy tasks and workflow progress the gateway reads are small
in-test fakes; the database is a real SQLite file at the newest schema. The real services are exercised in
test_gateway_e2e.py.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings, strategies as st

import migrations
from cloud.sim import SimCloud
from clouddriver_wire.errors import TaskNotFound, TaskNotRetryable
from durable_runner.contract import Progress, RunState
from flags import FlagTestData
from gateway import PRIOR_RESULTS_KEY, Gateway, GatewaySettings, create_app, operation_id_for
from gateway.sources import CachedAccounts, LegacyRead
from gateway.store import GatewayStore
from legacy_clouddriver import create_app as legacy_app
from router.contract import (
    ErrorKind,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
)
from router.errors import RunnerUnavailable
from router.metrics import RouterMetrics
from router.ownership import SqlOwnership
from router.records import OutcomeRecord
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings
from router.testing import ScriptedRunner

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
PLAN = {"operation": "x", "mutations": [], "compensateOnFailure": False, "facts": {}}


def script(request: OperationRequest, path: Path) -> OperationResult:
    """Creates name `<app>-main-v000`; an operation whose context says `failWith` fails with that code."""
    plan = {**PLAN, "operation": request.operation}
    if request.context.get("failWith"):
        error = OperationError(ErrorKind.BUSINESS, "the cloud said no", str(request.context["failWith"]))
        return OperationResult(ResultStatus.FAILED, path, request.operation_id, errors=(error,), plan=plan)
    outputs: dict[str, Any] = {}
    if request.operation == "createServerGroup":
        name = f"{request.application}-main-v000"
        outputs = {"serverGroupNames": [f"us-east-1:{name}"], "serverGroupNameByRegion": {"us-east-1": name}}
    return OperationResult(ResultStatus.SUCCEEDED, path, request.operation_id, outputs=outputs, plan=plan)


class HeldRunner(ScriptedRunner):
    """A ScriptedRunner whose operations stay running until released (to see a task in the middle)."""

    held: bool = False

    def poll(self, handle: OperationHandle) -> OperationStatus:
        if self.held:
            super().poll(handle)  # unknown handles still raise UnknownHandle
            return OperationStatus(handle, OperationState.RUNNING, step="held")
        return super().poll(handle)


@dataclass
class FakeLegacyTasks:
    """Legacy tasks by id: unknown ids read as 404 (the gateway then builds the view from the runner's result)."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumed: list[str] = field(default_factory=list)

    def read(self, task_id: str) -> LegacyRead:
        found = self.tasks.get(task_id)
        return LegacyRead(task=found) if found else LegacyRead(not_found=True, error=f"{task_id} not found")

    def resume(self, task_id: str) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        if not task["status"]["retryable"]:
            raise TaskNotRetryable(task_id)
        self.resumed.append(task_id)
        self.tasks[task_id] = legacy_task(task_id, "completed")


@dataclass
class FakeProgress:
    progress_by_id: dict[str, Progress] = field(default_factory=dict)

    def progress(self, workflow_id: str) -> Progress | None:
        return self.progress_by_id.get(workflow_id)


def legacy_task(task_id: str, state: str) -> dict[str, Any]:
    """A legacy service's task JSON for one resize: running, retryable (failed), or completed."""
    history = [
        {"phase": "ORCHESTRATION", "status": "Initializing Orchestration Task"},
        {"phase": "ORCHESTRATION", "status": "Processing op: ResizeTitusServerGroupAtomicOperation"},
    ]
    results: list[dict[str, Any]] = []
    flags = {"completed": False, "failed": False, "retryable": False}
    if state == "retryable":
        history.append({"phase": "ORCHESTRATION", "status": "Orchestration failed: Resize | CloudUnavailable: [down]"})
        results = [{"type": "EXCEPTION", "operation": "Resize", "message": "down", "retryable": True}]
        flags = {"completed": True, "failed": True, "retryable": True}
    elif state == "completed":
        history += [{"phase": "ORCHESTRATION", "status": "Orchestration completed."}] * 2
        results = [{"type": "cloudops.plan", "plan": PLAN, "dryRun": False}]
        flags = {"completed": True, "failed": False, "retryable": False}
    last = history[-1]
    status = {**last, "complete": flags["completed"], **flags}
    return {"status": status, "history": history, "id": task_id, "resultObjects": results, "sagaIds": []}


class ListSink:
    def __init__(self) -> None:
        self.outcomes: list[OutcomeRecord] = []
        self.comparisons: list[ShadowRecord] = []

    def record_outcome(self, record: OutcomeRecord) -> None:
        self.outcomes.append(record)

    def record_comparison(self, record: ShadowRecord) -> None:
        self.comparisons.append(record)


@dataclass
class Harness:
    gateway: Gateway
    http: FlaskClient
    legacy: HeldRunner
    durable: HeldRunner
    flags: FlagTestData
    tasks: FakeLegacyTasks
    progress: FakeProgress
    sim: SimCloud
    engine: sa.Engine
    build: Any

    def drive(self, rounds: int = 3, gateway: Gateway | None = None) -> None:
        for _ in range(rounds):
            (gateway or self.gateway).driver.run_once()

    def post(self, body: Any, crid: str = "crid-1", path: str = "/aws/ops", **headers: str) -> Any:
        return self.http.post(path, query_string={"clientRequestId": crid}, json=body, headers=headers)

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.http.get(f"/task/{task_id}")
        assert response.status_code == 200, response.json
        found: dict[str, Any] = response.json  # type: ignore[assignment]
        return found


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> FsPath:
    """A database at the newest schema, migrated once and copied for each test."""
    path = tmp_path_factory.mktemp("schema") / "gateway.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def h(tmp_path: FsPath, schema: FsPath) -> Iterator[Harness]:
    shutil.copy(schema, tmp_path / "gateway.db")
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    engine = sa.create_engine(url)
    legacy = HeldRunner(Path.LEGACY, script)
    durable = HeldRunner(Path.DURABLE, script)
    flags, sink, metrics = FlagTestData(), ListSink(), RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=sink.record_comparison, metrics=metrics)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags.client(),
        owners=SqlOwnership(engine),
        records=sink,
        shadows=shadows,
        metrics=metrics,
    )
    tasks, progress, sim = FakeLegacyTasks(), FakeProgress(), SimCloud()

    def build(**settings: Any) -> Gateway:
        return Gateway(
            store=GatewayStore(engine),
            runner=router,
            owners=SqlOwnership(engine),
            legacy=tasks,
            progress=progress,
            accounts=CachedAccounts(sim, ttl_s=0.001),
            settings=GatewaySettings(**{"lease_s": 0.001, "legacy_http_timeout_s": 1.0, **settings}),
            legacy_poll_interval_s=0.001,
        )

    gateway = build()
    harness = Harness(
        gateway, create_app(gateway).test_client(), legacy, durable, flags, tasks, progress, sim, engine, build
    )
    yield harness
    legacy.held = durable.held = False
    harness.drive()  # what a test left running ends, so no shadow waits for it
    shadows.close()
    engine.dispose()


def create(app: str = "myapp", **extra: Any) -> dict[str, Any]:
    context = {
        "application": app,
        "stack": "main",
        "credentials": "prod",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-ami",
        "instanceType": "m5.large",
        **extra,
    }
    return {"createServerGroup": context}


def resize(name: str = "myapp-main-v000", account: str = "prod", **extra: Any) -> dict[str, Any]:
    context = {"credentials": account, "region": "us-east-1", "serverGroupName": name, **extra}
    return {"resizeServerGroup": {"capacity": {"min": 1, "max": 4, "desired": 2}, **context}}


# -- submit and read -----------------------------------------------------------------------------------------------


def test_submit_answers_at_once_and_the_task_ends_in_clouddriver_shape(h: Harness) -> None:
    answer = h.post([create()])
    assert answer.status_code == 200
    task_id = answer.json["id"]
    assert answer.json == {"id": task_id, "resourceUri": f"/task/{task_id}"}
    assert h.legacy.executed == []  # nothing ran in the request thread

    before = h.task(task_id)
    assert list(before)[:2] == ["status", "history"]  # status and history first, as Clouddriver
    assert before["status"] == {
        "phase": "ORCHESTRATION",
        "status": "Initializing Orchestration Task",
        "complete": False,
        "completed": False,
        "failed": False,
        "retryable": False,
    }
    assert before["resultObjects"] == [] and before["requestId"] == "crid-1" and before["outputs"] == []

    h.drive()
    after = h.task(task_id)
    assert after["status"]["completed"] and after["status"]["complete"] and not after["status"]["failed"]
    assert after["status"]["status"] == after["history"][-1]["status"] == "Orchestration completed."
    assert after["history"][0] == {"phase": "ORCHESTRATION", "status": "Initializing Orchestration Task"}
    assert after["resultObjects"] == [
        {
            "serverGroupNames": ["us-east-1:myapp-main-v000"],
            "serverGroupNameByRegion": {"us-east-1": "myapp-main-v000"},
        },
        {"type": "cloudops.plan", "plan": {**PLAN, "operation": "createServerGroup"}, "dryRun": False},
    ]
    assert set(after) >= {"id", "ownerId", "requestId", "startTimeMs", "sagaIds", "retryable"}
    assert after["retryable"] is False and after["startTimeMs"] > 0
    (op,) = after["gatewayOperations"]
    assert op["path"] == "legacy" and op["state"] == "succeeded" and op["operationId"] == operation_id_for("crid-1", 0)


def test_a_repeated_client_request_id_returns_the_same_task_and_runs_nothing_again(h: Harness) -> None:
    first = h.post([create()]).json["id"]
    h.drive()
    assert h.post([create()]).json["id"] == first
    h.drive()
    assert len(h.legacy.executed) == 1
    other = h.post([create()], crid="crid-2").json["id"]
    assert other != first
    no_crid = [h.post([create()], crid="").json["id"] for _ in range(2)]
    assert len(set(no_crid) | {first, other}) == 4  # without a clientRequestId every POST is a new task


def test_operation_ids_derive_from_the_client_request_id_and_position(h: Harness) -> None:
    h.post([create(), resize()], crid="pipeline-7")
    h.drive()
    assert [r.operation_id for r in h.legacy.executed] == [operation_id_for("pipeline-7", i) for i in (0, 1)]
    assert operation_id_for("pipeline-7", 0) == operation_id_for("pipeline-7", 0) != operation_id_for("other", 0)
    assert len(operation_id_for("x" * 255, 999)) < 60  # any clientRequestId fits a workflow id


# -- validation and bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ([{"createServerGroup": {**create()["createServerGroup"], "capacity": {"min": "one"}}}], None, "type"),
        ([{"resizeServerGroup": {"credentials": "nope", "region": "us-east-1", "serverGroupName": "a-v001",
                                 "capacity": {"min": 1, "max": 1, "desired": 1}}}],
         "[0].resizeServerGroup.credentials", "unknown_account"),
        ([resize(region="mars-1")], "[0].resizeServerGroup.region", "unknown_region"),
        ([{"explodeEverything": {}}], "[0].explodeEverything", "unknown_operation"),
        ([resize(dryRun=True)], "[0].resizeServerGroup.dryRun", "invalid"),
        ([resize(dryRun="yes")], "[0].resizeServerGroup.dryRun", "type"),
        ([resize(stageType=7)], "[0].resizeServerGroup.stageType", "type"),
        ([resize(stageType="s" * 201)], "[0].resizeServerGroup.stageType", "range"),
        ([create("a" * 201)], "[0].createServerGroup.application", "range"),
        ([], "", "required"),
        ({"resizeServerGroup": {}}, "", "type"),
        ([resize(), "nonsense"], "[1]", "invalid"),
    ],
)  # fmt: skip
def test_validation_errors_are_400_with_every_field_and_create_no_task(
    h: Harness, body: Any, path: str | None, code: str
) -> None:
    answer = h.post(body)
    assert answer.status_code == 400, answer.json
    error = answer.json
    assert error["message"] == "Validation Failed" and error["status"] == 400 and error["error"] == "Bad Request"
    assert error["errors"] and isinstance(error["timestamp"], int)
    assert any(fe["code"] == code and (path is None or fe["path"] == path) for fe in error["fieldErrors"]), error
    if code == "unknown_account":
        assert "credentials not found" in error["errors"][0]
    assert h.gateway.store.running_ids() == [] and h.legacy.executed == []


PARITY_BODIES: list[Any] = [
    [create(capacity={"min": "one", "max": 2, "desired": 1}, credentials="nope")],
    [resize(region="mars-1"), {"resizeServerGroup": {"region": "us-east-1"}}],
    [{"explodeEverything": {}}, "nonsense", {"a": 1, "b": 2}],
    [resize(dryRun="yes")],
    [],
    {"resizeServerGroup": {}},
    [{"resizeServerGroup": []}],
]


@pytest.mark.parametrize("body", PARITY_BODIES)
def test_validation_is_the_legacy_services_own(h: Harness, body: Any) -> None:
    """The same 400, with the same errors, as the legacy service answers: a caller cannot tell the two apart."""
    legacy = legacy_app({"ACCOUNTS_TTL_S": 0}, provider=h.sim).test_client()
    expected = legacy.post("/aws/ops", json=body)
    answer = h.post(body)
    assert answer.status_code == expected.status_code == 400
    for key in ("message", "errors", "fieldErrors", "status", "error"):
        assert answer.json[key] == expected.json[key], key


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON_VALUES)
def test_any_json_body_is_answered_200_or_400(h: Harness, body: Any) -> None:
    for wrapped in (body, [body], [{"resizeServerGroup": body}]):
        answer = h.post(wrapped, crid="fuzz")
        assert answer.status_code in (200, 400), (wrapped, answer.json)


def test_unknown_provider_is_400(h: Harness) -> None:
    answer = h.post([resize()], path="/gce/ops")
    assert answer.status_code == 400 and answer.json["fieldErrors"][0]["code"] == "unknown_provider"


@pytest.mark.parametrize(
    ("method", "url", "data", "status"),
    [
        ("post", "/aws/ops", b"not json", 400),
        ("post", "/aws/ops", b"", 400),
        ("post", "/aws/ops", b"\xff\xfe", 400),
        ("post", "/aws/ops", b"[" * 20000 + b"]" * 20000, 400),
        ("post", "/aws/ops", b"[" * 100 + b"]" * 100, 400),
        ("post", "/aws/ops", b"x" * (600 * 1024), 400),
        ("post", "/aws/ops", b"null", 400),
        ("post", "/aws/ops", b'[{"resizeServerGroup": null}]', 400),
        ("post", "/aws/ops", b'[{"resizeServerGroup": {"capacity": [1, 2]}}]', 400),
        ("get", "/aws/ops", None, 405),
        ("get", "/task/%00%ff", None, 404),
        ("get", "/nothing/here", None, 404),
        ("post", "/task/nope:resume", None, 404),
        ("delete", "/task/x", None, 405),
    ],
)
def test_bad_input_is_a_4xx_that_says_what_was_wrong_never_a_500(
    h: Harness, method: str, url: str, data: bytes | None, status: int
) -> None:
    answer = getattr(h.http, method)(url, data=data, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.get_data(as_text=True)[:500]
    assert answer.json["status"] == status and answer.json["message"]


def test_an_oversized_header_is_400(h: Harness) -> None:
    answer = h.post([resize()], **{"X-Spinnaker-Stage-Type": "s" * 201})
    assert answer.status_code == 400 and "X-Spinnaker-Stage-Type" in answer.json["message"]
    assert h.post([resize()], crid="c" * 256).status_code == 400


def test_the_cloud_being_down_is_503(h: Harness) -> None:
    h.sim.set_hard_down()
    answer = h.post([resize()])
    assert answer.status_code == 503 and "accounts" in answer.json["message"]


# -- tasks: unknown, listing, resume -------------------------------------------------------------------------------


def test_an_unknown_task_is_404_with_clouddriver_message(h: Harness) -> None:
    answer = h.http.get("/task/missing")
    assert answer.status_code == 404 and answer.json["message"] == "Task not found (id: missing)"
    assert h.http.post("/task/missing:resume").status_code == 404


def test_a_bug_is_a_500_with_an_error_id_in_the_log_never_the_exception_text(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(task_id: str) -> None:
        raise RuntimeError("db password=hunter2 at /srv/secret")

    monkeypatch.setattr(h.gateway.store, "get", broken)
    with caplog.at_level(logging.ERROR, logger="gateway"):
        answer = h.http.get("/task/t-1")
    assert answer.status_code == 500 and answer.json["status"] == 500
    text = answer.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text
    error_id = answer.json["errorId"]
    assert error_id in answer.json["message"]
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None and "hunter2" in caplog.text and "Traceback" in caplog.text


def test_get_task_lists_running_tasks_only(h: Harness) -> None:
    h.durable.held = True
    h.flags.stage("durable", application="held")
    done = h.post([create()], crid="a").json["id"]
    h.drive()
    running = h.post([create("held")], crid="b").json["id"]
    h.drive()
    listed = h.http.get("/task").json
    assert [t["id"] for t in listed] == [running] and listed[0]["status"]["completed"] is False
    assert h.http.post(f"/task/{done}:resume").status_code == 409  # ended, not retryable
    assert h.http.post(f"/task/{running}:resume").status_code == 409  # a durable operation is never resumed


def test_a_retryable_legacy_operation_waits_for_resume_then_the_list_continues(h: Harness) -> None:
    first = operation_id_for("retry-me", 0)
    h.tasks.tasks[first] = legacy_task(first, "retryable")
    task_id = h.post([resize(), resize(capacity={"min": 1, "max": 4, "desired": 3})], crid="retry-me").json["id"]
    h.drive()
    task = h.task(task_id)
    assert task["status"]["failed"] and task["status"]["retryable"] and task["retryable"]
    assert task["resultObjects"][0]["type"] == "EXCEPTION"
    assert h.http.get("/task").json == []  # FAILED_RETRYABLE is not running
    assert len(h.legacy.executed) == 1  # the list waits: the second operation has not started

    answer = h.http.post(f"/task/{task_id}:resume")
    assert answer.status_code == 200 and answer.json == {"id": task_id, "resourceUri": f"/task/{task_id}"}
    assert h.tasks.resumed == [first]
    assert h.http.post(f"/task/{task_id}:resume").status_code == 409  # the legacy service: no longer retryable
    h.drive()
    task = h.task(task_id)
    assert task["status"]["completed"] and not task["status"]["failed"]
    assert len(h.legacy.executed) == 2
    statuses = [e["status"] for e in task["history"]]
    # the legacy task's own history, without its opening line and terminal copy, then the next operation's
    assert "Processing op: ResizeTitusServerGroupAtomicOperation" in statuses
    assert statuses.count("Initializing Orchestration Task") == 1
    assert statuses.count("Orchestration completed.") == 2


def test_a_repost_of_a_retryable_task_resumes_it(h: Harness) -> None:
    first = operation_id_for("repost", 0)
    h.tasks.tasks[first] = legacy_task(first, "retryable")
    task_id = h.post([resize()], crid="repost").json["id"]
    h.drive()
    assert h.post([resize()], crid="repost").json["id"] == task_id
    assert h.tasks.resumed == [first]
    h.drive()
    assert h.task(task_id)["status"]["completed"]


# -- routing, ordering, failure ------------------------------------------------------------------------------------


def test_each_operation_is_routed_on_its_own_dimensions(h: Harness) -> None:
    h.flags.stage("durable", application="mixed", operation="createServerGroup")
    h.flags.stage("durable", stage_type="deployStage", application="staged")
    task_id = h.post([create("mixed"), resize("mixed-main-v000")], crid="mix").json["id"]
    h.drive()
    paths = [op["path"] for op in h.task(task_id)["gatewayOperations"]]
    assert paths == ["durable", "legacy"]
    (durable,) = h.durable.executed
    assert (durable.application, durable.account, durable.provider) == ("mixed", "prod", "aws")
    # application parsed from serverGroupName; stage type from the header, unless the operation names its own
    h.post(
        [resize("staged-main-v001"), resize("staged-main-v002", stageType="own")],
        crid="s",
        **{"X-Spinnaker-Stage-Type": "deployStage", "X-Spinnaker-Execution-Id": "exec-9"},
    )
    h.drive()
    ops = {r.operation_id: r for r in [*h.legacy.executed, *h.durable.executed]}
    staged, own = ops[operation_id_for("s", 0)], ops[operation_id_for("s", 1)]
    assert (staged.stage_type, staged.application, staged.execution_id) == ("deployStage", "staged", "exec-9")
    assert staged in h.durable.executed and own in h.legacy.executed and own.stage_type == "own"


def test_a_list_runs_in_order_and_each_operation_gets_the_results_before_it(h: Harness) -> None:
    h.flags.stage("durable", operation="resizeServerGroup")
    task_id = h.post([create(), resize(), resize()], crid="ordered").json["id"]
    h.drive()
    executed = sorted([*h.legacy.executed, *h.durable.executed], key=lambda r: r.operation_id)
    assert PRIOR_RESULTS_KEY not in executed[0].context
    created = {
        "serverGroupNames": ["us-east-1:myapp-main-v000"],
        "serverGroupNameByRegion": {"us-east-1": "myapp-main-v000"},
    }
    assert executed[1].context[PRIOR_RESULTS_KEY] == [created]
    assert executed[2].context[PRIOR_RESULTS_KEY] == [created]  # plan objects are not results
    task = h.task(task_id)
    routed = [e["status"] for e in task["history"] if e["status"].startswith("Routed op")]
    assert [r.split(":")[0] for r in routed] == ["Routed op 0", "Routed op 1", "Routed op 2"]
    assert task["resultObjects"][0] == created and len(task["resultObjects"]) == 4


def test_a_failed_operation_fails_the_task_and_stops_the_list(h: Harness) -> None:
    h.flags.stage("durable")
    task_id = h.post([resize(failWith="NotFound"), resize()], crid="fails").json["id"]
    h.drive()
    task = h.task(task_id)
    assert task["status"]["failed"] and task["status"]["completed"] and not task["status"]["retryable"]
    assert task["status"]["status"] == "Orchestration failed: ResizeServerGroup | NotFound: [the cloud said no]"
    exception = task["resultObjects"][-1]
    assert exception["type"] == "EXCEPTION" and exception["retryable"] is False
    assert exception["details"][0]["additionalAttributes"]["category"] == "rejection"
    assert len(h.durable.executed) == 1
    assert [op["state"] for op in task["gatewayOperations"]] == ["failed", "pending"]


def test_a_durable_operation_shows_its_steps_while_it_runs(h: Harness) -> None:
    h.flags.stage("durable")
    h.durable.held = True
    task_id = h.post([create()], crid="steps").json["id"]
    h.drive()
    workflow = operation_id_for("steps", 0)  # ScriptedRunner's run id is the operation id
    h.progress.progress_by_id[workflow] = Progress(
        workflow, RunState.RUNNING, "create myapp-main-v000", 2, 2, ["validate", "plan", "create myapp-main-v000"]
    )
    statuses = [e["status"] for e in h.task(task_id)["history"]]
    assert statuses[-4:] == [
        "Processing op: CreateServerGroup",
        "Step 1/3 done: validate",
        "Step 2/3 done: plan",
        "Step 3/3 running: create myapp-main-v000...",
    ]
    del h.progress.progress_by_id[workflow]
    assert "progress cannot be read" in h.task(task_id)["status"]["status"]
    h.durable.held = False
    h.drive()
    assert h.task(task_id)["status"]["completed"]


def test_an_operation_no_path_takes_fails_after_the_start_deadline(h: Harness) -> None:
    h.legacy.unavailable = RunnerUnavailable("connection refused", path="legacy", may_have_started=False)
    gateway = h.build(start_timeout_s=0.2)
    task_id = gateway.submit([resize()], "aws", "unavailable")["id"]
    gateway.driver.run_once()
    assert gateway.task(task_id)["status"]["completed"] is False  # retried, within the deadline
    time.sleep(0.25)
    gateway.driver.run_once()
    task = gateway.task(task_id)
    assert task["status"]["failed"] and "connection refused" in task["resultObjects"][-1]["message"]
    assert task["resultObjects"][-1]["details"][0]["additionalAttributes"]["category"] == "cloud"


# -- restart -------------------------------------------------------------------------------------------------------


def test_a_restarted_gateway_answers_for_every_task_and_drives_the_unfinished_ones(h: Harness) -> None:
    h.flags.stage("durable", application="slow", operation="createServerGroup")
    done = h.post([create()], crid="done").json["id"]
    h.drive()
    h.durable.held = True
    unfinished = h.post([create("slow"), resize("slow-main-v000")], crid="unfinished").json["id"]
    h.drive()
    assert h.task(unfinished)["gatewayOperations"][0]["state"] == "running"
    expected_done = h.task(done)
    # A crash: the first gateway stops without releasing anything; a new one starts on the same database.
    restarted = h.build()
    http = create_app(restarted).test_client()
    again = http.get(f"/task/{done}").json
    assert {k: v for k, v in again.items() if k != "ownerId"} == {
        k: v for k, v in expected_done.items() if k != "ownerId"
    }
    h.durable.held = False
    h.drive(gateway=restarted)
    task = http.get(f"/task/{unfinished}").json
    assert task["status"]["completed"] and not task["status"]["failed"], json.dumps(task, indent=1)
    assert len(h.durable.executed) == 1  # re-attached to the durable operation, never started afresh
    assert [op["path"] for op in task["gatewayOperations"]] == ["durable", "legacy"]
    assert task["ownerId"] == restarted.owner_id


def test_the_deprecated_and_single_operation_routes(h: Harness) -> None:
    body = resize()["resizeServerGroup"]
    deprecated = h.http.post("/ops", json=[{"resizeServerGroup": {**body, "cloudProvider": "aws"}}])
    single = h.http.post("/aws/ops/resizeServerGroup", json=body)
    single_deprecated = h.http.post("/ops/resizeServerGroup", json={**body, "cloudProvider": "aws"})
    assert [r.status_code for r in (deprecated, single, single_deprecated)] == [200, 200, 200]
    assert h.http.post("/ops", json=[resize()]).json["fieldErrors"][0]["path"] == "[0].resizeServerGroup.cloudProvider"
    h.drive()
    assert len(h.legacy.executed) == 3


def test_the_router_metrics_are_served_at_metrics(h: Harness) -> None:
    h.post([create()])
    h.drive()
    text = h.http.get("/metrics").get_data(as_text=True)
    assert 'cloudops_router_operations_total{error_kind="",operation="createServerGroup",path="legacy"' in text
    assert "cloudops_router_decisions_total" in text


def test_the_operation_the_driver_starts_continues_the_submitters_trace(h: Harness) -> None:
    """Issue 19, item 2: Orca's request carries a W3C `traceparent`; the gateway's server span continues it, and
    the operation its driver starts later, on its own pool, is in that trace too, not in a trace of its own."""
    from opentelemetry import propagate, trace
    from tracing_support import span_exporter

    exporter = span_exporter()
    exporter.clear()
    headers: dict[str, str] = {}
    with trace.get_tracer("orca").start_as_current_span("orca.stage") as stage:
        propagate.inject(headers)
    answer = h.post([create()], crid="traced-1", traceparent=headers["traceparent"])
    assert answer.status_code == 200, answer.json
    h.drive()
    spans = exporter.get_finished_spans()
    trace_id = stage.get_span_context().trace_id
    operations = [s for s in spans if s.name.startswith("cloudops.operation")]
    assert operations, [s.name for s in spans]
    assert all(s.context is not None and s.context.trace_id == trace_id for s in operations)
    started = next(s for s in spans if s.name == "cloudops.gateway.start")
    assert started.context is not None and started.context.trace_id == trace_id
    assert started.attributes is not None and started.attributes["cloudops.gateway.task_id"] == answer.json["id"]
