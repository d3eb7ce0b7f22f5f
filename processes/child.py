"""One child process with its log: launched from a single spawner thread, waited on, stopped or killed.

Every child gets SIGTERM if this process dies (Linux PR_SET_PDEATHSIG), so no service outlives `cloudops dev` or
a benchmark interrupted midway. That signal fires when the *thread* that forked the child ends, not the process:
a child started from a short-lived thread (a restart by a killer thread) would get SIGTERM as soon as that thread
finished. Every child is therefore forked by one spawner thread, which lives as long as this process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

__all__ = [
    "ChildProcess",
    "ProcessFailed",
    "child_environment",
    "free_port",
    "http_ok",
    "launch",
    "module_argv",
    "port_open",
]

_PR_SET_PDEATHSIG = 1
_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


class ProcessFailed(Exception):
    """A child exited while starting, or did not become ready in time; the message names it and ends with the tail
    of its log."""

    def __init__(self, message: str, *, name: str, log_path: Path) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.log_path = log_path


@dataclass(slots=True)
class ChildProcess:
    """A running child: `name`, its `process`, and its log (shared with earlier runs: this run starts at
    `log_offset`)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int = 0
    started_at: float = 0.0  # time.monotonic() at launch

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What this run of the process has logged."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def wait_ready(self, ready: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.1) -> None:
        """Poll `ready` (an exception counts as not ready) until it is true, for `timeout_s` from the launch.

        ProcessFailed if the process exits first or the time runs out; the process is left as it is."""
        deadline = self.started_at + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise self._failed(f"exited with code {self.process.returncode} while starting")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(interval_s)
        raise self._failed(f"did not become ready within {timeout_s:.0f}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if not self.alive():
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self, wait_s: float = 30.0) -> None:
        """SIGKILL: a crash, nothing gets to clean up."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=wait_s)

    def _failed(self, what: str) -> ProcessFailed:
        message = f"{self.name} {what}; see {self.log_path}:\n{self.tail()}"
        return ProcessFailed(message, name=self.name, log_path=self.log_path)


def launch(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    header: str | None = None,
    new_session: bool = False,
) -> ChildProcess:
    """Start `argv` with stdout and stderr appended to `log_path` after a `=== header` line (default: the time and
    the command), in `child_environment()` plus `env`. `new_session`: its own session, so a Ctrl-C in the terminal
    reaches only us (and we stop the children in order)."""
    with log_path.open("ab") as log:
        log.write(f"\n=== {header or time.strftime('%Y-%m-%d %H:%M:%S') + ' ' + ' '.join(argv)}\n".encode())
        log.flush()
        offset = log.tell()
        process = _spawn(list(argv), log, {**child_environment(), **(env or {})}, new_session)
    return ChildProcess(name, process, log_path, log_offset=offset, started_at=time.monotonic())


def _spawn(argv: list[str], log: IO[bytes], env: dict[str, str], new_session: bool) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="process-spawner")
        spawner = _spawner
    return spawner.submit(
        subprocess.Popen,
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=new_session,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    ).result()


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the thread that forked it (the spawner, alive as long as we are) ends."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def child_environment() -> dict[str, str]:
    """Our environment without TEMPORAL_* settings, which could point a child worker at another cluster than the
    local one; unbuffered Python output, so readiness lines reach the log at once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def module_argv(module: str, *args: str) -> list[str]:
    """`python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    """Whether `url` answers 200 within a second (False when it does not answer at all)."""
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
