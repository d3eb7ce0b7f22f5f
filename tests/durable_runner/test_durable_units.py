"""Pure parts of the durable path: the JSON contract, failure classification, progress, activities, settings."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from durable_support import create_context, seeded_group
from temporalio.converter import DataConverter
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ApplicationErrorCategory,
    RetryState,
    TimeoutError,
    TimeoutType,
)
from temporalio.testing import ActivityEnvironment

from cloud.plan import Mutation, MutationKind
from cloud.sim import SimCloud
from durable_runner.activities import CloudActivities, StepProgress
from durable_runner.client import ConnectionSettings
from durable_runner.contract import (
    ErrorKind,
    PlanInput,
    Progress,
    RunState,
    StepInput,
    WorkflowError,
    WorkflowInput,
    WorkflowResult,
    input_problems,
    workflow_id_for,
)
from durable_runner.dev_server import dev_server_args
from durable_runner.errors import CAPACITY_NOT_HEALTHY, RETRY_WINDOW_EXHAUSTED, ConnectionConfigError
from durable_runner.operations import _maybe_applied
from durable_runner.progress import ProgressTracker
from durable_runner.search_attributes import SEARCH_ATTRIBUTES, typed_attributes
from durable_runner.steps import activity_failure

CONVERTER = DataConverter.default.payload_converter


def _decode(payload_json: str, type_: type[object]) -> object:
    payload = CONVERTER.to_payloads([json.loads(payload_json)])[0]
    return CONVERTER.from_payloads([payload], [type_])[0]


# -- the JSON contract ------------------------------------------------------------------------------------------


def test_workflow_input_is_plain_snake_case_json() -> None:
    inp = WorkflowInput(operation_id="op-1", operation="resizeServerGroup", stage_context={"region": "us-east-1"})
    encoded = json.loads(CONVERTER.to_payloads([inp])[0].data)
    assert encoded["operation_id"] == "op-1"
    assert encoded["stage_context"] == {"region": "us-east-1"}
    assert encoded["retry_window_seconds"] == 7200
    assert _decode(json.dumps(encoded), WorkflowInput) == inp


def test_input_decoding_ignores_unknown_keys_and_defaults_missing_ones() -> None:
    decoded = _decode('{"operation_id": "x", "operation": "enableServerGroup", "futureField": 1}', WorkflowInput)
    assert decoded == WorkflowInput(operation_id="x", operation="enableServerGroup")


def test_result_round_trips_with_error_kinds() -> None:
    result = WorkflowResult(
        ok=False, operation_id="op", errors=[WorkflowError(ErrorKind.VALIDATION, "bad", code="range", field="a.b")]
    )
    text = CONVERTER.to_payloads([result])[0].data.decode()
    assert json.loads(text)["errors"] == [{"kind": "validation", "message": "bad", "code": "range", "field": "a.b"}]
    assert _decode(text, WorkflowResult) == result


def test_envelope_problems_name_the_field() -> None:
    problems = input_problems(WorkflowInput(operation="x", retry_window_seconds=0))
    assert {(p.field, p.code) for p in problems} == {("operation_id", "required"), ("retry_window_seconds", "range")}
    assert input_problems(WorkflowInput(operation_id="ok")) == []


def test_workflow_ids() -> None:
    assert workflow_id_for("abc") == "cloudop-abc"
    assert workflow_id_for("abc", dry_run=True) == "cloudop-abc-dry-run"


# -- failure classification -------------------------------------------------------------------------------------


def _activity_error(cause: BaseException, retry_state: RetryState) -> ActivityError:
    err = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="w",
        activity_type="execute_step",
        activity_id="apply-0",
        retry_state=retry_state,
    )
    err.__cause__ = cause
    return err


def test_a_refusal_is_a_business_failure_with_the_cloud_code() -> None:
    cause = ApplicationError("too many instances", type="CapacityOutOfBounds", non_retryable=True)
    error = activity_failure(_activity_error(cause, RetryState.NON_RETRYABLE_FAILURE), "resize", timedelta(hours=2))
    assert error == WorkflowError(ErrorKind.BUSINESS, "too many instances", code="CapacityOutOfBounds")


def test_an_exhausted_retry_window_is_infrastructure_with_the_last_message() -> None:
    last = ApplicationError("prod is down", type="Unavailable")
    timeout = TimeoutError("activity timeout", type=TimeoutType.SCHEDULE_TO_CLOSE, last_heartbeat_details=[])
    timeout.__cause__ = last
    error = activity_failure(_activity_error(timeout, RetryState.TIMEOUT), "create x", timedelta(hours=2))
    assert error.kind is ErrorKind.INFRASTRUCTURE
    assert error.code == RETRY_WINDOW_EXHAUSTED
    assert "7200s" in error.message and "prod is down" in error.message


def test_compensation_considers_a_create_that_may_exist() -> None:
    create = Mutation(step=1, kind=MutationKind.CREATE_SERVER_GROUP, account="a", region="r", target="g")
    infra = WorkflowError(ErrorKind.INFRASTRUCTURE, "timed out", code=RETRY_WINDOW_EXHAUSTED)
    refused = WorkflowError(ErrorKind.BUSINESS, "no", code="CapacityOutOfBounds")
    assert _maybe_applied(1, create, infra) == 2
    assert _maybe_applied(1, create, refused) == 1
    resize = dataclasses.replace(create, kind=MutationKind.RESIZE_SERVER_GROUP)
    assert _maybe_applied(1, resize, infra) == 1


# -- progress ---------------------------------------------------------------------------------------------------


def test_progress_walks_the_steps_in_order() -> None:
    tracker = ProgressTracker("op")
    tracker.begin(RunState.VALIDATING)
    tracker.end()
    tracker.begin(RunState.PLANNING)
    assert tracker.snapshot() == Progress("op", RunState.PLANNING, "plan", 1, 1, ["validate", "plan"])
    tracker.end()
    tracker.add_steps(["deploy a", "deploy b"])
    tracker.begin()
    tracker.end()
    tracker.begin()
    snapshot = tracker.snapshot()
    assert (snapshot.state, snapshot.step, snapshot.step_index, snapshot.completed) == (
        RunState.RUNNING,
        "deploy b",
        3,
        3,
    )
    tracker.end()
    tracker.finish(ok=True)
    final = tracker.snapshot()
    assert final.finished and final.state is RunState.SUCCEEDED and final.completed == 4 and final.step == ""


# -- activities, with a real in-process sim cloud (sync activities: ActivityEnvironment runs them in place) -----


def _step_input(sim: SimCloud, mutation: Mutation) -> StepInput:
    return StepInput(operation_id="op-1", mutation=mutation.to_json(), token="tok-op-1-0")


def _create_mutation(desired: int = 1) -> Mutation:
    spec = {"name": "myapp-main-v001", "capacity": {"min": 0, "max": 4, "desired": desired}, "image": "ami"}
    return Mutation(
        step=0,
        kind=MutationKind.CREATE_SERVER_GROUP,
        account="test",
        region="us-east-1",
        target="myapp-main-v001",
        params={"spec": spec},
        wait_for_healthy=True,
    )


def test_plan_activity_reports_world_errors_as_validation() -> None:
    acts = CloudActivities(SimCloud(health_delay_s=0))
    out = ActivityEnvironment().run(
        acts.plan_operation, PlanInput("op", "createServerGroup", create_context(account="nosuchaccount"))
    )
    assert out.plan is None
    assert [(e.kind, e.field, e.code) for e in out.errors] == [(ErrorKind.VALIDATION, "credentials", "unknown_account")]


def test_plan_activity_turns_a_refusal_into_a_non_retryable_failure() -> None:
    acts = CloudActivities(SimCloud(health_delay_s=0))
    clone = {
        "cloudProvider": "aws",
        "credentials": "test",
        "source": {"account": "test", "region": "us-east-1", "serverGroupName": "myapp-main-v404"},
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
    }  # a clone of a group that does not exist (a missing group to resize is skipped, as Clouddriver does)
    inp = PlanInput("op", "cloneServerGroup", clone)
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(acts.plan_operation, inp)
    assert raised.value.non_retryable and raised.value.type == "NotFound"


def test_step_applies_once_heartbeats_and_resumes_from_heartbeat_details() -> None:
    sim = SimCloud(health_delay_s=0.05)
    acts = CloudActivities(sim, poll_interval_s=0.01)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    first = env.run(acts.execute_step, _step_input(sim, _create_mutation()))
    assert not first.resumed and first.result["name"] == "myapp-main-v001"
    # The wait's first heartbeat (the group not healthy yet) records that the mutation is applied.
    assert beats and beats[0] == {"applied": True, "result": first.result, "polls": 1}
    assert len(sim.journal()) == 1

    # A later attempt that finds "applied" in the heartbeat details resumes the wait; the cloud sees no new call.
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=[beats[0]])
    second = retry.run(acts.execute_step, _step_input(sim, _create_mutation()))
    assert second.resumed and second.result == first.result
    assert len(sim.journal()) == 1


def test_a_step_healthy_at_once_returns_without_a_heartbeat() -> None:
    sim = SimCloud(health_delay_s=0)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    done = env.run(CloudActivities(sim, poll_interval_s=0.01).execute_step, _step_input(sim, _create_mutation()))
    assert done.polls == 1 and beats == []


def test_a_wait_longer_than_its_slice_hands_back_to_the_retry_policy() -> None:
    sim = SimCloud(health_delay_s=3600)
    acts = CloudActivities(sim, poll_interval_s=0.01, wait_slice_s=0)
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details[0])
    with pytest.raises(ApplicationError) as raised:
        env.run(acts.execute_step, _step_input(sim, _create_mutation()))
    assert raised.value.type == CAPACITY_NOT_HEALTHY and not raised.value.non_retryable
    assert raised.value.category is ApplicationErrorCategory.BENIGN
    assert StepProgress.from_details([beats[-1]]) == StepProgress(applied=True, result=beats[-1]["result"], polls=1)  # type: ignore[index]


def test_step_failures_keep_the_cloud_error_code_and_retryability() -> None:
    sim = SimCloud(health_delay_s=0)
    name = seeded_group(sim)
    acts = CloudActivities(sim)
    too_big = Mutation(
        step=0,
        kind=MutationKind.RESIZE_SERVER_GROUP,
        account="test",
        region="us-east-1",
        target=name,
        params={"capacity": {"min": 0, "max": 100000, "desired": 100000}},
    )
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(acts.execute_step, _step_input(sim, too_big))
    assert refused.value.non_retryable and refused.value.type == "CapacityOutOfBounds"
    sim.set_hard_down(account="test")
    with pytest.raises(ApplicationError) as down:
        ActivityEnvironment().run(acts.execute_step, _step_input(sim, _create_mutation()))
    assert not down.value.non_retryable and down.value.type == "Unavailable"


# -- search attributes and connection settings ------------------------------------------------------------------


def test_search_attributes_from_dimensions() -> None:
    attrs = typed_attributes(
        {"application": "myapp", "account": "prod", "operation": "x", "provider": "", "stage_type": ""}
    )
    assert {p.key.name: p.value for p in attrs} == {"Application": "myapp", "Account": "prod", "Operation": "x"}
    names = ["Application", "Account", "Operation", "Provider", "StageType", "Outcome"]
    assert [k.name for k in SEARCH_ATTRIBUTES] == names
    assert "StageType=Keyword" in dev_server_args() and "Outcome=Keyword" in dev_server_args()


def test_dev_server_args_raise_the_transfer_queue_read_limit_unless_untuned() -> None:
    tuned, untuned = dev_server_args(), dev_server_args(tuned=False)
    assert "history.transferProcessorMaxPollRPS=1000" in tuned
    assert tuned[tuned.index("history.transferProcessorMaxPollRPS=1000") - 1] == "--dynamic-config-value"
    assert "--dynamic-config-value" not in untuned and "StageType=Keyword" in untuned


def test_settings_read_temporal_environment_then_explicit_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "ops")
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret")
    kwargs = ConnectionSettings().connect_kwargs()
    assert (kwargs["target_host"], kwargs["namespace"], kwargs["api_key"], kwargs["tls"]) == (
        "temporal.example:7233",
        "ops",
        "secret",
        True,
    )
    explicit = ConnectionSettings(address="other:7233", namespace="n2").connect_kwargs()
    assert (explicit["target_host"], explicit["namespace"]) == ("other:7233", "n2")
    assert ConnectionSettings.local().connect_kwargs() == {"target_host": "localhost:7233", "namespace": "default"}


def test_settings_read_a_profile_from_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    config = tmp_path / "temporal.toml"
    config.write_text('[profile.cloud]\naddress = "ns.acct.tmprl.cloud:7233"\nnamespace = "ns.acct"\n')
    kwargs = ConnectionSettings(profile="cloud", config_file=config).connect_kwargs()
    assert (kwargs["target_host"], kwargs["namespace"]) == ("ns.acct.tmprl.cloud:7233", "ns.acct")


def test_bad_tls_settings_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConnectionConfigError, match="--tls-key"):
        ConnectionSettings.local().with_overrides(tls_cert=tmp_path / "c.pem").connect_kwargs()
    with pytest.raises(ConnectionConfigError, match="cannot read --tls-ca"):
        ConnectionSettings.local().with_overrides(tls_ca=tmp_path / "missing.pem").connect_kwargs()
    (tmp_path / "c.pem").write_text("cert")
    (tmp_path / "k.pem").write_text("key")
    tls = ConnectionSettings.local().with_overrides(tls_cert=tmp_path / "c.pem", tls_key=tmp_path / "k.pem")
    assert tls.connect_kwargs()["tls"].client_cert == b"cert"
