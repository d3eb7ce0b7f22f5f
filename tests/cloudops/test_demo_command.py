"""`cloudops demo` end to end on the real embedded stack, and the stack's console and worker restart it relies on.

A short demo (--ops small, --json, --exit, small min-ops) runs as a subprocess: its JSON must add up, its rollouts
must have left shadow on their gates' evidence, and its report must be one self-contained HTML file. The stack test
starts Temporal, the sim cloud, the worker and the console, signs in with the login the stack made, SIGKILLs and
restarts the worker, and runs an operation on the new one.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from infra import REPO_ROOT, cloudops_argv, free_port

from cloudops.devstack import EmbeddedStack, StackConfig
from router.contract import OperationRequest
from router.durable import DurableRunner

pytestmark = [pytest.mark.temporal, pytest.mark.slow]


def test_a_short_demo_reports_numbers_that_add_up_and_a_self_contained_report(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    argv = cloudops_argv(
        "demo", "--ops", "72", "--json", "--exit", "--min-ops", "2", "--step-seconds", "1", "--kill-every", "0"
    )
    argv += ["--poll-interval", "0.5"]
    done = subprocess.run(
        [*argv, "--state-dir", str(state), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)

    paths = summary["paths"]
    assert summary["operations"] == paths["legacy"]["operations"] + paths["durable"]["operations"]
    assert summary["operations"] <= summary["plannedOperations"] == 72
    for path in paths.values():
        assert sum(path["byOperation"].values()) == path["operations"]
        assert path["succeeded"] + path["failed"] == path["operations"]
    pipelines = summary["pipelines"]
    assert pipelines["succeeded"] + pipelines["failed"] + pipelines["stopped"] == 18
    assert pipelines["failed"] > 0 or summary["operations"] == 72  # only a failed stage skips the rest

    assert sum(summary["shadowComparisons"].values()) > 0
    assert summary["unshadowedOperations"] == ["destroyServerGroup"]
    assert len(summary["rollouts"]) == 9
    # 8 operations a scope are enough to pass shadow (2 comparisons, 1 s) but rarely a canary step.
    moved = [r for r in summary["rollouts"] if r["stage"] in ("canary", "durable") and r["moves"] >= 1]
    assert len(moved) >= 5, [(r["scope"], r["label"], r["why"]) for r in summary["rollouts"]]

    report = Path(summary["report"])
    assert report.parent == state.resolve() and report.exists()
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html>") and "<svg" in html
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", html)  # nothing fetched
    assert (state / "cloudops.db").exists() and (state / "temporal.db").exists()
    assert {p.name for p in (state / "logs").iterdir()} >= {"temporal.log", "worker.log", "console.log"}
    assert summary["console"]["user"] == "demo" and summary["console"]["password"]
    assert "stopping temporal" in done.stderr


def test_demo_refuses_bad_input_without_a_traceback(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "cloudops.db").write_text("")
    for args, expected in (
        (["--steps", "50,20"], "steps must rise strictly"),
        (["--state-dir", str(used)], "already holds a demo run"),
        (["--fault-rate", "2"], "Invalid value for '--fault-rate'"),
    ):
        done = subprocess.run(cloudops_argv("demo", *args), capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
        assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr


def _signed_in(console_url: str, user: str, password: str) -> int:
    with httpx.Client(base_url=console_url, timeout=10) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        data = {"username": user, "password": password, **({"csrf_token": token.group(1)} if token else {})}
        return client.post("/login", data=data).status_code


def test_the_stack_serves_the_console_and_restarts_a_killed_worker(tmp_path: Path) -> None:
    config = StackConfig(
        state_dir=tmp_path / "stack",
        temporal_port=free_port(),
        ui=False,
        sim_port=free_port(),
        metrics_port=free_port(),
        console_port=free_port(),
        health_delay_s=0.1,
        with_clouddriver=False,
        console_user="demo",
    )
    with EmbeddedStack(config) as stack:
        login = stack.console_login
        assert login is not None and login.user == "demo"
        assert "password_hash" in login.config_path.read_text() and login.password not in login.config_path.read_text()
        assert _signed_in(login.url, "demo", login.password) == 302
        assert _signed_in(login.url, "demo", "wrong") == 401

        worker = stack.service("worker")
        assert worker is not None
        old_pid = worker.process.pid
        # From a thread that then ends, as the demo's chaos thread does: the new worker must outlive that thread.
        took: list[float] = []
        restarter = threading.Thread(target=lambda: took.append(stack.restart_worker()))
        restarter.start()
        restarter.join(timeout=90)
        gone = took[0]
        restarted = stack.service("worker")
        assert restarted is not None and restarted.process.pid != old_pid
        time.sleep(1.0)
        assert restarted.alive(), restarted.output()[-2000:]
        assert worker.process.returncode == -9 and gone > 0 and stack.worker_restarts == 1
        assert [s.name for s in stack.services] == ["temporal", "sim-cloud", "worker", "console", "rollout-controller"]

        runner = DurableRunner(stack.temporal_address, task_queue=config.task_queue)
        try:
            result = runner.run(
                OperationRequest(
                    operation_id=f"restart-{uuid.uuid4().hex[:8]}",
                    operation="cloneServerGroup",
                    stage_type="cloneServerGroup",
                    account="test",
                    application="myapp",
                    provider="aws",
                    context={  # a clone of a group that does not exist: refused at once
                        "cloudProvider": "aws",
                        "credentials": "test",
                        "source": {"account": "test", "region": "us-east-1", "serverGroupName": "myapp-main-v404"},
                        "availabilityZones": {"us-east-1": ["us-east-1a"]},
                    },
                )
            )
        finally:
            runner.close()
        assert not result.succeeded and result.errors[0].code == "NotFound"  # answered: the new worker is polling
    assert not restarted.alive()
