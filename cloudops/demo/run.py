"""The demo itself: start the embedded stack, roll scopes out under a realistic workload, report.

    with Demo(DemoOptions(state_dir=...), progress) as demo:
        summary = demo.run()       # the stack keeps running afterwards, until the `with` block ends

Order: migrate the SQLite database; start the stack (Temporal dev server, sim cloud with faults, worker,
Clouddriver, console); give each cluster its two existing server groups; start a guarded rollout per scope; run
every cluster's pipelines concurrently through a RoutingRunner from `build_routing_runner`, while a thread ticks
the rollouts and another kills the worker now and then; then flush the router's records, write the HTML report
and summarise.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from cloud.errors import CloudError
from cloud.sim.client import SimCloudClient
from cloudops.demo.chaos import WorkerChaos
from cloudops.demo.collect import RunFacts, build_summary, cloud_summary, write_report
from cloudops.demo.pipelines import PipelineDriver, seed_clusters
from cloudops.demo.progress import Progress, Tally, status_line
from cloudops.demo.rollouts import (
    RolloutSettings,
    RolloutTicker,
    describe,
    gates_note,
    skip_racing_shadows,
    stage_of,
    start_rollouts,
)
from cloudops.demo.summary import ConsoleAccess, DemoSummary
from cloudops.demo.workload import Pipeline, Workload, build_workload, default_clusters
from cloudops.devstack import EmbeddedStack, StackConfig, StackError
from flags import FlagError
from processes import free_port
from rollouts.errors import RolloutError
from router.config import RouterConfig
from router.errors import RouterError

__all__ = ["DEFAULT_OPS", "Demo", "DemoError", "DemoOptions", "Ports"]

DEFAULT_OPS = 600


class DemoError(Exception):
    """The demo could not run: the message says what failed and where its log is."""


@dataclass(frozen=True, slots=True)
class Ports:
    """Ports of the stack's services; None picks a free one, so a demo never collides with another stack."""

    temporal: int | None = None
    ui: int | None = None
    sim: int | None = None
    clouddriver: int | None = None
    metrics: int | None = None
    console: int | None = None

    def resolved(self, host: str) -> dict[str, int]:
        chosen: dict[str, int] = {}
        for name in ("temporal", "ui", "sim", "clouddriver", "metrics", "console"):
            given = getattr(self, name)
            port = given if given is not None else free_port(host)
            while given is None and port in chosen.values():
                port = free_port(host)
            chosen[name] = port
        return chosen


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What `cloudops demo` was asked for; the defaults are the command's."""

    state_dir: Path
    ops: int = DEFAULT_OPS
    fault_rate: float = 0.04
    seed: int = 1
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    kill_every_s: float = 75.0
    tick_interval_s: float = 3.0
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    health_delay_s: float = 1.0
    poll_interval_s: float | None = None  # None: each component's default (Orca-like 5s, health 5s/2s)
    shadow_destroys: bool = False
    stacks: tuple[str, ...] = ("main", "batch")


def _poll_settings(seconds: float | None) -> dict[str, Any]:
    """Health checks on both paths every `seconds`, or each component's own default when None."""
    if seconds is None:
        return {}
    return {"worker_health_poll_s": seconds, "clouddriver_settings": {"HEALTH_POLL_S": str(seconds)}}


class Demo:
    """One demo run; the stack it starts lives until `close()` (or the end of the `with` block)."""

    def __init__(self, options: DemoOptions, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        self.stop_event = threading.Event()
        self.database_url = f"sqlite:///{options.state_dir / 'cloudops.db'}"
        ports = options.ports.resolved(options.host)
        self.stack = EmbeddedStack(
            StackConfig(
                state_dir=options.state_dir,
                host=options.host,
                temporal_port=ports["temporal"],
                ui_port=ports["ui"],
                sim_port=ports["sim"],
                clouddriver_port=ports["clouddriver"],
                metrics_port=ports["metrics"],
                console_port=ports["console"],
                console_user="demo",
                with_rollout_controller=False,  # the demo runs the controller in-process, to tell each move
                database_url=self.database_url,
                health_delay_s=options.health_delay_s,
                fault_rate=options.fault_rate,
                seed=options.seed,
                **_poll_settings(options.poll_interval_s),
            ),
            echo=progress.event,
        )

    def __enter__(self) -> Demo:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stack.stop()

    # -- the run ------------------------------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        """Everything up to the summary; raises DemoError when the stack does not start."""
        import migrations

        opts = self.options
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            migrations.upgrade(self.database_url)
        except migrations.MigrationError as exc:
            raise DemoError(f"cannot prepare the database {self.database_url}: {exc}") from exc
        try:
            self.stack.start()
        except StackError as exc:
            raise DemoError(str(exc)) from exc
        if self.stop_event.is_set():
            raise DemoError("interrupted before the workload started")
        workload = build_workload(
            run_id=opts.state_dir.name, ops=opts.ops, seed=opts.seed, clusters=default_clusters(stacks=opts.stacks)
        )
        with SimCloudClient(self.stack.sim_url) as cloud:
            try:
                seed_clusters(cloud, workload.clusters, workload.run_id)
            except CloudError as exc:
                raise DemoError(f"cannot create the clusters' first server groups in the sim cloud: {exc}") from exc
            self.progress.event(
                f"workload: {len(workload.pipelines)} pipelines ({workload.operations} operations) over "
                f"{len(workload.clusters)} clusters in {len(workload.scopes())} scopes"
            )
            started = datetime.now(UTC)
            try:
                run = self._run_workload(workload, cloud)
            except (RouterError, RolloutError, FlagError) as exc:  # a database or service refused the demo
                raise DemoError(f"the demo could not go on: {exc.message}") from exc
            report = write_report(
                self.database_url,
                since=started - timedelta(seconds=5),
                thresholds=opts.rollout.thresholds(),
                path=opts.state_dir / "report.html",
            )
            login = self.stack.console_login
            return build_summary(
                run,
                report,
                cloud_summary(cloud),
                seed=opts.seed,
                fault_rate=opts.fault_rate,
                state_dir=opts.state_dir,
                console=ConsoleAccess(login.url, login.user, login.password) if login else None,
                addresses=self.stack.addresses(),
            )

    def _run_workload(self, workload: Workload, cloud: SimCloudClient) -> RunFacts:
        from cloudops.report.database import open_flag_store
        from rollouts.controller import RolloutController
        from router.factory import build_routing_runner

        opts = self.options
        store = open_flag_store(self.database_url)
        tally = Tally(workload.operations)
        chaos = WorkerChaos(
            self.stack,
            every_s=opts.kill_every_s,
            on_event=self.progress.event,
            until=lambda: tally.snapshot().done >= 0.9 * workload.operations,
        )
        unshadowed: tuple[str, ...] = ()
        try:
            if not opts.shadow_destroys:
                unshadowed = tuple(skip_racing_shadows(store))
                for operation in unshadowed:
                    self.progress.event(
                        f"shadow sampling off for {operation}: its dry run races the real one (--shadow-destroys "
                        "keeps it; that race is counted as ignored)"
                    )
            controller = RolloutController(store.engine, store)
            started = start_rollouts(controller, workload.scopes(), opts.rollout)
            self.progress.event(gates_note(opts.rollout.thresholds()))
            for rollout in started:
                self.progress.event(f"rollout {rollout.id} on {rollout.plan.describe_scope()}: {describe(rollout)}")
            ticker = RolloutTicker(
                controller,
                [r.id for r in started],
                interval_s=opts.tick_interval_s,
                on_change=lambda r, move: self.progress.event(f"rollout {r.id} ({r.plan.describe_scope()}): {move}"),
            )
            runner = build_routing_runner(self._router_config())
            driver = PipelineDriver(runner, cloud, on_record=tally.add, on_start=tally.begin, stop=self.stop_event)
            began = time.monotonic()
            ticker.start()
            chaos.start()
            try:
                self._drive(workload, driver, tally, ticker, chaos, began)
            finally:
                elapsed = time.monotonic() - began
                chaos.stop()
                ticker.stop()
                runner.close()  # flushes the outcome and comparison records the last tick and the report read
            skipped = {
                reason: int(runner.metrics.value("cloudops_router_shadows_skipped_total", {"reason": reason}))
                for reason in ("concurrency_cap", "circuit_open")
            }
            ticker.tick_once()
            return RunFacts(
                workload=workload,
                elapsed_s=elapsed,
                records=tuple(tally.records()),
                outcomes=tuple(tally.outcomes()),
                kill_times=tuple(chaos.kill_times),
                rollouts=tuple(ticker.current()),
                unshadowed=unshadowed,
                shadows_skipped=skipped,
            )
        finally:
            store.close()

    def _drive(
        self,
        workload: Workload,
        driver: PipelineDriver,
        tally: Tally,
        ticker: RolloutTicker,
        chaos: WorkerChaos,
        began: float,
    ) -> None:
        """Every cluster's pipelines on a thread of its own; the status line until they are all done."""
        failures: list[BaseException] = []

        def run(pipelines: list[Pipeline]) -> None:
            try:
                tally.finished(driver.run_cluster(pipelines))
            except BaseException as exc:  # reported by the main thread, not by threading's excepthook
                failures.append(exc)

        # Daemon threads: an interrupted demo must not wait for an operation that may never end (a workflow with
        # no worker left), which a thread pool's shutdown would.
        threads = [
            threading.Thread(target=run, args=(pipelines,), name=f"pipeline-{cluster.slug}", daemon=True)
            for cluster, pipelines in workload.by_cluster().items()
        ]
        for thread in threads:
            thread.start()
        while alive := [t for t in threads if t.is_alive()]:
            self._check_services()
            stages = Counter(stage_of(r) for r in ticker.current())
            self.progress.status(status_line(tally.snapshot(), stages, chaos.kills, time.monotonic() - began))
            alive[0].join(timeout=0.5)
        if failures:
            raise failures[0]  # a bug in a pipeline thread surfaces here, not silently
        stages = Counter(stage_of(r) for r in ticker.current())
        self.progress.finish(status_line(tally.snapshot(), stages, chaos.kills, time.monotonic() - began))

    def _check_services(self) -> None:
        dead = [s for s in self.stack.dead() if s.name != "worker"]  # the worker dies on purpose now and then
        if dead:
            self.stop_event.set()
            names = ", ".join(f"{s.name} (exit {s.process.returncode}, log {s.log_path})" for s in dead)
            raise DemoError(f"the demo stopped: {names} exited unexpectedly")

    def _router_config(self) -> RouterConfig:
        clouddriver = self.stack.service("clouddriver")
        if clouddriver is None:
            raise DemoError(f"the legacy Clouddriver is not running: {self.stack.skipped.get('clouddriver')}")
        return RouterConfig(
            legacy_url=clouddriver.address,
            legacy_poll_interval_s=self.options.poll_interval_s or RouterConfig().legacy_poll_interval_s,
            legacy_timeout_s=900.0,
            temporal_address=self.stack.temporal_address,
            temporal_task_queue=self.stack.config.task_queue,
            database_url=self.database_url,
            flag_poll_interval_s=0.5,
            # The demo kills its worker: a short heartbeat timeout keeps the operations caught by a kill from
            # stalling 30 s (the worker heartbeats each health poll), which the latency gates would hold against.
            durable_heartbeat_timeout_seconds=5,
            # Every pipeline thread may have a shadow in flight: a lower cap would skip comparisons the gates need.
            shadow_max_concurrency=32,
        )
