"""The legacy Clouddriver service in process (Flask's test client) over an in-process sim cloud: every endpoint,
status code, validation case, and the executor's behaviour (dedupe, retries, dry run, compensation, sagas)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from legacy_payloads import aws_create, resize, statuses, titus_create, wait_task

from cloud.errors import CloudTimeout
from cloud.model import ServerGroup, ServerGroupSpec
from cloud.sim import FaultConfig, SimCloud
from legacy_clouddriver import create_app
from legacy_clouddriver.config import ConfigError
from legacy_clouddriver.service import Clouddriver

FAST = {"HEALTH_POLL_S": 0.02, "HEALTH_TIMEOUT_S": 5, "PROVIDER_BACKOFF_S": 0.01, "ACCOUNTS_TTL_S": 0}


@pytest.fixture
def sim() -> SimCloud:
    return SimCloud(health_delay_s=0.1)


@pytest.fixture
def client(sim: SimCloud) -> FlaskClient:
    return create_app(FAST, provider=sim).test_client()


def submit(client: FlaskClient, ops: list[dict[str, Any]], crid: str | None = None, provider: str = "aws") -> str:
    url = f"/{provider}/ops" + (f"?clientRequestId={crid}" if crid else "")
    response = client.post(url, json=ops)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {"id": body["id"], "resourceUri": f"/task/{body['id']}"}
    return str(body["id"])


def creates(sim: SimCloud) -> list[str]:
    return [f"{e.region}:{e.target}" for e in sim.journal() if e.kind == "createServerGroup"]


def wait_for_line(client: FlaskClient, task_id: str, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in s for s in statuses(client.get(f"/task/{task_id}").get_json())):
        assert time.monotonic() < deadline, f"no history line containing {text!r}"
        time.sleep(0.005)


def test_create_answers_at_once_then_completes_with_the_deployment_result(client: FlaskClient, sim: SimCloud) -> None:
    task_id = submit(client, [{"createServerGroup": aws_create()}], crid="c-1")
    task = wait_task(client, task_id)

    assert task["status"] == {
        "phase": "ORCHESTRATION",
        "status": "Orchestration completed.",
        "complete": True,
        "completed": True,
        "failed": False,
        "retryable": False,
    }
    lines = statuses(task)
    assert lines[:2] == ["Initializing Orchestration Task", "Processing op: DeployAtomicOperation"]
    assert "Initializing Deploy operation for [us-east-1:myapp-main-v000]..." in lines
    # The in-memory task shows its terminal entry (a copy of the last line), as Clouddriver's DefaultTask does.
    assert lines[-2:] == ["Orchestration completed.", "Orchestration completed."]
    assert {h["phase"] for h in task["history"]} == {"ORCHESTRATION", "DEPLOY"}
    assert set(task) >= {"id", "ownerId", "requestId", "startTimeMs", "sagaIds", "resultObjects", "outputs"}
    deployment, plan = task["resultObjects"]
    assert deployment["serverGroupNames"] == ["us-east-1:myapp-main-v000"]
    assert deployment["serverGroupNameByRegion"] == {"us-east-1": "myapp-main-v000"}
    assert plan["type"] == "cloudops.plan" and plan["dryRun"] is False
    assert [m["kind"] for m in plan["plan"]["mutations"]] == ["createServerGroup"]
    group = sim.describe_server_group("prod", "us-east-1", "myapp-main-v000")
    assert group is not None and group.healthy_count == 2


def test_the_same_client_request_id_returns_the_same_task_and_never_runs_it_again(
    client: FlaskClient, sim: SimCloud
) -> None:
    first = submit(client, [{"createServerGroup": aws_create()}], crid="same")
    assert submit(client, [{"createServerGroup": aws_create()}], crid="same") == first
    wait_task(client, first)
    assert submit(client, [{"createServerGroup": aws_create()}], crid="same") == first
    assert creates(sim) == ["us-east-1:myapp-main-v000"]

    other = submit(client, [{"createServerGroup": aws_create()}], crid="other")
    assert other != first
    wait_task(client, other)
    assert creates(sim) == ["us-east-1:myapp-main-v000", "us-east-1:myapp-main-v001"]


def test_operations_run_in_order_each_followed_by_its_completion_line(client: FlaskClient, sim: SimCloud) -> None:
    task = wait_task(
        client,
        submit(client, [{"createServerGroup": aws_create()}, {"resizeServerGroup": resize("myapp-main-v000", 3)}]),
    )
    lines = statuses(task)
    deploy, resize_at = (
        lines.index("Processing op: DeployAtomicOperation"),
        lines.index("Processing op: ResizeAsgAtomicOperation"),
    )
    assert deploy < lines.index("Orchestration completed.") < resize_at
    assert "Initializing Resize ASG operation for [us-east-1:myapp-main-v000]..." in lines
    assert not task["status"]["failed"]
    assert [r.get("type") for r in task["resultObjects"]] == [None, "cloudops.plan", "cloudops.plan"]
    group = sim.describe_server_group("prod", "us-east-1", "myapp-main-v000")
    assert group is not None and group.capacity.desired == 3


def test_a_failed_operation_records_an_exception_and_later_operations_never_run(
    client: FlaskClient, sim: SimCloud
) -> None:
    # A clone of a group that does not exist is refused by the cloud (a missing group to resize is skipped).
    clone = {
        "cloudProvider": "aws",
        "credentials": "prod",
        "source": {"account": "prod", "region": "us-east-1", "serverGroupName": "myapp-main-v042"},
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
    }
    task = wait_task(client, submit(client, [{"cloneServerGroup": clone}, {"createServerGroup": aws_create()}]))
    assert task["status"]["failed"] and task["status"]["completed"] and not task["retryable"]
    assert task["status"]["status"].startswith("Orchestration failed: CopyLastAsgAtomicOperation | NotFound: [")
    assert "Processing op: DeployAtomicOperation" not in statuses(task)
    (exception,) = [r for r in task["resultObjects"] if r.get("type") == "EXCEPTION"]
    assert exception["operation"] == "CopyLastAsgAtomicOperation"
    assert "myapp-main-v042" in exception["message"]
    assert exception["details"][0]["additionalAttributes"]["category"] == "rejection"
    assert exception["retryable"] is False
    assert sim.journal() == []


def test_an_unknown_task_is_a_404_with_springs_error_body(client: FlaskClient) -> None:
    response = client.get("/task/nope")
    assert response.status_code == 404
    body = response.get_json()
    assert body["message"] == "Task not found (id: nope)"
    assert body["status"] == 404 and body["error"] == "Not Found" and isinstance(body["timestamp"], int)


def test_get_task_lists_only_running_tasks() -> None:
    sim = SimCloud(health_delay_s=60)
    client = create_app({**FAST, "HEALTH_TIMEOUT_S": 0.6}, provider=sim).test_client()
    task_id = submit(client, [{"createServerGroup": aws_create()}])
    wait_for_line(client, task_id, "Waiting for")
    assert [t["id"] for t in client.get("/task").get_json()] == [task_id]
    task = wait_task(client, task_id)
    assert task["status"]["failed"]
    assert "HealthTimeout" in task["status"]["status"] and "waiting for 2 healthy" in task["status"]["status"]
    assert client.get("/task").get_json() == []


MEGABYTE = json.dumps([{"resizeServerGroup": {**resize("a-v001", 1), "padding": "x" * (1 << 20)}}])


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("/aws/ops", '[{"resizeServerGroup": ', "malformed JSON"),
        ("/aws/ops", "", "empty"),
        ("/aws/ops", b"\xff\xfe[]", "UTF-8"),
        ("/aws/ops", json.dumps({"resizeServerGroup": resize("a-v001", 1)}), "must be a JSON list"),
        ("/aws/ops", "[]", "no operations"),
        ("/aws/ops", "[1]", "exactly one key"),
        ("/aws/ops", json.dumps([{"frobnicateServerGroup": {}}]), "frobnicateServerGroup"),
        ("/gce/ops", json.dumps([{"resizeServerGroup": resize("a-v001", 1)}]), "gce"),
        ("/aws/ops", json.dumps([{"resizeServerGroup": resize("a-v001", 1, account="nope")}]), "credentials not found"),
        (
            "/aws/ops",
            json.dumps([{"resizeServerGroup": {**resize("a-v001", 1), "capacity": {"min": "two"}}}]),
            "capacity.min",
        ),
        ("/aws/ops", json.dumps([{"resizeServerGroup": {**resize("a-v001", 1), "dryRun": "yes"}}]), "dryRun"),
        ("/aws/ops", MEGABYTE, "larger than"),
    ],
)
def test_bad_input_is_a_400_that_says_what_was_wrong_and_starts_nothing(
    client: FlaskClient, sim: SimCloud, path: str, data: str | bytes, expected: str
) -> None:
    response = client.post(path, data=data, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == 400 and body["error"] == "Bad Request" and body["errors"]
    assert expected in json.dumps(body), body
    assert client.get("/task").get_json() == []
    assert sim.journal() == []


def test_validation_errors_carry_each_field_path(client: FlaskClient) -> None:
    bad = {**resize("a-v001", 1), "credentials": "nope", "capacity": {"min": "two", "max": 1, "desired": 1}}
    body = client.post("/aws/ops", json=[{"resizeServerGroup": bad}]).get_json()
    paths = {e["path"]: e["code"] for e in body["fieldErrors"]}
    assert paths["[0].resizeServerGroup.capacity.min"] == "type"
    assert body["message"] == "Validation Failed"


def test_the_deprecated_and_single_operation_routes(client: FlaskClient, sim: SimCloud) -> None:
    wait_task(client, submit(client, [{"createServerGroup": aws_create()}]))
    for path, body in [
        ("/ops", [{"resizeServerGroup": resize("myapp-main-v000", 2)}]),
        ("/aws/ops/resizeServerGroup", resize("myapp-main-v000", 3)),
        ("/ops/resizeServerGroup", resize("myapp-main-v000", 4)),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 200, (path, response.get_json())
        assert not wait_task(client, response.get_json()["id"])["status"]["failed"]
    group = sim.describe_server_group("prod", "us-east-1", "myapp-main-v000")
    assert group is not None and group.capacity.desired == 4


def test_a_dry_run_returns_the_plan_and_mutates_nothing(client: FlaskClient, sim: SimCloud) -> None:
    wait_task(client, submit(client, [{"createServerGroup": aws_create()}]))
    before = sim.journal()
    task = wait_task(client, submit(client, [{"resizeServerGroup": resize("myapp-main-v000", 4, dryRun=True)}]))
    assert not task["status"]["failed"]
    (plan,) = task["resultObjects"]
    assert plan["type"] == "cloudops.plan" and plan["dryRun"] is True
    (mutation,) = plan["plan"]["mutations"]
    assert mutation["kind"] == "resizeServerGroup" and mutation["params"]["capacity"]["desired"] == 4
    assert any("nothing changed" in s for s in statuses(task))
    assert sim.journal() == before
    group = sim.describe_server_group("prod", "us-east-1", "myapp-main-v000")
    assert group is not None and group.capacity.desired == 2


def test_transient_faults_are_retried_three_times_then_fail_an_aws_task_for_good() -> None:
    sim = SimCloud()
    client = create_app({**FAST, "ACCOUNTS_TTL_S": 3600}, provider=sim).test_client()
    _service(client.application).accounts.get()  # cached while the cloud is healthy
    sim.set_faults(FaultConfig(rate=1.0, throttle=1, server_error=0, timeout=0, lost_response=0))
    task = wait_task(client, submit(client, [{"resizeServerGroup": resize("myapp-main-v000", 3)}]))
    assert task["status"]["failed"] and not task["status"]["retryable"] and task["sagaIds"] == []
    (exception,) = [r for r in task["resultObjects"] if r.get("type") == "EXCEPTION"]
    assert exception["details"][0]["additionalAttributes"]["code"] == "Throttling"
    assert exception["details"][0]["additionalAttributes"]["category"] == "transient"
    assert sim.injected_faults()["throttle"] == 3


class LosesFirstCreateAnswer(SimCloud):
    """The sim cloud, with the answer to the first create lost after it was applied (as its lost_response fault)."""

    lost = False

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        group = super().create_server_group(account, region, spec, token)
        if not self.lost:
            self.lost = True
            raise CloudTimeout("createServerGroup: request timed out", account=account, region=region)
        return group


def test_a_retry_after_a_lost_answer_uses_a_new_token_and_fails_on_already_exists() -> None:
    sim = LosesFirstCreateAnswer(health_delay_s=0.05)
    client = create_app(FAST, provider=sim).test_client()
    task = wait_task(client, submit(client, [{"createServerGroup": aws_create()}]))
    assert task["status"]["failed"]
    assert "DeployAtomicOperation | AlreadyExists" in task["status"]["status"]
    assert creates(sim) == ["us-east-1:myapp-main-v000"]  # applied once; the retry was refused


def test_a_failed_deploy_with_rollback_on_failure_destroys_what_it_created(client: FlaskClient, sim: SimCloud) -> None:
    context = aws_create(regions=("us-east-1", "us-west-2"), rollback={"onFailure": True})
    task_id = submit(client, [{"createServerGroup": context}])
    wait_for_line(client, task_id, "Waiting for 2 healthy instance(s) in us-east-1")
    sim.set_hard_down(region="us-west-2")
    task = wait_task(client, task_id)
    assert task["status"]["failed"] and not task["retryable"]
    assert "CloudUnavailable" in task["status"]["status"]
    assert any(s.startswith("Rolling back: Destroying us-east-1:myapp-main-v000") for s in statuses(task))
    assert [(e.kind, e.region) for e in sim.journal()] == [
        ("createServerGroup", "us-east-1"),
        ("destroyServerGroup", "us-east-1"),
    ]


def test_a_titus_saga_fails_retryably_and_resume_continues_from_the_failed_step(
    client: FlaskClient, sim: SimCloud
) -> None:
    task_id = submit(
        client, [{"createServerGroup": titus_create(regions=("us-east-1", "us-west-2"))}], provider="titus"
    )
    wait_for_line(client, task_id, "Waiting for 1 healthy instance(s) in us-east-1")
    sim.set_hard_down(region="us-west-2")
    failed = wait_task(client, task_id)
    assert failed["status"]["failed"] and failed["status"]["retryable"] and failed["retryable"]
    assert [s["name"] for s in failed["sagaIds"]] == ["TitusDeployHandler"]
    assert client.get("/task").get_json() == []

    sim.set_hard_down(region="us-west-2", down=False)
    response = client.post(f"/task/{task_id}:resume")
    assert response.status_code == 200 and response.get_json()["id"] == task_id
    done = wait_task(client, task_id)
    assert not done["status"]["failed"], done["status"]
    lines = statuses(done)
    assert "Re-initializing Orchestration Task (failure is retryable)" in lines
    assert "Resuming saga TitusDeployHandler at step 2." in lines
    assert creates(sim) == ["us-east-1:helloworld-main-v000", "us-west-2:helloworld-main-v000"]
    deployment = next(r for r in done["resultObjects"] if "serverGroupNames" in r)
    assert sorted(deployment["serverGroupNames"]) == [
        "us-east-1:helloworld-main-v000",
        "us-west-2:helloworld-main-v000",
    ]
    assert client.post(f"/task/{task_id}:resume").status_code == 409


def test_reposting_the_client_request_id_of_a_retryable_failure_resumes_it(client: FlaskClient, sim: SimCloud) -> None:
    wait_task(client, submit(client, [{"createServerGroup": titus_create()}], provider="titus"))
    sim.set_hard_down(account="titustest")
    ops = [{"resizeServerGroup": resize("helloworld-main-v000", 2, provider="titus", account="titustest")}]
    task_id = submit(client, ops, crid="titus-resize", provider="titus")
    assert wait_task(client, task_id)["retryable"]
    sim.set_hard_down(account="titustest", down=False)
    assert submit(client, ops, crid="titus-resize", provider="titus") == task_id
    assert not wait_task(client, task_id)["status"]["failed"]
    group = sim.describe_server_group("titustest", "us-east-1", "helloworld-main-v000")
    assert group is not None and group.capacity.desired == 2


def test_resume_answers_404_for_an_unknown_task_and_409_for_a_task_that_is_not_retryable(client: FlaskClient) -> None:
    assert client.post("/task/nope:resume").status_code == 404
    task_id = submit(client, [{"resizeServerGroup": resize("myapp-main-v042", 3)}])
    wait_task(client, task_id)
    response = client.post(f"/task/{task_id}:resume")
    assert response.status_code == 409
    assert "not retryable" in response.get_json()["message"]


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    assert client.get("/nope").get_json()["status"] == 404
    response = client.get("/aws/ops")
    assert response.status_code == 405 and response.get_json()["status"] == 405
    assert client.get("/health").get_json() == {"status": "UP"}


def test_configuration_layers_defaults_file_environment_then_arguments(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file = tmp_path / "clouddriver.json"
    config_file.write_text(json.dumps({"provider_attempts": 4, "HEALTH_POLL_S": 0.5}))
    monkeypatch.setenv("CLOUDDRIVER_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("CLOUDDRIVER_TASK_TTL_S", "77")
    monkeypatch.setenv("CLOUDDRIVER_PROVIDER_ATTEMPTS", "5")
    settings = _service(create_app({"PROVIDER_ATTEMPTS": 2}, provider=SimCloud())).settings
    assert (settings.provider_attempts, settings.task_ttl_s, settings.health_poll_s) == (2, 77, 0.5)
    assert _service(create_app(provider=SimCloud())).settings.provider_attempts == 5
    assert _service(create_app(provider=SimCloud())).settings.max_body_bytes == 512 * 1024

    monkeypatch.setenv("CLOUDDRIVER_PROVIDER_ATTEMPTS", "many")
    with pytest.raises(ConfigError, match="CLOUDDRIVER_PROVIDER_ATTEMPTS"):
        create_app(provider=SimCloud())


def _service(app: Any) -> Clouddriver:
    service = app.extensions["clouddriver"]
    assert isinstance(service, Clouddriver)
    return service


def test_a_body_nested_too_deeply_is_a_400_not_a_500(client: FlaskClient) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/aws/ops", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["message"]


def test_a_bug_is_a_500_with_an_error_id_in_the_log_never_the_exception_text(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(task_id: str) -> None:
        raise RuntimeError("redis password=hunter2 at /srv/secret")

    monkeypatch.setattr(_service(client.application).repository, "get", broken)
    with caplog.at_level(logging.ERROR, logger="legacy_clouddriver"):
        response = client.get("/task/t-1")
    assert response.status_code == 500 and response.get_json()["status"] == 500
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text
    error_id = response.get_json()["errorId"]
    assert error_id in response.get_json()["message"]
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None and "hunter2" in caplog.text and "Traceback" in caplog.text
