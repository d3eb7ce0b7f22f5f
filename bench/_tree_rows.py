"""`cloudops bench throughput`'s tree rows: one tree's code (this one, or a baseline commit's `git worktree`) with
N `cloudops worker` processes on one task queue, driven by that tree's RoutingRunner in a fresh interpreter.

A row is (tree, workers). Every row has its own task queue and its own workers, all started before the first
round and kept until the last, so idle rows cost every row alike; each round runs every row once, in an order
rotated by one per round, so load that rises or falls during a round favours none. A row's run is one probe
(bench/_throughput_probe.py): while it measures, the CPU seconds of every process involved (the Temporal
server, the sim cloud, the row's workers, the probe itself) are read from /proc, so each row reports CPU per
operation by process beside its operations per second and latency. Next: bench/throughput.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bench._cpu import CpuWindow, per_operation_ms
from bench._services import Service, tree_argv, worker
from bench._support import summary_ms
from processes import child_environment

__all__ = ["TreeRow", "WorkerCounts", "run_rows", "start_row_workers"]

_PROBE = Path(__file__).with_name("_throughput_probe.py")


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One tree's code with `workers` worker processes on `task_queue`."""

    label: str  # "this" or "baseline"
    tree: Path
    workers: int
    task_queue: str

    @property
    def name(self) -> str:
        return f"{self.label}_{self.workers}_worker{'s' if self.workers > 1 else ''}"


class WorkerCounts(click.ParamType[tuple[int, ...]]):
    """A comma-separated list of worker counts, each 1 to 16: `1,2,4`."""

    name = "counts"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            counts = tuple(int(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of worker counts such as 1,2,4", param, ctx)
        if not counts or any(not 1 <= n <= 16 for n in counts) or len(set(counts)) != len(counts):
            self.fail(f"{value!r}: give distinct worker counts from 1 to 16, such as 1,2,4", param, ctx)
        return counts


def start_row_workers(
    rows: Sequence[TreeRow], workdir: Path, cloud_url: str, address: str, on_start: Callable[[Service], None]
) -> dict[str, list[Service]]:
    """Launch every row's workers at once (on their tree's code), then wait until each is ready."""
    services = {
        row.name: [
            worker(workdir, cloud_url, address, row.task_queue, tree=row.tree, index=i + 1) for i in range(row.workers)
        ]
        for row in rows
    }
    every = [s for group in services.values() for s in group]
    for service in every:
        on_start(service)
        service.launch()
    for service in every:
        service.wait()
    return services


def _probe(row: TreeRow, settings: Mapping[str, Any], pids: Mapping[str, int]) -> dict[str, Any]:
    """One probe run on `row`'s tree: its operations per second, latency, and CPU per operation by process."""
    argv, env = tree_argv(row.tree, "-c", _PROBE.read_text(), json.dumps({**settings, "task_queue": row.task_queue}))
    child = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**child_environment(), **env}
    )
    try:
        assert child.stdout is not None
        window = None
        result: dict[str, Any] | None = None
        for line in child.stdout:
            if line.strip() == "measuring":
                window = CpuWindow.open({**pids, "caller": child.pid})
            elif line.startswith("{"):
                cpu = window.since() if window is not None else {}
                result = json.loads(line)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    if result is None or child.returncode != 0:
        tail = (err or "").strip().splitlines()[-3:]
        raise click.ClickException(f"throughput probe of {row.name} failed: {' / '.join(tail) or child.returncode}")
    ops = len(result["latencies_s"])
    return {
        "ops": ops,
        "seconds": round(result["seconds"], 3),
        "ops_per_s": round(ops / result["seconds"], 2),
        "failed": result["failed"],
        "latencies_s": result["latencies_s"],
        "cpu_s": cpu,
    }


def _total(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ops = sum(r["ops"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    cpu: dict[str, float | None] = {}
    for name in runs[0]["cpu_s"]:
        values = [r["cpu_s"].get(name) for r in runs]
        cpu[name] = None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 3)
    cpu_ms = per_operation_ms(cpu, ops)
    workers = [v for k, v in cpu_ms.items() if k.startswith("worker")]
    cpu_ms["all_workers"] = None if None in workers else round(sum(v for v in workers if v is not None), 2)
    latency = summary_ms([x for r in runs for x in r["latencies_s"]])
    return {
        "ops": ops,
        "seconds": round(seconds, 3),
        "ops_per_s": round(ops / seconds, 2) if seconds else None,
        "failed": sum(r["failed"] for r in runs),
        "latency": latency,
        "cpu_ms_per_op": cpu_ms,
        "per_round_ops_per_s": [r["ops_per_s"] for r in runs],
    }


def run_rows(
    rows: Sequence[TreeRow],
    workers: Mapping[str, Sequence[Service]],
    shared_pids: Mapping[str, int],
    settings: Mapping[str, Any],
    rounds: int,
    report: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    """Every row once per round, in an order rotated by one each round; each row's totals over all rounds."""
    runs: dict[str, list[dict[str, Any]]] = {row.name: [] for row in rows}
    for r in range(rounds):
        order = list(rows[r % len(rows) :]) + list(rows[: r % len(rows)])
        for row in order:
            pids = {**shared_pids, **{s.name: s.pid for s in workers[row.name] if s.pid is not None}}
            probe_settings = {
                **settings,
                "prefix": f"{settings['nonce']}{row.name}{r}",
                "database_url": f"sqlite:///{Path(settings['database_dir']) / f'router-{row.label}.db'}",
            }
            runs[row.name].append(_probe(row, probe_settings, pids))
        report(f"tree round {r + 1}: " + ", ".join(f"{k} {v[-1]['ops_per_s']}/s" for k, v in runs.items()))
    return {name: _total(found) for name, found in runs.items()}
