"""The gateway end to end, with the real services as processes: the Temporal dev server, `cloudops sim-cloud`,
`cloudops clouddriver`, `cloudops worker` and `cloudops gateway`, flags in the shared SQLite database.

Orca is played by `LegacyRunner` (which behaves as Orca does) pointed at the gateway: the same pipeline
(createServerGroup, resizeServerGroup, disableServerGroup, destroyServerGroup) succeeds with the same results at
every stage (legacy, shadow, canary 50%, durable), each operation on the path its flags chose, with a clean sim
journal; a list mixing both paths runs in order; and a gateway SIGKILLed in the middle of a durable operation,
restarted, still reports it to completion, records every outcome once, and answers for the tasks it issued
before. With the legacy service behind it as its upstream (`--upstream`, the stand-in for a real Clouddriver), the
gateway takes only the list the flags send to durable, and everything else (a legacy-routed list, its task, the
reads) passes through.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from infra import Process, cloudops_argv, free_port, http_ok, start_process, wait_until

import migrations
from cloud.plan import MutationKind
from cloud.sim import summarise_journal
from cloud.sim.client import SimCloudClient
from flags import SqlFlagStore
from gateway import operation_id_for
from router.contract import OperationHandle, OperationRequest, OperationResult, OperationState, Path
from router.legacy import LegacyRunner, client_request_id
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

ACCOUNT, REGION = "test", "us-east-1"
STAGES = {"gwlegacy": ("legacy", None), "gwshadow": ("shadow", None), "gwcanary": ("canary", 50.0)}
STAGES["gwdurable"] = ("durable", None)
PIPELINE = ("createServerGroup", "resizeServerGroup", "disableServerGroup", "destroyServerGroup")


@dataclass
class Stack:
    sim: Process
    clouddriver: Process
    worker: Process
    config: FsPath
    engine: sa.Engine

    def gateway(self, port: int | None = None, upstream: str | None = None) -> Process:
        port = port or free_port()
        behind = ["--upstream", upstream] if upstream else []
        return start_process(
            cloudops_argv("gateway", "--port", str(port), "--config", str(self.config), *behind),
            port,
            ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
            name="gateway",
            timeout=40,
        )


@pytest.fixture(scope="module")
def stack(temporal_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    address = temporal_env.client.service_client.config.target_host
    queue = f"gateway-e2e-{uuid.uuid4()}"
    state = tmp_path_factory.mktemp("gateway-e2e")
    sim_port, cd_port = free_port(), free_port()
    # Instances turn healthy 1.5 s after launch: long enough to kill a gateway in the middle of an operation.
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "1.5", "--seed", "7"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    clouddriver = start_process(
        cloudops_argv("clouddriver", "--port", str(cd_port), "--cloud", sim.url),
        cd_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{cd_port}/health"),
        env={"CLOUDDRIVER_HEALTH_POLL_S": "0.05", "CLOUDDRIVER_PROVIDER_BACKOFF_S": "0.05"},
        name="clouddriver",
    )
    worker_argv = ["worker", "--cloud", sim.url, "--task-queue", queue, "--address", address]
    worker_argv += ["--health-poll", "0.05", "--graceful-shutdown", "1"]
    worker = start_process(cloudops_argv(*worker_argv), 0, ready=lambda: True, name="worker")

    url = f"sqlite:///{state / 'cloudops.db'}"
    migrations.upgrade(url)
    store = SqlFlagStore(url)
    scopes: list[tuple[str, float | None, dict[str, str]]] = [
        (stage, percent, {"application": app}) for app, (stage, percent) in STAGES.items()
    ]
    scopes.append(("durable", None, {"application": "gwmixed", "operation": "createServerGroup"}))
    scopes.append(("durable", None, {"application": "gwkill"}))
    scopes.append(("durable", None, {"application": "gwupd"}))
    for stage, percent, scope in scopes:
        store.set_property("cloudops.migration.stage", stage, scope, actor="e2e", reason="e2e", percent=percent)
    store.close()
    config = state / "gateway.yaml"
    router = {
        "legacy_url": clouddriver.url,
        "legacy_poll_interval_s": 0.05,
        "temporal_address": address,
        "temporal_task_queue": queue,
        "database_url": url,
        "flag_poll_interval_s": 0.2,
        "shadow_timeout_s": 30,
    }
    gateway = {"cloud": sim.url, "tick_s": 0.05, "lease_s": 1.0, "progress_timeout_s": 1.0}
    config.write_text(yaml.safe_dump({"router": router, "gateway": gateway}))
    engine = sa.create_engine(url)
    try:
        yield Stack(sim, clouddriver, worker, config, engine)
    finally:
        engine.dispose()
        for proc in (worker, clouddriver, sim):
            proc.stop()


def orca(gateway: Process) -> LegacyRunner:
    return LegacyRunner(gateway.url, poll_interval_s=0.05, submit_backoff_s=0.1, read_backoff_s=0.01)


def context(app: str, operation: str) -> dict[str, Any]:
    name = f"{app}-main-v000"
    if operation == "createServerGroup":
        return {
            "application": app,
            "stack": "main",
            "availabilityZones": {REGION: [f"{REGION}a"]},
            "capacity": {"min": 1, "max": 3, "desired": 2},
            "amiName": f"{app}-1.0",
            "instanceType": "m5.large",
        }
    if operation == "resizeServerGroup":
        return {"region": REGION, "serverGroupName": name, "capacity": {"min": 1, "max": 3, "desired": 1}}
    return {"region": REGION, "serverGroupName": name}


def request(app: str, operation: str, **extra: Any) -> OperationRequest:
    ctx = {**context(app, operation), **extra}
    return OperationRequest(f"{app}-{operation}", operation, operation, ACCOUNT, app, "aws", ctx)


def gateway_operation_id(outer: OperationRequest, position: int = 0) -> str:
    """The id the gateway gives the operation LegacyRunner submits (its clientRequestId, position 0)."""
    return operation_id_for(client_request_id(outer.operation_id), position)


def owners(stack: Stack, ids: list[str]) -> list[str]:
    with stack.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(operation_owners.c.operation_id, operation_owners.c.path)).all())
    return [rows[i] for i in ids]


def outcomes(stack: Stack, ids: list[str]) -> list[int]:
    """How many outcome rows each operation has."""
    query = sa.select(operation_outcomes.c.operation_id, sa.func.count()).group_by(operation_outcomes.c.operation_id)
    with stack.engine.connect() as conn:
        counts = dict(conn.execute(query.where(operation_outcomes.c.operation_id.in_(ids))).all())
    return [int(counts.get(i, 0)) for i in ids]


def normalised(app: str, result: OperationResult) -> str:
    """What a caller sees of a result, with the application's name taken out."""
    seen = {
        "status": result.status.value,
        "outputs": dict(result.outputs),
        "plan": result.plan,
        "errors": [e.to_json() for e in result.errors],
    }
    return json.dumps(seen, sort_keys=True).replace(app, "APP")


def journal_of(stack: Stack, app: str) -> list[MutationKind]:
    with SimCloudClient(stack.sim.url) as sim:
        return [e.kind for e in sim.journal() if e.target.startswith(app)]


@pytest.fixture
def gateway(stack: Stack) -> Iterator[Process]:
    proc = stack.gateway()
    yield proc
    proc.stop()  # SIGTERM: the driver finishes its round, releases its leases, and the process exits cleanly
    assert proc.popen.returncode == 0, proc.log()[-3000:]


def test_the_same_pipeline_succeeds_with_the_same_results_at_every_stage(stack: Stack, gateway: Process) -> None:
    def pipeline(app: str) -> list[OperationResult]:
        with orca(gateway) as runner:
            return [runner.run(request(app, op)) for op in PIPELINE]

    with ThreadPoolExecutor(len(STAGES)) as pool:
        results = dict(zip(STAGES, pool.map(pipeline, STAGES), strict=True))

    for app, outcome in results.items():
        assert all(r.succeeded for r in outcome), (app, [r.errors for r in outcome])
        assert [normalised(app, r) for r in outcome] == [normalised("gwlegacy", r) for r in results["gwlegacy"]]
    created = results["gwdurable"][0].outputs
    assert created["deploy.server.groups"] == {REGION: ["gwdurable-main-v000"]}
    assert created["serverGroupNameByRegion"] == {REGION: "gwdurable-main-v000"}

    ids = {app: [gateway_operation_id(request(app, op)) for op in PIPELINE] for app in STAGES}
    assert owners(stack, ids["gwlegacy"]) == owners(stack, ids["gwshadow"]) == ["legacy"] * 4
    assert owners(stack, ids["gwdurable"]) == ["durable"] * 4
    assert set(owners(stack, ids["gwcanary"])) == {"legacy", "durable"}  # sticky 50%: both paths ran a step

    # Each operation mutated the cloud exactly once, whichever path ran it; the shadows (dry runs) never did.
    steps = [MutationKind(op) for op in PIPELINE]
    for app in STAGES:
        assert journal_of(stack, app) == steps, app
    with SimCloudClient(stack.sim.url) as sim:
        assert summarise_journal(sim.journal()).clean

    def compared() -> bool:
        query = sa.select(sa.func.count()).where(shadow_comparisons.c.operation_id.in_(ids["gwshadow"]))
        with stack.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0) == 4

    wait_until(compared, timeout=30, what="the shadow stage's four comparisons")


def test_a_list_mixing_both_paths_runs_in_order_with_the_results_before_each(stack: Stack, gateway: Process) -> None:
    body = [
        {"createServerGroup": context("gwmixed", "createServerGroup")},
        {"resizeServerGroup": context("gwmixed", "resizeServerGroup")},
    ]
    for item in body:
        next(iter(item.values()))["credentials"] = ACCOUNT
    answer = httpx.post(f"{gateway.url}/aws/ops", params={"clientRequestId": "mixed-1"}, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    task_id = answer.json()["id"]
    with orca(gateway) as runner:
        while (status := runner.poll(OperationHandle(Path.LEGACY, task_id))).state is OperationState.RUNNING:
            threading.Event().wait(0.05)
    assert status.result is not None and status.result.succeeded, status.result
    assert status.result.outputs["deploy.server.groups"] == {REGION: ["gwmixed-main-v000"]}

    task = httpx.get(f"{gateway.url}/task/{task_id}", timeout=10).json()
    assert [op["path"] for op in task["gatewayOperations"]] == ["durable", "legacy"]
    statuses = [h["status"] for h in task["history"]]
    durable_at = statuses.index("Processing op: CreateServerGroup")
    legacy_at = statuses.index("Processing op: ResizeAsgAtomicOperation")  # the legacy task's own history
    assert durable_at < legacy_at and any(s.startswith("Step 3/3 done: deploy") for s in statuses[durable_at:legacy_at])
    assert task["status"]["status"] == "Orchestration completed." and task["status"]["completed"]
    assert [r.get("type") for r in task["resultObjects"]] == [None, "cloudops.plan", "cloudops.plan"]
    assert journal_of(stack, "gwmixed") == [MutationKind.CREATE_SERVER_GROUP, MutationKind.RESIZE_SERVER_GROUP]
    assert (
        httpx.post(f"{gateway.url}/aws/ops", params={"clientRequestId": "mixed-1"}, json=body).json()["id"] == task_id
    )


def test_a_retryable_legacy_failure_is_resumed_through_the_gateway(stack: Stack, gateway: Process) -> None:
    """Titus operations are sagas: a transient failure leaves the legacy task FAILED_RETRYABLE; the gateway says so,
    and Orca's `:resume` reaches the legacy service through it until the cloud is back."""
    app, account = "gwtitus", "titustest"
    create = {
        "application": app,
        "stack": "main",
        "region": REGION,
        "imageId": f"titus/{app}:latest",
        "capacity": {"min": 1, "max": 3, "desired": 1},
        "resources": {"cpu": 2, "memory": 4096, "disk": 10000, "networkMbps": 128},
    }
    grow = {"region": REGION, "serverGroupName": f"{app}-main-v000", "capacity": {"min": 1, "max": 3, "desired": 2}}
    with orca(gateway) as runner, SimCloudClient(stack.sim.url) as sim:
        runner_resumes = LegacyRunner(gateway.url, poll_interval_s=0.05, read_backoff_s=0.01, resume_backoff_s=0.05)
        created = runner.run(OperationRequest(f"{app}-create", "createServerGroup", "c", account, app, "titus", create))
        assert created.succeeded, created.errors
        sim.set_hard_down(account=account)
        try:
            resize = OperationRequest(f"{app}-resize", "resizeServerGroup", "r", account, app, "titus", grow)
            handle = runner_resumes.start(resize)
            steps: list[str] = []
            while not any("resumed" in s for s in steps):
                status = runner_resumes.poll(handle)
                assert status.state is OperationState.RUNNING, status
                steps.append(status.step)
                threading.Event().wait(0.05)
        finally:
            sim.set_hard_down(account=account, down=False)
        while (status := runner_resumes.poll(handle)).state is OperationState.RUNNING:
            threading.Event().wait(0.05)
        runner_resumes.close()
        assert status.result is not None and status.result.succeeded, status.result
        group = sim.describe_server_group(account, REGION, f"{app}-main-v000")
        assert group is not None and group.capacity.desired == 2
    task = httpx.get(f"{gateway.url}/task/{handle.run_id}", timeout=10).json()
    assert task["gatewayOperations"][0]["path"] == "legacy" and task["sagaIds"]
    assert any("Re-initializing Orchestration Task" in h["status"] for h in task["history"])
    assert journal_of(stack, app) == [MutationKind.CREATE_SERVER_GROUP, MutationKind.RESIZE_SERVER_GROUP]


def test_a_gateway_killed_mid_durable_operation_still_reports_it_to_completion(stack: Stack) -> None:
    port = free_port()
    first = stack.gateway(port)
    restarted: Process | None = None
    try:
        with orca(first) as runner:
            created = runner.run(request("gwkill", "createServerGroup"))
            assert created.succeeded, created.errors
            grow = request("gwkill", "resizeServerGroup", capacity={"min": 1, "max": 3, "desired": 3})
            handle = runner.start(grow)

            def resized() -> bool:
                return journal_of(stack, "gwkill")[-1] is MutationKind.RESIZE_SERVER_GROUP

            wait_until(resized, timeout=20, what="the resize applied (its health wait has begun)")
            assert runner.poll(handle).state is OperationState.RUNNING
            first.kill()  # SIGKILL, in the middle of the durable operation's health wait
            assert runner.poll(handle).state is OperationState.RUNNING  # unreachable: Orca keeps polling

            restarted = stack.gateway(port)
            while (status := runner.poll(handle)).state is OperationState.RUNNING:
                threading.Event().wait(0.05)
        assert status.result is not None and status.result.succeeded, status.result
        assert owners(stack, [gateway_operation_id(grow)]) == ["durable"]
        task = httpx.get(f"{restarted.url}/task/{handle.run_id}", timeout=10).json()
        assert task["status"]["completed"] and any(h["status"].startswith("Step 3/3 done") for h in task["history"])

        # The restarted gateway answers for the task its predecessor issued and finished before the kill.
        earlier = httpx.get(f"{restarted.url}/task/{created.task_id}", timeout=10).json()
        assert earlier["status"]["completed"] and not earlier["status"]["failed"]
        assert earlier["resultObjects"][0]["serverGroupNameByRegion"] == {REGION: "gwkill-main-v000"}

        assert journal_of(stack, "gwkill") == [MutationKind.CREATE_SERVER_GROUP, MutationKind.RESIZE_SERVER_GROUP]
        with SimCloudClient(stack.sim.url) as sim:
            assert summarise_journal(sim.journal()).clean
            group = sim.describe_server_group(ACCOUNT, REGION, "gwkill-main-v000")
        assert group is not None and group.capacity.desired == 3

        # Every outcome recorded, once: the create by the killed gateway, the resize by the one that finished it.
        ids = [gateway_operation_id(request("gwkill", "createServerGroup")), gateway_operation_id(grow)]
        wait_until(lambda: outcomes(stack, ids) == [1, 1], timeout=20, what="one outcome per operation")
        threading.Event().wait(0.5)  # the restarted gateway polls on: still one each
        assert outcomes(stack, ids) == [1, 1]
    finally:
        first.kill()
        if restarted is not None:
            restarted.stop()


def test_with_the_clouddriver_behind_it_the_gateway_takes_only_what_goes_durable(stack: Stack) -> None:
    proc = stack.gateway(upstream=stack.clouddriver.url)
    try:
        with orca(proc) as runner:
            kept = runner.run(request("gwupl", "createServerGroup"))  # no flag: legacy, so Clouddriver's own
            moved = runner.run(request("gwupd", "createServerGroup"))  # durable: the gateway's task
        assert kept.succeeded and moved.succeeded, (kept.errors, moved.errors)
        assert kept.task_id is not None and moved.task_id is not None
        upstream_task = httpx.get(f"{stack.clouddriver.url}/task/{kept.task_id}", timeout=10)
        assert upstream_task.status_code == 200  # the upstream issued it; Orca polled it through the gateway
        assert httpx.get(f"{stack.clouddriver.url}/task/{moved.task_id}", timeout=10).status_code == 404
        ours = httpx.get(f"{proc.url}/task/{moved.task_id}", timeout=10).json()
        assert [op["path"] for op in ours["gatewayOperations"]] == ["durable"]
        assert kept.outputs["deploy.server.groups"] == {REGION: ["gwupl-main-v000"]}
        assert moved.outputs["deploy.server.groups"] == {REGION: ["gwupd-main-v000"]}

        direct = httpx.get(f"{stack.clouddriver.url}/credentials", params={"expand": "true"}, timeout=10)
        through = httpx.get(f"{proc.url}/credentials", params={"expand": "true"}, timeout=10)
        assert through.status_code == 200 and through.content == direct.content

        metrics = httpx.get(f"{proc.url}/metrics", timeout=10).text
        assert 'cloudops_gateway_passthrough_total{operation="createServerGroup",reason="legacy"} 1.0' in metrics
        assert 'cloudops_gateway_taken_total{operation="createServerGroup",reason="durable"} 1.0' in metrics
        for app in ("gwupl", "gwupd"):
            assert journal_of(stack, app) == [MutationKind.CREATE_SERVER_GROUP], app
    finally:
        proc.stop()
    assert proc.popen.returncode == 0, proc.log()[-3000:]
