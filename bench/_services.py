"""The services a benchmark runs against, as real subprocesses it can SIGKILL and restart.

`Service` is one process (the Temporal dev server, `cloudops sim-cloud`, `cloudops clouddriver`, `cloudops
worker`, redis-server, the reliability benchmark's orchestrator) with its log file and readiness check; `Killer`
SIGKILLs a group of services together every S seconds and restarts them in order (a state store before the
executor that needs it). The
processes are `processes.ChildProcess`es, as the embedded stack's are: each child gets SIGTERM if the benchmark
itself dies (Linux), so no service outlives a benchmark interrupted midway.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from bench._support import temporal_binary
from durable_runner.dev_server import dev_server_args, dev_server_serving
from processes import ChildProcess, ProcessFailed, child_environment, free_port, http_ok, launch, module_argv, port_open

__all__ = [
    "Killer",
    "Service",
    "clouddriver",
    "empty_shape_worker",
    "free_port",
    "redis_server",
    "sim_cloud",
    "start_together",
    "temporal_dev_server",
    "tree_argv",
    "worker",
]


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
    child: ChildProcess | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process if self.child is not None else None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child is not None else None

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def output(self) -> str:
        """What the current run of the process has logged."""
        return self.child.output() if self.child is not None else ""

    def start(self) -> Service:
        """Launch the process and wait until it is ready."""
        return self.launch().wait()

    def launch(self) -> Service:
        """Start the process without waiting (see `start_together`)."""
        header = f"start {self.starts + 1}: {' '.join(self.argv)}"
        self.child = launch(self.name, self.argv, self.log_path, env=self.env, header=header)
        self.starts += 1
        return self

    def wait(self) -> Service:
        """Block until the launched process is ready; kill it and raise ClickException if it never is."""
        assert self.child is not None, "launch() first"
        try:
            self.child.wait_ready(lambda: self.ready(self), timeout_s=self.startup_timeout_s, interval_s=0.05)
        except ProcessFailed as exc:
            self.kill()
            raise click.ClickException(exc.message) from exc
        return self

    def kill(self) -> None:
        """SIGKILL: a crash, nothing gets to clean up."""
        if self.child is not None:
            self.child.kill()

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self.child is not None:
            self.child.stop(timeout_s)


def start_together(*services: Service) -> None:
    """Launch every service at once, then wait for each: independent services start in parallel."""
    for service in services:
        service.launch()
    for service in services:
        service.wait()


def sim_cloud(
    workdir: Path, *, fault_rate: float = 0.0, seed: int = 0, health_delay_s: float = 0.0, threads: int = 16
) -> Service:
    """`cloudops sim-cloud` on a free port (not started)."""
    port = free_port()
    argv = module_argv(
        "cloudops",
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
    return Service("sim-cloud", argv, port, workdir / f"sim-cloud-{port}.log", lambda s: http_ok(f"{s.url}/healthz"))


def clouddriver(workdir: Path, cloud_url: str, *, settings: dict[str, str], threads: int = 32) -> Service:
    """`cloudops clouddriver` (tasks in memory) on a free port, with CLOUDDRIVER_* `settings` (not started)."""
    port = free_port()
    argv = module_argv("cloudops", "clouddriver", "--port", str(port), "--cloud", cloud_url, "--threads", str(threads))
    env = {f"CLOUDDRIVER_{k}": v for k, v in settings.items()}
    return Service(
        "clouddriver", argv, port, workdir / f"clouddriver-{port}.log", lambda s: http_ok(f"{s.url}/health"), env
    )


def redis_server(workdir: Path) -> Service:
    """redis-server on a free port with its append-only file in `workdir` (not started).

    `appendonly yes` with `appendfsync everysec` is how a task store that must survive its process is run: every
    write reaches the file (the OS's page cache) before the reply, so a SIGKILL of the process loses nothing; only
    losing the machine could cost the last second. Restarted, it loads the file back."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise click.ClickException("redis-server is not installed: install Debian's redis-server (`make test` does)")
    port = free_port()
    data = workdir / f"redis-{port}"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data), "--save", ""]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec"]

    def ready(service: Service) -> bool:
        return port_open(service.port) and "Ready to accept connections" in service.output()

    return Service("redis", argv, port, workdir / f"redis-{port}.log", ready)


def _temporal_serving(service: Service) -> bool:
    address = f"127.0.0.1:{service.port}"
    return port_open(service.port) and dev_server_serving(temporal_binary(), address, child_environment())


def temporal_dev_server(workdir: Path, *, db_file: Path | None = None, tuned: bool = True) -> Service:
    """`temporal server start-dev`, headless, started as ours are (`tuned=False`: with the dev server's own
    queue limits, see durable_runner/dev_server.py); in memory unless `db_file` (not started)."""
    port = free_port()
    argv = [temporal_binary(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"]
    argv += ["--log-level", "error", *dev_server_args(tuned=tuned)]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
    return Service("temporal", argv, port, workdir / f"temporal-{port}.log", _temporal_serving)


def worker(
    workdir: Path,
    cloud_url: str,
    temporal_address: str,
    task_queue: str,
    *,
    options: Sequence[str] = (),
    tree: Path | None = None,
    index: int = 0,
) -> Service:
    """`cloudops worker` on `task_queue` with extra command-line `options` (not started). `tree`: run that tree's
    code (a baseline's `git worktree`) instead of the installed one; `index` tells apart the workers of a queue."""
    metrics = free_port()
    args = ["worker", "--cloud", cloud_url, "--address", temporal_address, "--namespace", "default"]
    args += ["--task-queue", task_queue, "--metrics-bind", f"127.0.0.1:{metrics}", *options]
    argv, env = tree_argv(tree, "-m", "cloudops", *args) if tree is not None else (module_argv("cloudops", *args), {})

    def ready(service: Service) -> bool:
        return "worker ready" in service.output() and port_open(metrics)

    name = f"worker-{index}" if index else "worker"
    return Service(name, argv, metrics, workdir / f"{name}-{task_queue}.log", ready, env)


def tree_argv(tree: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """This interpreter running `args` on `tree`'s code, and the environment that makes it so: PYTHONPATH is the
    tree, and `-P` keeps the current directory (another tree) off the front of sys.path."""
    return [sys.executable, "-P", *args], {"PYTHONPATH": str(tree)}


def empty_shape_worker(workdir: Path, temporal_address: str, task_queue: str) -> Service:
    """`python -m bench.empty_shape` on `task_queue` (not started): see bench/empty_shape.py."""
    argv = module_argv("bench.empty_shape", temporal_address, task_queue)
    log = workdir / f"empty-shape-{task_queue}.log"
    return Service("empty-shape worker", argv, 0, log, lambda s: "worker ready" in s.output())


class Killer:
    """SIGKILLs every one of `services` at once every `every_s` seconds and restarts them at once, in the order
    given, until `stop()`: one crash of the executor, or of the executor and its state store together."""

    def __init__(self, service: Service, every_s: float, *others: Service) -> None:
        self.services = (service, *others)
        self.every_s = every_s
        self.kills = 0
        self.downtime_s: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kill-{service.name}", daemon=True)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def start(self) -> Killer:
        if self.every_s > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            down = time.monotonic()
            for service in self.services:
                service.kill()
            self.kills += 1
            try:
                for service in self.services:
                    service.start()
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
