"""RoutingRunner against the real services: Temporal dev server, worker, clouddriver, sim cloud, SQL flags.

Every stage with each path succeeding, failing as a business failure and failing in infrastructure; a flag
flipped between attempts never executes an operation twice; the sim cloud's journal proves shadows never mutate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from infra import Process, cloudops_argv, free_port, http_ok, start_process

import migrations
from cloud.sim.client import SimCloudClient
from flags import FlagClient, SqlFlagStore
from router.compare import ComparisonOutcome
from router.contract import ErrorKind, OperationRequest, OperationResult, Path, ResultStatus
from router.durable import DurableRunner
from router.legacy import LegacyRunner
from router.metrics import RouterMetrics
from router.ownership import SqlOwnership
from router.records import BufferedRecorder, SqlRecordStore
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.tables import operation_outcomes, shadow_comparisons

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

ACCOUNT, DOWN_ACCOUNT, REGION = "test", "prod", "us-west-2"


@dataclass
class Stack:
    sim: Process
    clouddriver: Process
    worker: Process
    address: str
    task_queue: str


@pytest.fixture(scope="module")
def stack(temporal_env: Any) -> Iterator[Stack]:
    address = temporal_env.client.service_client.config.target_host
    queue = f"router-e2e-{uuid.uuid4()}"
    sim_port, cd_port = free_port(), free_port()
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "0.1", "--seed", "3"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    env = {"CLOUDDRIVER_HEALTH_POLL_S": "0.05", "CLOUDDRIVER_PROVIDER_BACKOFF_S": "0.05"}
    clouddriver = start_process(
        cloudops_argv("clouddriver", "--port", str(cd_port), "--cloud", sim.url),
        cd_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{cd_port}/health"),
        env=env,
        name="clouddriver",
    )
    worker_argv = ["worker", "--cloud", sim.url, "--task-queue", queue, "--address", address]
    worker_argv += ["--health-poll", "0.05", "--graceful-shutdown", "1"]
    worker = start_process(cloudops_argv(*worker_argv), 0, ready=lambda: True, name="worker")
    try:
        yield Stack(sim, clouddriver, worker, address, queue)
    finally:
        for proc in (worker, clouddriver, sim):
            proc.stop()


@dataclass
class Routed:
    router: RoutingRunner
    store: SqlFlagStore
    flags: FlagClient
    engine: sa.Engine
    recorder: BufferedRecorder
    shadows: ShadowExecutor
    sim: SimCloudClient

    def stage(self, stage: str, percent: float | None = None) -> None:
        self.store.set_property(
            "cloudops.migration.stage", stage, {}, actor="e2e", reason=f"e2e {stage}", percent=percent
        )
        self.flags.refresh(force=True)

    def settle(self) -> None:
        assert self.shadows.drain(60)
        assert self.recorder.flush(10)


@pytest.fixture
def routed(stack: Stack, tmp_path: FsPath) -> Iterator[Routed]:
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    store = SqlFlagStore(url)
    # A short retry window so an infrastructure failure on the durable path ends within the test.
    store.set_property("cloudops.durable.retry_window_seconds", 4, {}, actor="e2e", reason="short window")
    flags = FlagClient.from_url(url, poll_interval=0.1)
    metrics = RouterMetrics()
    recorder = BufferedRecorder(SqlRecordStore(engine), metrics)
    shadows = ShadowExecutor(ShadowSettings(timeout_s=60), publish=recorder.record_comparison, metrics=metrics)
    legacy = LegacyRunner(stack.clouddriver.url, poll_interval_s=0.05, submit_backoff_s=0.1)
    durable = DurableRunner(stack.address, task_queue=stack.task_queue, max_retry_interval_seconds=1)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags,
        owners=SqlOwnership(engine),
        records=recorder,
        shadows=shadows,
        metrics=metrics,
        resources=(shadows, recorder, flags, legacy, durable),
    )
    sim = SimCloudClient(stack.sim.url)
    yield Routed(router, store, flags, engine, recorder, shadows, sim)
    router.close()
    sim.close()
    store.close()
    engine.dispose()


def _request(operation: str, context: dict[str, Any], op_id: str | None = None) -> OperationRequest:
    return OperationRequest(
        operation_id=op_id or f"e2e-{uuid.uuid4()}",
        operation=operation,
        stage_type="deploy",
        account=str(context["credentials"]),
        application="e2eapp",
        provider="aws",
        context=context,
    )


def _create(account: str, stack_name: str) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "application": "e2eapp",
        "stack": stack_name,
        "credentials": account,
        "availabilityZones": {REGION: [f"{REGION}a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": "e2eapp-1.0",
        "instanceType": "m5.large",
    }


def _clone_missing(account: str) -> dict[str, Any]:
    """A clone of a group that does not exist: the cloud refuses it (a missing group to resize is skipped)."""
    return {
        "cloudProvider": "aws",
        "credentials": account,
        "source": {"account": account, "region": REGION, "serverGroupName": "e2eapp-nothere-v000"},
        "availabilityZones": {REGION: [f"{REGION}a"]},
    }


def _journal(routed: Routed) -> list[Any]:
    return routed.sim.journal()


def _hard_down(stack: Stack, down: bool) -> None:
    reply = httpx.post(f"{stack.sim.url}/admin/hard-down", json={"account": DOWN_ACCOUNT, "down": down}, timeout=5)
    reply.raise_for_status()


EXPECTED_PATH = {"legacy": Path.LEGACY, "shadow": Path.LEGACY, "durable": Path.DURABLE, "complete": Path.DURABLE}
SHADOWED = {"shadow", "durable"}


@pytest.mark.parametrize("stage", ["legacy", "shadow", "durable", "complete"])
def test_every_stage_succeeds_fails_in_business_and_in_infrastructure(stage: str, routed: Routed, stack: Stack) -> None:
    routed.stage(stage)
    before = len(_journal(routed))

    ok = routed.router.run(_request("createServerGroup", _create(ACCOUNT, f"ok{stage}")))
    refused = routed.router.run(_request("cloneServerGroup", _clone_missing(ACCOUNT)))
    _hard_down(stack, True)
    try:
        broken = routed.router.run(_request("createServerGroup", _create(DOWN_ACCOUNT, f"down{stage}")))
    finally:
        _hard_down(stack, False)
    routed.settle()

    for result in (ok, refused, broken):
        assert result.path is EXPECTED_PATH[stage], result
        assert result.decision is not None and result.decision.stage == stage
    assert ok.status is ResultStatus.SUCCEEDED, ok.errors
    assert ok.outputs["serverGroupNameByRegion"] == {REGION: f"e2eapp-ok{stage}-v000"}
    assert refused.status is ResultStatus.FAILED and refused.errors[0].kind is ErrorKind.BUSINESS
    assert broken.status is ResultStatus.FAILED and broken.errors[0].kind is ErrorKind.INFRASTRUCTURE

    # The journal proves the shadows planned only: exactly the one create of the successful operation.
    applied = _journal(routed)[before:]
    assert [(e.kind, e.target) for e in applied] == [("createServerGroup", f"e2eapp-ok{stage}-v000")]

    with routed.engine.connect() as conn:
        outcomes = conn.execute(sa.select(operation_outcomes.c.path, operation_outcomes.c.status)).all()
        comparisons = conn.execute(sa.select(shadow_comparisons.c.outcome, shadow_comparisons.c.operation)).all()
    assert sorted(o.status for o in outcomes) == ["failed", "failed", "succeeded"]
    assert {o.path for o in outcomes} == {EXPECTED_PATH[stage].value}
    if stage in SHADOWED:
        by_operation = {(c.operation, c.outcome) for c in comparisons}
        # Both paths refusing the same missing source is a match; the create is compared plan against plan.
        assert ("cloneServerGroup", ComparisonOutcome.MATCH.value) in by_operation
        assert ("createServerGroup", ComparisonOutcome.MATCH.value) in by_operation
    else:
        assert comparisons == []


def test_a_flag_flipped_between_attempts_never_executes_an_operation_twice(routed: Routed) -> None:
    routed.stage("legacy")
    request = _request("createServerGroup", _create(ACCOUNT, "flip"), op_id=f"flip-{uuid.uuid4()}")
    before = len(_journal(routed))
    first = routed.router.run(request)
    routed.stage("complete")
    second = routed.router.run(request)
    routed.settle()
    assert first.succeeded and second.succeeded
    assert first.path is second.path is Path.LEGACY
    assert second.decision is not None and "owned by the legacy path" in second.decision.reason
    assert first.outputs == second.outputs
    creates = [e for e in _journal(routed)[before:] if e.kind == "createServerGroup"]
    assert [e.target for e in creates] == ["e2eapp-flip-v000"]


def test_canary_splits_operations_between_the_paths_each_executing_once(routed: Routed) -> None:
    routed.stage("canary", percent=50)
    before = len(_journal(routed))
    results: list[OperationResult] = [
        routed.router.run(_request("createServerGroup", _create(ACCOUNT, f"canary{i}"))) for i in range(8)
    ]
    routed.settle()
    assert all(r.succeeded for r in results), [r.errors for r in results if not r.succeeded]
    assert {r.path for r in results} == {Path.LEGACY, Path.DURABLE}
    creates = sorted(e.target for e in _journal(routed)[before:] if e.kind == "createServerGroup")
    assert creates == sorted(f"e2eapp-canary{i}-v000" for i in range(8))


def test_the_op_command_runs_starts_polls_and_routes_one_operation(stack: Stack, tmp_path: FsPath) -> None:
    import json

    from click.testing import CliRunner

    from cloudops.cli import cli

    url = f"sqlite:///{tmp_path / 'op.db'}"
    migrations.upgrade(url)
    SqlFlagStore(url).set_property("cloudops.migration.stage", "durable", {}, actor="e2e", reason="op command")
    env = {
        "CLOUDOPS_DATABASE_URL": url,
        "CLOUDOPS_LEGACY_URL": stack.clouddriver.url,
        "CLOUDOPS_LEGACY_POLL_INTERVAL_S": "0.05",
        "CLOUDOPS_TEMPORAL_ADDRESS": stack.address,
        "CLOUDOPS_TEMPORAL_TASK_QUEUE": stack.task_queue,
    }
    context = json.dumps(_create(ACCOUNT, "opcmd"))
    runner = CliRunner()
    base = ["--operation", "createServerGroup", "--context", context]

    routed = runner.invoke(cli, ["op", "route", *base, "--json"], env=env)
    assert routed.exit_code == 0, routed.output
    assert json.loads(routed.output)["path"] == "durable"

    ran = runner.invoke(cli, ["op", "run", *base, "--operation-id", "op-cmd-1", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.output)
    assert (result["status"], result["path"]) == ("succeeded", "durable")
    assert result["outputs"]["serverGroupNameByRegion"] == {REGION: "e2eapp-opcmd-v000"}

    started = runner.invoke(cli, ["op", "start", *base, "--operation-id", "op-cmd-1"], env=env)
    assert started.exit_code == 0, started.output
    handle = started.output.strip()
    assert handle == "durable:cloudop-op-cmd-1"
    polled = runner.invoke(cli, ["op", "poll", handle, "--json"], env=env)
    assert polled.exit_code == 0, polled.output
    assert json.loads(polled.output)["outputs"] == result["outputs"]  # attached: the same run, not a second one

    bad = runner.invoke(cli, ["op", "run", "--operation", "createServerGroup", "--context", "[1, 2]"], env=env)
    assert bad.exit_code == 2 and "must be a JSON object" in bad.output
