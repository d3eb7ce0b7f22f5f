"""Real components for tests, really started: redis-server, PostgreSQL, subprocess services.

Each starter returns a handle that stops the process; fixtures in conftest.py wrap them. Nothing here downloads:
the binaries come from Debian's packages (installed by `make test`) and from the venv.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from processes import free_port, port_open

REPO_ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> None:
    """Poll `predicate` until it is true; raise TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")


def http_ok(url: str) -> bool:
    """Whether `url` answers without a server error. Looser than `processes.http_ok` (200 only) on purpose: the
    tests probe services whose root answers 404 or 401 once they are up."""
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class Process:
    """A started subprocess with its port; `kill()` is SIGKILL (a crash), `stop()` a clean SIGTERM."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_process(
    argv: Sequence[str],
    port: int,
    *,
    ready: Callable[[], bool] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
    name: str = "process",
    user: str | None = None,
) -> Process:
    """Start `argv`, wait until `ready()` (default: the port accepts connections), and return it."""
    log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
    log = log_path.open("wb")
    popen = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO_ROOT,
        user=user,
        group=user,
    )
    proc = Process(popen=popen, port=port, log_path=log_path)
    try:
        wait_until(lambda: popen.poll() is None and (ready() if ready else port_open(port)), timeout=timeout, what=name)
    except TimeoutError:
        proc.kill()
        raise RuntimeError(f"{name} did not start: {' '.join(argv)}\n{proc.log()[-3000:]}") from None
    return proc


def venv_binary(name: str) -> str | None:
    """A console script installed by a package (temporal, temporal-test-server): on PATH, or beside this Python."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


def cloudops_argv(*args: str) -> list[str]:
    """Run the `cloudops` command of this checkout, whichever venv the tests run in."""
    return [sys.executable, "-m", "cloudops", *args]


def start_redis(port: int | None = None) -> Process:
    """A throwaway redis-server on loopback with persistence off."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test`, which installs Debian's redis-server")
    port = port or free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return start_process(argv, port, name="redis")


def _postgres_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make test`, which installs Debian's postgresql")
    return found[-1]


def _postgres_user() -> str | None:
    # initdb and postgres refuse to run as root; Debian's package creates the `postgres` user for this.
    return "postgres" if os.geteuid() == 0 else None


def start_postgres() -> Process:
    """A throwaway PostgreSQL cluster in a temp dir on a free port; `extra['url']` is its SQLAlchemy URL."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="cloudops-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    user = _postgres_user()
    subprocess.run(
        [_postgres_bin("initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        user=user,
        group=user,
    )
    argv = [_postgres_bin("postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(data_dir), "-h", "127.0.0.1"]
    proc = start_process(argv, port, name="postgres", timeout=30, user=user)
    wait_until(
        lambda: (
            subprocess.run(
                [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            ).returncode
            == 0
        ),
        what="postgres ready",
    )
    proc.extra["url"] = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    proc.extra["data_dir"] = str(data_dir)
    return proc
