"""`cloudops dev`: the embedded stack starts, answers on every address it prints, runs an operation end to end
(Temporal dev server with our search attributes, the sim cloud, the worker), and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from infra import REPO_ROOT, cloudops_argv, free_port, port_open, wait_until

from router.contract import OperationRequest
from router.durable import DurableRunner

pytestmark = [pytest.mark.temporal, pytest.mark.slow]


def test_dev_starts_the_stack_prints_addresses_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("temporal", "ui", "sim", "clouddriver", "metrics")}
    argv = cloudops_argv(
        "dev",
        "--json",
        "--state-dir",
        str(tmp_path / "state"),
        "--temporal-port",
        str(ports["temporal"]),
        "--ui-port",
        str(ports["ui"]),
        "--sim-port",
        str(ports["sim"]),
        "--clouddriver-port",
        str(ports["clouddriver"]),
        "--metrics-port",
        str(ports["metrics"]),
        "--health-delay",
        "0.2",
    )
    out, err = tmp_path / "dev.out", tmp_path / "dev.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        dev = subprocess.Popen(argv, stdout=stdout, stderr=stderr, cwd=REPO_ROOT)
    try:
        wait_until(lambda: '"ready": true' in out.read_text() or dev.poll() is not None, timeout=90, what="dev ready")
        assert dev.poll() is None, err.read_text()[-3000:]
        announced = json.loads(out.read_text().splitlines()[0])
        addresses = announced["addresses"]
        assert addresses["temporal"] == f"127.0.0.1:{ports['temporal']}"
        assert httpx.get(addresses["temporal-ui"], timeout=5).status_code == 200
        assert httpx.get(f"{addresses['sim-cloud']}/healthz", timeout=5).status_code == 200
        assert "temporal_" in httpx.get(addresses["worker-metrics"], timeout=5).text
        assert addresses["clouddriver"] == f"http://127.0.0.1:{ports['clouddriver']}"
        assert port_open(ports["clouddriver"])
        assert (tmp_path / "state" / "temporal.db").exists()
        assert {p.name for p in (tmp_path / "state" / "logs").iterdir()} >= {"temporal.log", "worker.log"}

        runner = DurableRunner(addresses["temporal"])
        try:
            request = OperationRequest(
                operation_id=f"dev-{uuid.uuid4().hex[:8]}",
                operation="upsertLoadBalancer",
                stage_type="upsertLoadBalancer",
                account="test",
                application="myapp",
                provider="aws",
                context={
                    "cloudProvider": "aws",
                    "credentials": "test",
                    "name": "myapp-main-frontend",
                    "availabilityZones": {"us-east-1": ["us-east-1a"]},
                    "listeners": [
                        {"externalProtocol": "HTTP", "externalPort": 80, "internalProtocol": "HTTP", "internalPort": 80}
                    ],
                },
            )
            result = runner.run(request)  # search attributes set at start: the dev server registered them
        finally:
            runner.close()
        assert result.succeeded, result.errors
        assert "us-east-1" in result.outputs["loadBalancers"]

        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0, err.read_text()[-3000:]
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
    log = err.read_text()
    assert log.index("stopping clouddriver") < log.index("stopping worker") < log.index("stopping temporal")
    assert log.rstrip().endswith("stopped")
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cloud", "bogus"], "Invalid value for --cloud: unknown cloud 'bogus'"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.pem"], "cannot read --tls-cert file"),
        (["--cloud", "sim", "--address", "127.0.0.1:{port}"], "cannot connect to Temporal at 127.0.0.1:"),
    ],
    ids=["bad-cloud", "missing-cert", "temporal-down"],
)
def test_worker_reports_bad_settings_without_a_traceback(args: list[str], expected: str) -> None:
    argv = cloudops_argv("worker", *(a.format(port=free_port()) for a in args))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert done.returncode in (1, 2)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
