"""One row of `cloudops bench reliability`: one path, on one task store, through one scenario's faults.

A row starts its own services (a `cloudops sim-cloud` with the run's --fault-rate and --seed, then the path's
executor and its state store), runs the seeded workload against them while the scenario's fault driver works,
audits the sim cloud's journal and reports. The rows of a scenario differ only in the path and its store:

- legacy, memory: `cloudops clouddriver`, tasks in its own memory (Clouddriver's default);
- legacy, redis: `cloudops clouddriver` with CLOUDDRIVER_REDIS_URL, tasks in a redis-server with an append-only
  file (Clouddriver's RedisTaskRepository, which Netflix ran);
- durable: `cloudops worker` on a Temporal dev server with its state in a SQLite file (--db-filename).

Scenarios (`SCENARIOS`): executor-kill SIGKILLs the executor (clouddriver; the worker) every --kill-every s;
state-kill SIGKILLs the state store with it (redis-server; the Temporal server, restarted on its file; for the
memory row the store is the clouddriver itself, so its kill is the executor's); cloud-outage turns the sim cloud
hard down (bench/_outage.py) and kills nothing; orchestrator-kill runs the workload in a child process
(bench/_orchestrator.py) that is SIGKILLed and restarted and resumes by handle. Next: bench/reliability.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench._audit import audit
from bench._orchestrator import READY_LINE, durable_runner, wait_until_finished
from bench._random_kill import RandomKiller, identities_polling
from bench._services import (
    Killer,
    Service,
    clouddriver,
    redis_server,
    sim_cloud,
    start_together,
    temporal_dev_server,
    worker as worker_service,
)
from bench._support import failure_rate, summary_ms
from bench._workload import OpRecord, Pipeline, read_cluster, record_operation, run_workload
from processes import module_argv

__all__ = ["SCENARIOS", "Row", "RowSettings", "run_row"]

SCENARIOS = ("executor-kill", "state-kill", "cloud-outage", "orchestrator-kill")


@dataclass(frozen=True, slots=True)
class Row:
    """One path on one task store."""

    path: str  # "legacy" or "durable"
    store: str  # "memory", "redis" (legacy) or "sqlite" (the durable path's Temporal server)

    @property
    def name(self) -> str:
        return f"{self.path}-{self.store}"


@dataclass(frozen=True, slots=True)
class RowSettings:
    """Everything a row needs besides its services; identical for every row of a run."""

    ops: int
    seed: int
    clusters: int
    fault_rate: float
    concurrency: int
    health_delay_s: float
    kill_every_s: float
    outage_s: float
    outage_every_s: float
    legacy_poll_s: float
    legacy_timeout_s: float
    sticky_timeout_s: float
    nonce: str
    workers: int = 1  # durable: worker processes on the task queue; executor-kill kills a random one of them


@dataclass
class _Deployment:
    """A row's running services and what it needs to run and judge the workload."""

    sim: Service
    executor: Service
    store: Service | None  # None: the executor holds its own state (tasks in memory)
    target: str  # the legacy service's URL, or the Temporal server's host:port
    task_queue: str
    runner: Any
    workers: tuple[Service, ...] = ()  # durable: every worker on the task queue (`executor` is the first)


def _final_groups(cloud: Any, plans: Sequence[Sequence[Pipeline]]) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for pipelines in plans:
        c = pipelines[0].cluster
        found |= {(c.account, c.region, name) for name in read_cluster(cloud, c)}
    return found


@contextlib.contextmanager
def _legacy(row: Row, s: RowSettings, workdir: Path, stack: contextlib.ExitStack) -> Iterator[_Deployment]:
    from router.legacy import LegacyRunner

    sim = sim_cloud(workdir, fault_rate=s.fault_rate, seed=s.seed, health_delay_s=s.health_delay_s)
    stack.callback(sim.kill)
    store = redis_server(workdir) if row.store == "redis" else None
    settings = {"HEALTH_POLL_S": "0.1", "HEALTH_TIMEOUT_S": "600", "SHUTDOWN_WAIT_S": "0"}
    if store is not None:
        stack.callback(store.kill)
        settings["REDIS_URL"] = f"redis://127.0.0.1:{store.port}/0"
        settings["REDIS_RETRY_DELAY_S"] = "0.5"
    service = clouddriver(workdir, sim.url, settings=settings)
    stack.callback(service.kill)
    start_together(sim, *([store] if store else []))
    service.start()
    runner = stack.enter_context(
        LegacyRunner(service.url, poll_interval_s=s.legacy_poll_s, timeout_s=s.legacy_timeout_s)
    )
    yield _Deployment(sim, service, store, service.url, "", runner)


@contextlib.contextmanager
def _durable(s: RowSettings, workdir: Path, stack: contextlib.ExitStack) -> Iterator[_Deployment]:
    sim = sim_cloud(workdir, fault_rate=s.fault_rate, seed=s.seed, health_delay_s=s.health_delay_s)
    stack.callback(sim.kill)
    temporal = temporal_dev_server(workdir, db_file=workdir / f"temporal-{s.nonce}.db")
    stack.callback(temporal.kill)
    start_together(temporal, sim)
    address = f"127.0.0.1:{temporal.port}"
    task_queue = f"bench-reliability-{s.nonce}"
    options = ["--health-poll", "0.1", "--wait-slice", "10", "--graceful-shutdown", "1"]
    options += ["--sticky-timeout", str(s.sticky_timeout_s)]
    # One worker keeps today's names (worker, its log); several are worker-1 ... worker-N on the same queue.
    indexes = [0] if s.workers == 1 else list(range(1, s.workers + 1))
    workers = [worker_service(workdir, sim.url, address, task_queue, options=options, index=i) for i in indexes]
    for process in workers:
        stack.callback(process.kill)
    start_together(*workers)
    runner = durable_runner(address, task_queue)
    stack.callback(runner.close)
    yield _Deployment(sim, workers[0], temporal, address, task_queue, runner, tuple(workers))


class _DurableExecute:
    """The in-process durable caller: `run`, and when the result long-poll lost Temporal (the server was killed
    under it, `run` says the operation "may still finish: poll durable:<id>"), attach again by its handle, as a
    caller that kept the handle does. The legacy caller's equivalent is built into LegacyRunner: it keeps polling
    through an unreachable service until its timeout."""

    def __init__(self, runner: Any, patience_s: float = 600.0) -> None:
        self._runner = runner
        self._patience_s = patience_s
        self._lock = threading.Lock()
        self.reattached = 0

    def __call__(self, request: Any) -> OpRecord:
        from durable_runner.contract import workflow_id_for
        from router.contract import OperationHandle, Path as RunnerPath

        started = time.monotonic()
        record = record_operation(request, self._runner.run)
        handle = OperationHandle(RunnerPath.DURABLE, workflow_id_for(request.operation_id))
        while _lost_result(record) and time.monotonic() - started < self._patience_s:
            with self._lock:
                self.reattached += 1
            time.sleep(1.0)
            record = record_operation(request, lambda _r: self._runner.result(handle))
        return replace(record, duration_s=time.monotonic() - started)


def _lost_result(record: OpRecord) -> bool:
    return record.kind == "timeout" and "poll durable:" in record.message


def _fault_driver(scenario: str, row: Row, dep: _Deployment, s: RowSettings, orchestrator: Service | None) -> Any:
    from bench._outage import Outage

    if scenario == "cloud-outage":
        return Outage(dep.sim.url, s.outage_every_s, s.outage_s)
    if scenario == "orchestrator-kill":
        assert orchestrator is not None
        return Killer(orchestrator, s.kill_every_s)
    executors = dep.workers or (dep.executor,)
    if scenario == "state-kill" and dep.store is not None:
        return Killer(dep.store, s.kill_every_s, *executors)  # the store comes back first
    if len(executors) > 1:
        return RandomKiller(executors, s.kill_every_s, s.seed)
    return Killer(dep.executor, s.kill_every_s)


def _killed(scenario: str, row: Row, dep: _Deployment) -> str:
    """What the scenario's driver hits on this row, in words, for the report."""
    executor = "clouddriver" if row.path == "legacy" else "worker"
    if len(dep.workers) > 1:
        executor = f"every one of the {len(dep.workers)} workers" if scenario == "state-kill" else "worker"
    if scenario == "cloud-outage":
        return "nothing killed: the sim cloud's API hard down (every call fails with 503 CloudUnavailable)"
    if scenario == "orchestrator-kill":
        return "the orchestrator (the process running the runners), restarted, resuming by handle"
    if scenario == "state-kill":
        if dep.store is None:
            return f"{executor} (the state store is the clouddriver itself: tasks in memory)"
        store = "redis-server (append-only file)" if row.path == "legacy" else "the Temporal server (SQLite file)"
        return f"{store} and {executor} together"
    if len(dep.workers) > 1:
        return f"a random one of the {len(dep.workers)} workers on the task queue"
    return executor


def _orchestrator(row: Row, dep: _Deployment, s: RowSettings, workdir: Path, prefix: str, ledger: Path) -> Service:
    argv = module_argv("bench._orchestrator", "--path", row.path, "--target", dep.target)
    argv += ["--task-queue", dep.task_queue, "--cloud", dep.sim.url, "--ledger", str(ledger)]
    argv += ["--ops", str(s.ops), "--seed", str(s.seed), "--clusters", str(s.clusters)]
    argv += ["--concurrency", str(s.concurrency), "--prefix", prefix]
    argv += ["--legacy-poll", str(s.legacy_poll_s), "--legacy-timeout", str(s.legacy_timeout_s)]
    log = workdir / f"orchestrator-{prefix}.log"
    return Service("orchestrator", argv, 0, log, lambda svc: READY_LINE in svc.output(), startup_timeout_s=120)


def _zombies(row: Row, dep: _Deployment, records: Sequence[OpRecord]) -> dict[str, int | None]:
    if row.path == "legacy":
        import httpx

        try:  # tasks still STARTED; unknown (None) if the service did not come back from its last kill
            running: int | None = len(httpx.get(f"{dep.target}/task", timeout=10).json())
        except (httpx.HTTPError, ValueError, TypeError):
            running = None
        return {
            "lost_404_after_a_kill": sum(r.code == "task_not_found" for r in records),
            "started_at_the_end": running,
        }
    from temporalio.client import Client

    async def open_workflows() -> int:
        client = await Client.connect(dep.target)
        query = f"TaskQueue = '{dep.task_queue}' AND ExecutionStatus = 'Running'"
        return (await client.count_workflows(query)).count

    return {
        "result_timeouts": sum(r.kind == "timeout" for r in records),
        "workflows_open_at_the_end": asyncio.run(open_workflows()),
    }


def run_row(
    scenario: str,
    row: Row,
    s: RowSettings,
    plans: Sequence[Sequence[Pipeline]],
    workdir: Path,
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Start the row's services, run the workload under the scenario's faults, audit, stop everything, report."""
    from cloud.sim.client import SimCloudClient

    planned = sum(p.nominal_operations for ps in plans for p in ps)
    prefix = f"{s.nonce}-{scenario}-{row.name}"
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        deployment = _legacy(row, s, workdir, stack) if row.path == "legacy" else _durable(s, workdir, stack)
        dep = stack.enter_context(deployment)
        cloud = stack.enter_context(SimCloudClient(dep.sim.url))
        orchestrator = None
        ledger = workdir / f"ledger-{prefix}.jsonl"
        if scenario == "orchestrator-kill":
            orchestrator = _orchestrator(row, dep, s, workdir, prefix, ledger)
            stack.callback(orchestrator.kill)
        durable_execute = _DurableExecute(dep.runner) if row.path == "durable" else None
        driver = _fault_driver(scenario, row, dep, s, orchestrator)
        workload_started = time.monotonic()
        if orchestrator is not None:
            orchestrator.start()
        driver.start()
        try:
            if orchestrator is not None:
                records = wait_until_finished(orchestrator, driver.errors, ledger, report, planned)
            else:
                execute = durable_execute or (lambda request: record_operation(request, dep.runner.run))
                read = lambda _op, p: read_cluster(cloud, p.cluster)  # noqa: E731
                records = run_workload(plans, execute, read, prefix=prefix, concurrency=s.concurrency, report=report)
        finally:
            driver.stop()
        workload_s = time.monotonic() - workload_started
        if orchestrator is not None:
            orchestrator.stop(5)
        zombies = _zombies(row, dep, records)
        polled = identities_polling(dep.target, dep.task_queue) if row.path == "durable" else None
        result = audit(records, cloud.journal(), _final_groups(cloud, plans))
        failed = [r for r in records if not r.succeeded]
        return {
            "path": row.path,
            "store": row.store,
            "faults": {"hits": _killed(scenario, row, dep), **driver.to_json()},
            "operations": len(records),
            "succeeded": len(records) - len(failed),
            "failed": len(failed),
            **failure_rate(len(failed), len(records)),
            "skipped_after_a_failure": planned - len(records),
            "failures_by_code": dict(Counter(r.code or "unknown" for r in failed).most_common()),
            "failure_examples": [f"{r.request.operation_id}: {r.code}: {r.message[:160]}" for r in failed[:5]],
            **result.to_json(),
            "zombie_tasks": sum(v or 0 for v in zombies.values()),
            "zombie_tasks_detail": zombies,
            "durable_results_reattached": durable_execute.reattached if durable_execute else None,
            "durable_worker_identities_polled": polled,
            "injected_faults": cloud.injected_faults(),
            "operation_duration": summary_ms([r.duration_s for r in records]),
            "workload_wall_time_s": round(workload_s, 1),
            "wall_time_s": round(time.monotonic() - started, 1),
            "operations_per_s": round(len(records) / workload_s, 2) if workload_s > 0 else None,
        }
