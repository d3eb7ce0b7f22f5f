"""processes: a real child with its log, waited on, stopped, killed; a failure to start names the log's tail."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from processes import ProcessFailed, free_port, launch, module_argv, port_open

_SERVE = """
import socket, sys, time
print("starting", flush=True)
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_child_logs_becomes_ready_and_stops(tmp_path: Path) -> None:
    port = free_port()
    assert not port_open(port)
    log = tmp_path / "child.log"
    child = launch("server", [sys.executable, "-c", _SERVE, str(port)], log, header="first run")
    try:
        child.wait_ready(lambda: port_open(port) and "ready" in child.output(), timeout_s=30, interval_s=0.02)
        assert child.alive() and child.output().splitlines() == ["starting", "ready"]
    finally:
        child.stop(timeout_s=5)
    assert not child.alive() and child.process.returncode == -15  # SIGTERM
    again = launch("server", [sys.executable, "-c", "print('second')"], log)
    again.process.wait(timeout=30)
    assert again.output() == "second\n"  # this run only; the file keeps both
    assert "=== first run\nstarting\nready\n" in log.read_text() and log.read_text().endswith("second\n")


def test_kill_is_a_crash(tmp_path: Path) -> None:
    child = launch("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    child.kill()
    assert child.process.returncode == -9


def test_a_child_that_exits_while_starting_fails_with_its_log(tmp_path: Path) -> None:
    child = launch("broken", [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"], tmp_path / "b.log")
    with pytest.raises(ProcessFailed, match=r"broken exited with code 3 while starting; see .*b\.log:\nbad config"):
        child.wait_ready(lambda: False, timeout_s=30, interval_s=0.02)


def test_a_child_that_never_gets_ready_times_out_and_is_left_running(tmp_path: Path) -> None:
    child = launch("slow", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "slow.log")
    try:
        with pytest.raises(ProcessFailed, match="slow did not become ready within 0s") as raised:
            child.wait_ready(lambda: False, timeout_s=0.3, interval_s=0.02)
        assert raised.value.name == "slow" and raised.value.log_path == tmp_path / "slow.log" and child.alive()
    finally:
        child.kill()


def test_children_do_not_inherit_temporal_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
    code = "import os; print(os.environ.get('TEMPORAL_ADDRESS'), os.environ['PYTHONUNBUFFERED'], os.environ['EXTRA'])"
    child = launch("env", [sys.executable, "-c", code], tmp_path / "env.log", env={"EXTRA": "yes"})
    child.process.wait(timeout=30)
    assert child.output() == "None 1 yes\n"


def test_free_port_and_module_argv() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free indeed
    assert module_argv("cloudops", "dev") == [sys.executable, "-m", "cloudops", "dev"]
