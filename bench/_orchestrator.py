"""The reliability benchmark's orchestrator: the workload run in a child process that may be SIGKILLed at any time.

`python -m bench._orchestrator ...` (started by bench/reliability.py's orchestrator-kill scenario) runs the same
seeded pipelines as the in-process scenarios, through `start` and then `poll`/`result` by handle, and keeps
everything it learns in a ledger file, one JSON line per fact, written before it acts on it:

    {"t": "read", "pipeline": P, "groups": [...]}    the cluster as the pipeline read it at its start
    {"t": "start", "op": ID, "handle": H, "at": T}   the operation was started; H = str(OperationHandle)
    {"t": "done", "op": ID, "record": {...}}         its outcome (an OpRecord)
    {"t": "finished"}                                every pipeline ran

A restarted orchestrator replays the ledger (`Ledger.replay`, pure) and carries on: a finished operation is not
run again, a started one is polled by its handle (`OperationHandle.parse`: the Clouddriver task id on the legacy
path, as Orca resumes MonitorKatoTask from the `kato.last.task.id` in its execution repository; the workflow id
on the durable path), and a pipeline reuses the cluster read it started from, so its targets do not change under
it. An operation started but killed before its handle was written is started again: both paths deduplicate on
the operation id (the legacy clientRequestId, the durable workflow id), so the second start finds the first.
A line cut short by the kill is ignored; the fact it held is redone as above. The benchmark's side waits on the
ledger (`wait_until_finished`) while bench/_rows.py's Killer SIGKILLs and restarts this process.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench._workload import OpRecord, Pipeline, read_cluster, record_operation, run_workload, workload
from router.contract import OperationHandle, OperationRequest, OperationResult

if TYPE_CHECKING:
    from bench._services import Service

__all__ = ["READY_LINE", "Ledger", "LedgerFile", "Started", "durable_runner", "main", "wait_until_finished"]

READY_LINE = "orchestrator ready"


@dataclass(frozen=True, slots=True)
class Started:
    """An operation the ledger says was started: its handle's string form and when (wall clock) it first was."""

    handle: str
    at: float


@dataclass(frozen=True, slots=True)
class Ledger:
    """What a ledger file says so far. Pure: built from the file's lines by `replay`."""

    reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    started: Mapping[str, Started] = field(default_factory=dict)
    records: Mapping[str, OpRecord] = field(default_factory=dict)
    finished: bool = False
    unreadable_lines: int = 0

    @classmethod
    def replay(cls, lines: Iterable[str]) -> Ledger:
        """Fold the lines in order; the first start of an operation is its start, a line that does not parse
        (the one a SIGKILL cut short) is counted and skipped."""
        reads: dict[str, tuple[str, ...]] = {}
        started: dict[str, Started] = {}
        records: dict[str, OpRecord] = {}
        finished, unreadable = False, 0
        for line in lines:
            if not line.strip():
                continue
            try:
                fact = json.loads(line)
                kind = fact["t"]
                if kind == "read":
                    reads.setdefault(str(fact["pipeline"]), tuple(str(g) for g in fact["groups"]))
                elif kind == "start":
                    started.setdefault(str(fact["op"]), Started(str(fact["handle"]), float(fact["at"])))
                elif kind == "done":
                    records[str(fact["op"])] = OpRecord.from_json(fact["record"])
                elif kind == "finished":
                    finished = True
                else:
                    unreadable += 1
            except (ValueError, KeyError, TypeError):
                unreadable += 1
        return cls(reads, started, records, finished, unreadable)


class LedgerFile:
    """Appends facts to the ledger, one whole line per write, flushed before the caller acts on the fact (a
    SIGKILL loses nothing that reached the OS; only a line being written can be cut short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    @staticmethod
    def read(path: Path) -> Ledger:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Ledger()
        return Ledger.replay(text.splitlines())

    def append(self, fact: Mapping[str, Any]) -> None:
        line = json.dumps(fact, sort_keys=True, default=str) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def durable_runner(address: str, task_queue: str) -> Any:
    """The DurableRunner of every durable row and orchestrator: 15 s per attempt, 3 s heartbeat timeout, retries
    at most 2 s apart, the default 2-hour retry window."""
    from router.durable import DurableRunner

    return DurableRunner(
        address,
        task_queue=task_queue,
        attempt_timeout_seconds=15,
        heartbeat_timeout_seconds=3,
        max_retry_interval_seconds=2,
    )


def _idle() -> None:
    """After the last pipeline: wait to be stopped, so that a kill and restart then is harmless (a restarted
    orchestrator finds the ledger finished and idles too)."""
    while True:
        time.sleep(3600)


def _runner(path: str, target: str, task_queue: str, legacy_poll_s: float, legacy_timeout_s: float) -> Any:
    if path == "legacy":
        from router.legacy import LegacyRunner

        return LegacyRunner(target, poll_interval_s=legacy_poll_s, timeout_s=legacy_timeout_s)
    return durable_runner(target, task_queue)


class _Resumable:
    """One orchestrator process's view of the ledger: executes an operation at most once across restarts."""

    def __init__(self, runner: Any, ledger: Ledger, file: LedgerFile, cloud: Any, poll_s: float) -> None:
        self._runner = runner
        self._ledger = ledger
        self._file = file
        self._cloud = cloud
        self._poll_s = poll_s
        self.resumed = 0

    def read(self, pipeline: str, p: Pipeline) -> list[str]:
        known = self._ledger.reads.get(pipeline)
        if known is not None:
            return list(known)
        groups = read_cluster(self._cloud, p.cluster)
        self._file.append({"t": "read", "pipeline": pipeline, "groups": groups})
        return groups

    def execute(self, request: OperationRequest) -> OpRecord:
        op = request.operation_id
        done = self._ledger.records.get(op)
        if done is not None:
            return done
        before = self._ledger.started.get(op)
        first_at = before.at if before is not None else time.time()

        def start_and_wait(req: OperationRequest) -> OperationResult:
            if before is not None:
                self.resumed += 1
                handle = OperationHandle.parse(before.handle)
            else:
                handle = self._runner.start(req)
                self._file.append({"t": "start", "op": op, "handle": str(handle), "at": first_at})
            return self._wait(handle)

        record = replace(record_operation(request, start_and_wait), duration_s=time.time() - first_at)
        self._file.append({"t": "done", "op": op, "record": record.to_json()})
        return record

    def _wait(self, handle: OperationHandle) -> OperationResult:
        if handle.path.value == "durable":
            result: OperationResult = self._runner.result(handle)
            return result
        while True:
            status = self._runner.poll(handle)
            if status.result is not None:
                return status.result  # type: ignore[no-any-return]
            time.sleep(self._poll_s)


def wait_until_finished(
    service: Service, restart_errors: list[str], ledger: Path, report: Callable[[str], None], planned: int
) -> list[OpRecord]:
    """Wait until the (repeatedly killed) orchestrator's ledger says every pipeline ran; its records. A
    ClickException when the orchestrator is gone for good (it crashed, or could not be restarted)."""
    last = time.monotonic()
    dead_since: float | None = None
    patience_s = 120.0  # a crash (not a kill) is restarted only at the next kill: wait that long, then give up
    while True:
        state = LedgerFile.read(ledger)
        if state.finished:
            return list(state.records.values())
        dead_since = None if service.alive() else (dead_since or time.monotonic())
        if restart_errors or (dead_since is not None and time.monotonic() - dead_since > patience_s):
            why = "; ".join(restart_errors) or (service.child.tail() if service.child else "never started")
            raise click.ClickException(f"the orchestrator stopped before the workload finished: {why}")
        if time.monotonic() - last >= 15:
            failed = sum(not r.succeeded for r in state.records.values())
            report(f"{len(state.records)}/{planned} operations, {failed} failed")
            last = time.monotonic()
        time.sleep(1.0)


@click.command()
@click.option("--path", "path", type=click.Choice(("legacy", "durable")), required=True)
@click.option("--target", required=True, help="The legacy service's URL, or the Temporal server's host:port.")
@click.option("--task-queue", default="", help="The durable path's task queue.")
@click.option("--cloud", "cloud_url", required=True, help="The sim cloud's URL (pipelines read clusters there).")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--ops", type=click.IntRange(1), required=True)
@click.option("--seed", type=int, required=True)
@click.option("--clusters", type=click.IntRange(1, 48), required=True)
@click.option("--concurrency", type=click.IntRange(1, 256), required=True)
@click.option("--prefix", required=True, help="Operation ids start with this.")
@click.option("--legacy-poll", type=float, default=0.5)
@click.option("--legacy-timeout", type=float, default=60.0)
def main(
    path: str,
    target: str,
    task_queue: str,
    cloud_url: str,
    ledger_path: Path,
    ops: int,
    seed: int,
    clusters: int,
    concurrency: int,
    prefix: str,
    legacy_poll: float,
    legacy_timeout: float,
) -> None:
    """Run the workload, resuming from the ledger; print READY_LINE once the ledger is read; idle once done."""
    from cloud.sim.client import SimCloudClient

    ledger = LedgerFile.read(ledger_path)
    if ledger.finished:
        click.echo(f"{READY_LINE}: the ledger is finished")
        _idle()
    plans = workload(ops, seed, clusters)
    file = LedgerFile(ledger_path)
    with SimCloudClient(cloud_url) as cloud, _runner(path, target, task_queue, legacy_poll, legacy_timeout) as runner:
        resumable = _Resumable(runner, ledger, file, cloud, legacy_poll)
        click.echo(f"{READY_LINE}: {len(ledger.records)} done and {len(ledger.started)} started before this run")
        records = run_workload(
            plans, resumable.execute, resumable.read, prefix=prefix, concurrency=concurrency, report=click.echo
        )
        file.append({"t": "finished"})
        click.echo(f"finished: {len(records)} operations, {resumable.resumed} resumed by handle in this run")
    file.close()
    _idle()


if __name__ == "__main__":
    sys.exit(main())
