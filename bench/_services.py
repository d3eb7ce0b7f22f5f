"""The services a benchmark runs against, as real subprocesses it can SIGKILL and restart.

`Service` is one process (the Temporal dev server, `cloudops sim-cloud`, `cloudops clouddriver`, `cloudops
worker`) with its log file and readiness check; `Killer` SIGKILLs and restarts one service every S seconds. Each
child gets SIGTERM if the benchmark itself dies (Linux), so no service outlives a benchmark interrupted midway.
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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click
import httpx

from bench._support import temporal_binary

__all__ = [
    "Killer",
    "Service",
    "clouddriver",
    "empty_shape_worker",
    "free_port",
    "sim_cloud",
    "start_together",
    "temporal_dev_server",
    "worker",
]


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a service restarted by a
# Killer's thread would get SIGTERM as soon as that thread finished. Every child is therefore forked by this one
# thread, which lives as long as the benchmark's process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-spawner")


def _spawn(argv: Sequence[str], log: IO[bytes], env: dict[str, str]) -> subprocess.Popen[bytes]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    return _SPAWNER.submit(spawn).result()


@dataclass
class Service:
    """One subprocess: started and waited on until `ready(self)`, killed with SIGKILL, restarted on its port."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    ready: Callable[[Service], bool]
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 60.0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _offset: int = 0
    _launched: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """What the current run of the process has logged."""
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            return log.read().decode(errors="replace")

    def start(self) -> Service:
        """Launch the process and wait until it is ready."""
        return self.launch().wait()

    def launch(self) -> Service:
        """Start the process without waiting (see `start_together`)."""
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._offset = log.tell()
            self.process = _spawn(self.argv, log, {**_child_environment(), **self.env})
        self.starts += 1
        self._launched = time.monotonic()
        return self

    def wait(self) -> Service:
        """Block until the launched process is ready; kill it and raise ClickException if it never is."""
        deadline = self._launched + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise click.ClickException(f"{self.name} exited while starting; its log:\n{self._tail()}")
            with contextlib.suppress(Exception):
                if self.ready(self):
                    return self
            time.sleep(0.05)
        self.kill()
        raise click.ClickException(
            f"{self.name} did not become ready in {self.startup_timeout_s:.0f}s:\n{self._tail()}"
        )

    def kill(self) -> None:
        """SIGKILL: a crash, nothing gets to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def start_together(*services: Service) -> None:
    """Launch every service at once, then wait for each: independent services start in parallel."""
    for service in services:
        service.launch()
    for service in services:
        service.wait()


def _child_environment() -> dict[str, str]:
    # No TEMPORAL_* settings: they could point a worker at another cluster than the one the benchmark started.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cloudops(*args: str) -> list[str]:
    return [sys.executable, "-m", "cloudops", *args]


def sim_cloud(
    workdir: Path, *, fault_rate: float = 0.0, seed: int = 0, health_delay_s: float = 0.0, threads: int = 16
) -> Service:
    """`cloudops sim-cloud` on a free port (not started)."""
    port = free_port()
    argv = _cloudops(
        "sim-cloud",
        "--port",
        str(port),
        "--fault-rate",
        str(fault_rate),
        "--seed",
        str(seed),
        "--health-delay",
        str(health_delay_s),
        "--threads",
        str(threads),
    )
    return Service("sim-cloud", argv, port, workdir / f"sim-cloud-{port}.log", lambda s: _http_ok(f"{s.url}/healthz"))


def clouddriver(workdir: Path, cloud_url: str, *, settings: dict[str, str], threads: int = 32) -> Service:
    """`cloudops clouddriver` (tasks in memory) on a free port, with CLOUDDRIVER_* `settings` (not started)."""
    port = free_port()
    argv = _cloudops("clouddriver", "--port", str(port), "--cloud", cloud_url, "--threads", str(threads))
    env = {f"CLOUDDRIVER_{k}": v for k, v in settings.items()}
    return Service(
        "clouddriver", argv, port, workdir / f"clouddriver-{port}.log", lambda s: _http_ok(f"{s.url}/health"), env
    )


def _temporal_serving(service: Service) -> bool:
    if not _port_open(service.port):
        return False
    result = subprocess.run(
        [temporal_binary(), "operator", "cluster", "health", "--address", f"127.0.0.1:{service.port}"],
        capture_output=True,
        text=True,
        timeout=10,
        env=_child_environment(),
    )
    return result.returncode == 0 and "SERVING" in result.stdout


def temporal_dev_server(workdir: Path, *, db_file: Path | None = None, tuned: bool = True) -> Service:
    """`temporal server start-dev`, headless, started as ours are (`tuned=False`: with the dev server's own
    queue limits, see durable_runner/dev_server.py); in memory unless `db_file` (not started)."""
    from durable_runner.dev_server import dev_server_args

    port = free_port()
    argv = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"]
    argv += ["--log-level", "error", *dev_server_args(tuned=tuned)]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
    return Service("temporal", argv, port, workdir / f"temporal-{port}.log", _temporal_serving)


def worker(
    workdir: Path, cloud_url: str, temporal_address: str, task_queue: str, *, options: Sequence[str] = ()
) -> Service:
    """`cloudops worker` on `task_queue` with extra command-line `options` (not started)."""
    metrics = free_port()
    argv = _cloudops(
        "worker",
        "--cloud",
        cloud_url,
        "--address",
        temporal_address,
        "--namespace",
        "default",
        "--task-queue",
        task_queue,
        "--metrics-bind",
        f"127.0.0.1:{metrics}",
        *options,
    )

    def ready(service: Service) -> bool:
        return "worker ready" in service.output() and _port_open(metrics)

    return Service("worker", argv, metrics, workdir / f"worker-{task_queue}.log", ready)


def empty_shape_worker(workdir: Path, temporal_address: str, task_queue: str) -> Service:
    """`python -m bench.empty_shape` on `task_queue` (not started): see bench/empty_shape.py."""
    argv = [sys.executable, "-m", "bench.empty_shape", temporal_address, task_queue]
    log = workdir / f"empty-shape-{task_queue}.log"
    return Service("empty-shape worker", argv, 0, log, lambda s: "worker ready" in s.output())


class Killer:
    """SIGKILLs `service` every `every_s` seconds and restarts it at once, until `stop()`."""

    def __init__(self, service: Service, every_s: float) -> None:
        self.service = service
        self.every_s = every_s
        self.kills = 0
        self.downtime_s: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kill-{service.name}", daemon=True)

    def start(self) -> Killer:
        if self.every_s > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            down = time.monotonic()
            self.service.kill()
            self.kills += 1
            try:
                self.service.start()
            except click.ClickException as exc:  # reported in the JSON; the run goes on without the service
                self.errors.append(exc.message)
                return
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                return
            self.downtime_s.append(round(time.monotonic() - down, 2))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def to_json(self) -> dict[str, object]:
        down = self.downtime_s
        return {
            "every_s": self.every_s,
            "kills": self.kills,
            "mean_downtime_s": round(sum(down) / len(down), 2) if down else None,
            "restart_errors": self.errors,
        }
