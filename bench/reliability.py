"""`cloudops bench reliability`: the legacy and the durable path, like for like, under the same faults.

One seeded workload of deployment pipelines (bench/_workload.py) runs through each row of each scenario in turn:
the legacy path with its tasks in memory and in Redis, and the durable path on a Temporal server that keeps its
state in a file, each against its own `cloudops sim-cloud` with the same --fault-rate and --seed (throttles, 5xx,
timeouts and applied-but-lost responses). The scenarios (bench/_rows.py) hit both paths the same way:
executor-kill (clouddriver / worker SIGKILLed every --kill-every s; with --workers N, a random one of the N workers
on the task queue, bench/_random_kill.py), state-kill (the state store with it: redis-server / the Temporal
server), cloud-outage (the sim cloud hard down --outage-seconds every --outage-every) and orchestrator-kill (the
process running the runners, resuming by handle). Per row: operations, failures with a 95 % upper bound,
duplicated and lost mutations (from the sim cloud's journal, bench/_audit.py), orphaned server groups, zombie
tasks, p50/p99; per scenario, the durable targets.

The legacy path runs as Clouddriver and Orca do (3 provider attempts with a fresh request each, Orca's submit
retries, 30 consecutive 404s before a task counts as lost) except for two clocks, shortened so that thousands of
operations fit in minutes: the poll interval (--legacy-poll, Orca's is 5 s) and how long a task may stay
STARTED before the stage times out (--legacy-timeout, Orca's MonitorKatoTask waits an hour). They change how
long a lost or stuck task takes to be noticed, not whether it is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from bench._rows import SCENARIOS, Row, RowSettings
from bench._support import FiniteFloat, Target, emit, json_option

__all__ = ["command", "rows_for", "table", "targets"]

_PATHS = ("legacy", "durable")


def rows_for(paths: Sequence[str], legacy_store: str) -> list[Row]:
    """The rows a run holds: legacy on memory and/or redis (`legacy_store`: memory, redis or both), durable."""
    rows: list[Row] = []
    if "legacy" in paths:
        stores = ("memory", "redis") if legacy_store == "both" else (legacy_store,)
        rows += [Row("legacy", store) for store in stores]
    if "durable" in paths:
        rows.append(Row("durable", "sqlite"))
    return rows


def targets(scenario: str, rows: Mapping[str, Mapping[str, Any]], minimum_ops: int) -> list[dict[str, Any]]:
    """The durable row's targets in one scenario: 0 failed, 0 duplicated, 0 lost, of at least `minimum_ops`."""
    durable = rows.get("durable-sqlite")
    if durable is None:
        return []
    found = [
        Target.at_most(f"{scenario}: durable failed operations", durable["failed"], 0),
        Target.at_most(f"{scenario}: durable duplicated mutations", durable["duplicated_mutations"], 0),
        Target.at_most(f"{scenario}: durable lost mutations", durable["lost_mutations"], 0),
        Target.at_least(f"{scenario}: durable operations", durable["operations"], minimum_ops),
    ]
    return [t.to_json() for t in found]


def _ms(summary: Mapping[str, Any], key: str) -> str:
    value = summary.get(key)
    return f"{value / 1000:.2f}s" if isinstance(value, int | float) else "-"


def table(scenarios: Mapping[str, Mapping[str, Any]]) -> str:
    """The compact text table of every scenario's rows (the JSON holds the rest)."""
    header = ("scenario", "row", "ops", "failed", "95% upper", "dup", "lost", "orphaned", "zombies", "p50", "p99")
    lines = [header]
    for scenario, result in scenarios.items():
        for name, row in result["rows"].items():
            upper = row["failure_upper95_percent"]
            lines.append(
                (
                    scenario,
                    name,
                    str(row["operations"]),
                    str(row["failed"]),
                    f"{upper:.3f}%" if upper is not None else "-",
                    str(row["duplicated_mutations"]),
                    str(row["lost_mutations"]),
                    str(row["orphaned_server_groups"]),
                    str(row["zombie_tasks"]),
                    _ms(row["operation_duration"], "p50_ms"),
                    _ms(row["operation_duration"], "p99_ms"),
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _reporter(tag: str) -> Callable[[str], None]:
    return lambda line: click.echo(f"{tag} {line}", err=True)


@contextlib.contextmanager
def _native_output_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr while the rows run, so that what native code prints there (the Temporal
    SDK's Rust core logs its connection retries while a Temporal server is down) cannot end up inside the JSON
    document, which is printed afterwards on the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _workdir(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-reliability-") as tmp:
        yield Path(tmp)


@click.command()
@json_option
@click.option(
    "--scenario",
    type=click.Choice((*SCENARIOS, "all")),
    default="all",
    show_default=True,
    help="Which faults: executor-kill, state-kill, cloud-outage, orchestrator-kill, or all four in turn.",
)
@click.option(
    "--legacy-store",
    type=click.Choice(("memory", "redis", "both")),
    default="both",
    show_default=True,
    help="Where the legacy service keeps its tasks: in its memory, in Redis, or a row for each.",
)
@click.option("--ops", type=click.IntRange(1), default=2000, show_default=True, help="Operations per row (at least).")
@click.option(
    "--fault-rate",
    type=FiniteFloat(0.0, 1.0),
    default=0.04,
    show_default=True,
    help="Probability that one cloud call fails transiently, on every row.",
)
@click.option(
    "--kill-every",
    type=FiniteFloat(min=0.0),
    default=30.0,
    show_default=True,
    help="SIGKILL and restart what the scenario kills (executor, store, orchestrator) every S seconds; 0: never.",
)
@click.option(
    "--outage-seconds",
    type=FiniteFloat(min=0.1),
    default=20.0,
    show_default=True,
    help="cloud-outage: how long the sim cloud stays hard down each time.",
)
@click.option(
    "--outage-every",
    type=FiniteFloat(min=0.2),
    default=60.0,
    show_default=True,
    help="cloud-outage: one outage every S seconds (must exceed --outage-seconds).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the workload and of the faults.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Clusters deployed at once (each runs its pipelines one operation after another).",
)
@click.option(
    "--clusters",
    type=click.IntRange(1, 48),
    default=48,
    show_default=True,
    help="Clusters in the workload (applications x accounts x regions).",
)
@click.option("--paths", "only", type=click.Choice(_PATHS), multiple=True, help="Run only this path (repeatable).")
@click.option(
    "--health-delay",
    type=FiniteFloat(min=0.0),
    default=0.3,
    show_default=True,
    help="Seconds before the sim cloud's new instances turn healthy.",
)
@click.option(
    "--legacy-poll",
    type=FiniteFloat(min=0.01),
    default=0.5,
    show_default=True,
    help="LegacyRunner's poll interval (Orca polls every 5 s).",
)
@click.option(
    "--legacy-timeout",
    type=FiniteFloat(min=1.0),
    default=60.0,
    show_default=True,
    help="How long a legacy task may stay STARTED before its operation times out (Orca: one hour).",
)
@click.option(
    "--sticky-timeout",
    type=FiniteFloat(min=0.1),
    default=1.0,
    show_default=True,
    help="The worker's sticky-queue timeout (cloudops worker --sticky-timeout, 10 s by default): how long a killed "
    "worker's cached workflows wait before another worker takes them; it changes durations, not outcomes.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Worker processes on the durable row's task queue; with several, executor-kill SIGKILLs and restarts a "
    "random one of them every --kill-every s (state-kill: all of them with the Temporal server).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the services' logs, stores and ledgers here (default: a temporary directory, removed).",
)
def command(
    as_json: bool,
    scenario: str,
    legacy_store: str,
    ops: int,
    fault_rate: float,
    kill_every: float,
    outage_seconds: float,
    outage_every: float,
    seed: int,
    concurrency: int,
    clusters: int,
    only: tuple[str, ...],
    health_delay: float,
    legacy_poll: float,
    legacy_timeout: float,
    sticky_timeout: float,
    workers: int,
    workdir: Path | None,
) -> None:
    """Failures, duplicated and lost mutations, zombies: legacy (memory, Redis) vs durable, like for like.

    \b
    Example (every scenario, the full run; an hour or more):
      cloudops bench reliability --ops 2000 --json
    One scenario, one path:
      cloudops bench reliability --scenario executor-kill --paths durable --ops 20500 --json
    Four workers on the task queue, a random one SIGKILLed every 10 s:
      cloudops bench reliability --scenario executor-kill --paths durable --workers 4 --kill-every 10 --json
    """
    from bench._rows import run_row
    from bench._workload import workload

    if outage_seconds >= outage_every:
        raise click.BadParameter(
            f"an outage of {outage_seconds:g} s every {outage_every:g} s leaves no time up; make --outage-every "
            "larger than --outage-seconds",
            param_hint="--outage-every",
        )
    started = time.monotonic()
    plans = workload(ops, seed, clusters)
    planned = sum(p.nominal_operations for ps in plans for p in ps)
    settings = RowSettings(
        ops=ops,
        seed=seed,
        clusters=clusters,
        fault_rate=fault_rate,
        concurrency=concurrency,
        health_delay_s=health_delay,
        kill_every_s=kill_every,
        outage_s=outage_seconds,
        outage_every_s=outage_every,
        legacy_poll_s=legacy_poll,
        legacy_timeout_s=legacy_timeout,
        sticky_timeout_s=sticky_timeout,
        nonce=uuid.uuid4().hex[:8],
        workers=workers,
    )
    rows = rows_for(only or _PATHS, legacy_store)
    chosen = SCENARIOS if scenario == "all" else (scenario,)
    results: dict[str, dict[str, Any]] = {}
    with _workdir(workdir) as where, _native_output_to_stderr():
        for name in chosen:
            found: dict[str, dict[str, Any]] = {}
            for row in rows:
                tag = f"[{name} {row.name}]"
                click.echo(f"{tag} {planned} operations in {len(plans)} clusters...", err=True)
                found[row.name] = run_row(name, row, settings, plans, where, _reporter(tag))
                click.echo(
                    f"{tag} done: {found[row.name]['failed']} of {found[row.name]['operations']} failed", err=True
                )
            results[name] = {"rows": found, "targets": targets(name, found, ops)}
    report: dict[str, Any] = {
        "benchmark": "reliability",
        "workload": {
            "operations_planned": planned,
            "clusters": len(plans),
            "pipelines": sum(len(ps) for ps in plans),
            "seed": seed,
            "fault_rate": fault_rate,
            "kill_every_s": kill_every,
            "durable_workers": workers,
            "outage": {"seconds": outage_seconds, "every_s": outage_every},
            "concurrency": concurrency,
            "health_delay_s": health_delay,
            "legacy_poll_interval_s": legacy_poll,
            "legacy_timeout_s": legacy_timeout,
        },
        "scenarios": results,
        "netflix_reference": {"legacy_failure_percent": 4.0, "temporal_failure_percent": 0.0001},
        "targets": [t for result in results.values() for t in result["targets"]],
    }
    emit(report, started, text=table(results))
