"""No outcome lost, against the real services: the Temporal dev server and a worker, `cloudops clouddriver` (the
legacy path), `cloudops sim-cloud`, flags and records in one SQLite database.

A starter SIGKILLed in the middle of its operations (started, and run blocking, on both paths) leaves them to
the reconciler of another router, which records every one of them exactly once, each executed once; and
`cloudops op start` then `cloudops op poll` (two routers, one after the other) record one outcome and one
comparison per operation, on both paths.

Polling from a process that did not start the operation is how Orca works: MonitorKatoTask
(spinnaker/orca, orca-clouddriver/src/main/groovy/com/netflix/spinnaker/orca/clouddriver/tasks/
MonitorKatoTask.groovy) reads the task id from the stage context (`kato.last.task.id`) on every invocation, so
whichever Orca instance runs the task next, after a restart too, polls `GET /task/{id}` by that stored id.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from infra import REPO_ROOT, Process, cloudops_argv, free_port, http_ok, start_process, wait_until

import migrations
from cloud.sim.client import SimCloudClient
from flags import SqlFlagStore
from router.config import load_config
from router.factory import build_routing_runner
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

ACCOUNT, REGION = "test", "us-west-2"
# The application names the scope, and so the stage: each path, with and without a shadow.
STAGES = {
    "kstartleg": "shadow",  # started, legacy, a durable shadow
    "kstartdur": "durable",  # started, durable, a legacy shadow
    "krunleg": "legacy",  # run blocking on legacy: its handle is kept before the wait
    "krundur": "complete",  # run blocking on durable: no handle kept, the workflow id derives from the id
    "clileg": "shadow",
    "clidur": "durable",
}


@dataclass
class Stack:
    sim: Process
    clouddriver: Process
    address: str
    task_queue: str


@pytest.fixture(scope="module")
def stack(temporal_env: Any) -> Iterator[Stack]:
    address = temporal_env.client.service_client.config.target_host
    queue = f"outcomes-e2e-{uuid.uuid4()}"
    sim_port, cd_port = free_port(), free_port()
    # Instances turn healthy 2 s after launch: every create is still running when its starter is killed.
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "2", "--seed", "11"),
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
    try:
        yield Stack(sim, clouddriver, address, queue)
    finally:
        for proc in (worker, clouddriver, sim):
            proc.stop()


@dataclass
class Db:
    url: str
    config: FsPath
    engine: sa.Engine

    def outcomes(self, *columns: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(*(operation_outcomes.c[c] for c in columns))).all())

    def count(self, table: sa.Table, operation_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.operation_id == operation_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


@pytest.fixture
def db(stack: Stack, tmp_path: FsPath) -> Iterator[Db]:
    url = f"sqlite:///{tmp_path / 'outcomes.db'}"
    migrations.upgrade(url)
    store = SqlFlagStore(url)
    for app, stage in STAGES.items():
        store.set_property("cloudops.migration.stage", stage, {"application": app}, actor="e2e", reason="e2e")
    store.close()
    router = {
        "legacy_url": stack.clouddriver.url,
        "legacy_poll_interval_s": 0.05,
        "temporal_address": stack.address,
        "temporal_task_queue": stack.task_queue,
        "database_url": url,
        "flag_poll_interval_s": 0.2,
        "shadow_timeout_s": 30,
    }
    config = tmp_path / "router.yaml"
    config.write_text(yaml.safe_dump({"router": router}))
    engine = sa.create_engine(url)
    yield Db(url, config, engine)
    engine.dispose()


def context(app: str, run: str) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "application": app,
        "stack": run,
        "credentials": ACCOUNT,
        "availabilityZones": {REGION: [f"{REGION}a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-1.0",
        "instanceType": "m5.large",
    }


STARTER = """
import json, sys, threading, time
from router.config import load_config
from router.contract import OperationRequest
from router.factory import build_routing_runner

config, run, ops = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
router = build_routing_runner(load_config(config))
def request(app):
    return OperationRequest(ops[app]["id"], "createServerGroup", "deploy", "test", app, "aws", ops[app]["context"])
handles = {app: str(router.start(request(app))) for app in ("kstartleg", "kstartdur")}
for app in ("krunleg", "krundur"):
    threading.Thread(target=router.run, args=(request(app),), daemon=True).start()
print(json.dumps(handles), flush=True)
time.sleep(600)
"""


def test_a_starter_killed_mid_run_leaves_every_outcome_to_the_reconciler_once(
    stack: Stack, db: Db, tmp_path: FsPath
) -> None:
    run = f"k{uuid.uuid4().hex[:6]}"
    apps = ("kstartleg", "kstartdur", "krunleg", "krundur")
    ops = {app: {"id": f"{app}-{run}", "context": context(app, run)} for app in apps}
    script = tmp_path / "starter.py"
    script.write_text(STARTER)
    starter = subprocess.Popen(
        [sys.executable, str(script), str(db.config), run, json.dumps(ops)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=REPO_ROOT,
        text=True,
    )
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()
        handles = json.loads(line) if line.startswith("{") else pytest.fail(line + starter.stdout.read(2000))

        def all_claimed() -> bool:
            with db.engine.connect() as conn:
                rows = dict(conn.execute(sa.select(operation_owners.c.operation_id, operation_owners.c.handle)).all())
            # Every operation claimed; the blocking legacy run has kept its task's handle before its wait.
            return len(rows) == 4 and rows[ops["krunleg"]["id"]] is not None

        wait_until(all_claimed, timeout=20, what="the starter's four claims")
    finally:
        starter.kill()  # SIGKILL: nothing of the starter's memory survives, its record buffer included
        starter.wait(10)
    assert db.outcomes("operation_id") == []  # all four were still running: their starter recorded none
    assert handles["kstartdur"] == f"durable:cloudop-{ops['kstartdur']['id']}"

    survivor = build_routing_runner(
        load_config(db.config, environ={"CLOUDOPS_RECONCILE_INTERVAL_S": "0.2", "CLOUDOPS_RECONCILE_GRACE_S": "0.5"})
    )
    try:
        wait_until(lambda: len(db.outcomes("operation_id")) == 4, timeout=90, what="four reconciled outcomes")
        threading.Event().wait(1.0)  # a few more passes: nothing more may be recorded
    finally:
        survivor.close()
    rows = {r.operation_id: r for r in db.outcomes("operation_id", "path", "stage", "status", "application")}
    assert len(db.outcomes("operation_id")) == 4
    expected = {"kstartleg": "legacy", "kstartdur": "durable", "krunleg": "legacy", "krundur": "durable"}
    for app, path in expected.items():
        row = rows[ops[app]["id"]]
        assert (row.path, row.stage, row.status, row.application) == (path, STAGES[app], "succeeded", app)
        assert db.count(shadow_comparisons, ops[app]["id"]) <= 1
    assert survivor.metrics.value("cloudops_router_reconciled_total", {"path": "legacy"}) >= 2
    assert survivor.metrics.value("cloudops_router_reconciled_total", {"path": "durable"}) >= 2

    # Each operation executed once, on its one path; the shadows (dry runs) and the reconciler mutated nothing.
    with SimCloudClient(stack.sim.url) as sim:
        creates = sorted(e.target for e in sim.journal() if e.kind == "createServerGroup" and run in e.target)
    assert creates == sorted(f"{app}-{run}-v000" for app in apps)


def test_op_start_then_op_poll_records_one_outcome_and_one_comparison_on_each_path(db: Db) -> None:
    from click.testing import CliRunner

    from cloudops.cli import cli

    env = {"CLOUDOPS_DATABASE_URL": db.url}
    cli_runner = CliRunner()
    for app, path in (("clileg", "legacy"), ("clidur", "durable")):
        op_id = f"{app}-{uuid.uuid4().hex[:6]}"
        request = ["--operation", "createServerGroup", "--context", json.dumps(context(app, "cli"))]
        started = cli_runner.invoke(
            cli, ["op", "start", *request, "--operation-id", op_id, "--config", str(db.config)], env=env
        )
        assert started.exit_code == 0, started.output
        handle = started.output.strip()
        assert handle.startswith(f"{path}:")
        while True:
            polled = cli_runner.invoke(cli, ["op", "poll", handle, "--json", "--config", str(db.config)], env=env)
            if polled.exit_code != 2:
                break
            threading.Event().wait(0.2)
        assert polled.exit_code == 0, polled.output
        result = json.loads(polled.output)
        assert (result["path"], result["decision"]["stage"]) == (path, STAGES[app])
        again = cli_runner.invoke(cli, ["op", "poll", handle, "--config", str(db.config)], env=env)
        assert again.exit_code == 0, again.output
        assert db.count(operation_outcomes, op_id) == 1
        # The starter's shadow kept its half when `op start` closed; the poll that recorded the control paired it.
        assert db.count(shadow_comparisons, op_id) == 1
        with db.engine.connect() as conn:
            outcome = conn.execute(
                sa.select(shadow_comparisons.c.outcome).where(shadow_comparisons.c.operation_id == op_id)
            ).scalar()
        assert outcome == "match"
