"""`cloudops bench router`: what the RoutingRunner costs an operation, and what a shadow costs the authoritative call.

Overhead: the same operations through a RoutingRunner (stage `complete`: decide, claim ownership, run, record) and
straight into its path, alternating in blocks so drift hits both. The path is `router.testing.ScriptedRunner`,
first answering at once (the difference is the router's whole cost, in microseconds), then taking --work-ms of
real time per operation (a fast runner: the ratio). Ownership in memory, and again in a SQLite file (the router's
SQL ownership store, as `build_routing_runner` wires it, fsyncs included); records through the BufferedRecorder
into a SQLite file on tmpfs (real writes, competing for the interpreter, without the disk's fsyncs). With
--postgres-url, ownership and records both in that PostgreSQL database on one pool, as in production (and again on
a pool without pre-ping, a user's option): the router's p50 there over the in-memory arm's is the figure judged,
and the SQL the caller's thread issues per operation is counted (bench/_router_sql.py). The bench starts no
server: docs/benchmarks.md, section 4, shows how to start a throwaway one.

Shadow: the authoritative (legacy) call takes --shadow-work-ms (and, as a stress case, --work-ms); the durable
candidate's dry run takes --candidate-ms on the shadow executor's loop. The authoritative call's latency is compared
with the stage `shadow` (every operation shadowed) and the stage `legacy` (none). The shadow's cost is a roughly
constant amount of CPU in the same process (the comparison, the record), so the ratio depends on the base: the
absolute `added_p50_us` is the figure that carries over to real calls, which take seconds on the legacy path.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from bench._support import FiniteFloat, Target, emit, json_option, summary_us

__all__ = ["command"]

_PLAN = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}


class _Candidate:
    """The shadowed path: its dry run takes `seconds` on the shadow executor's event loop, as a real plan would."""

    def __init__(self, seconds: float) -> None:
        from router.contract import Path as RoutePath
        from router.testing import ScriptedRunner, succeed_with_plan

        self._seconds = seconds
        self._inner = ScriptedRunner(RoutePath.DURABLE, succeed_with_plan(_PLAN))
        self.run, self.start, self.poll, self.has_started, self.close = (
            self._inner.run,
            self._inner.start,
            self._inner.poll,
            self._inner.has_started,
            self._inner.close,
        )

    async def run_async(self, request: Any, options: Any = None) -> Any:
        from router.contract import DEFAULT_OPTIONS

        options = options or DEFAULT_OPTIONS
        if options.dry_run:
            await asyncio.sleep(self._seconds)
        return await self._inner.run_async(request, options)

    def __enter__(self) -> _Candidate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _script(work_s: float) -> Callable[[Any, Any], Any]:
    from router.testing import succeed_with_plan

    plain = succeed_with_plan(_PLAN)

    def script(request: Any, path: Any) -> Any:
        if work_s > 0:
            time.sleep(work_s)
        return plain(request, path)

    return script


def _records_url(workdir: Path) -> str:
    """A SQLite file with the router's tables, on tmpfs when the machine has one: records are written for real
    (and compete for the interpreter, as in production) without the disk's fsyncs."""
    import migrations

    shm = Path("/dev/shm")
    where = Path(tempfile.mkdtemp(prefix="cloudops-bench-records-", dir=shm if shm.is_dir() else workdir))
    url = f"sqlite:///{where / 'records.db'}"
    migrations.upgrade(url)
    return url


@dataclass(frozen=True, slots=True)
class _Built:
    """A RoutingRunner over scripted paths, the path it sends every operation to (for the direct arm), and how to
    let its background work (shadows, record writes) finish between timed blocks."""

    router: Any
    path: Any
    settle: Callable[[], None]
    engine: Any = None  # the ownership store's engine; None when ownership is in memory


def _build(
    stage: str, work_s: float, candidate_s: float, sql_url: str | None, records_url: str, pre_ping: bool = True
) -> _Built:
    """`sql_url`: ownership there (None: in memory). Records go to `records_url`; when it is `sql_url` too, owners
    and records share one engine, as `build_routing_runner` wires them, and the writer's claims find the rows."""
    import sqlalchemy as sa

    from bench._router_sql import sql_engine
    from flags import FlagTestData
    from router.contract import Path as RoutePath
    from router.metrics import RouterMetrics
    from router.ownership import InMemoryOwnership, OwnershipStore, SqlOwnership
    from router.records import BufferedRecorder, SqlRecordStore
    from router.routing import RoutingRunner
    from router.shadow import ShadowExecutor, ShadowSettings
    from router.testing import ScriptedRunner

    legacy = ScriptedRunner(RoutePath.LEGACY, _script(work_s))
    durable = _Candidate(candidate_s) if stage == "shadow" else ScriptedRunner(RoutePath.DURABLE, _script(work_s))
    metrics = RouterMetrics()
    owners: OwnershipStore = InMemoryOwnership()
    resources: list[object] = []
    owners_engine = sql_engine(sql_url, pre_ping=pre_ping) if sql_url else None
    if owners_engine is not None:
        owners, resources = SqlOwnership(owners_engine), [owners_engine]
    shared = owners_engine is not None and sql_url == records_url
    records = owners_engine if owners_engine is not None and shared else sa.create_engine(records_url)
    recorder = BufferedRecorder(SqlRecordStore(records), metrics, capacity=1_000_000)
    shadows = ShadowExecutor(ShadowSettings(max_concurrency=64), publish=recorder.record_comparison, metrics=metrics)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=FlagTestData().stage(stage).client(),
        owners=owners,
        records=recorder,
        shadows=shadows,
        metrics=metrics,
        resources=(shadows, recorder, *([] if records in resources else [records]), *resources),
    )

    def settle() -> None:
        shadows.drain(30)
        # BufferedRecorder.flush spins while its queue is non-empty: wait on the backlog first, so that the CPU
        # measured is the writer's, not a busy wait's.
        deadline = time.monotonic() + 60
        while recorder.backlog and time.monotonic() < deadline:
            time.sleep(0.01)
        recorder.flush(30)

    return _Built(router, durable if stage == "complete" else legacy, settle, owners_engine)


def _request(prefix: str, i: int) -> Any:
    from router.contract import OperationRequest

    return OperationRequest(
        f"{prefix}-{i}",
        "resizeServerGroup",
        "resizeServerGroup",
        "prod",
        "bench",
        "aws",
        {"serverGroupName": "bench-main-v001", "region": "us-east-1"},
    )


def _alternate(
    samples: int, arms: dict[str, Callable[[Any], Any]], settle: Callable[[], None], block: int = 100
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Time each arm on its own fresh operations, `block` at a time in turn, after a warm-up. Between blocks,
    `settle` lets background work finish, so that one arm's leftovers never land in the other's block: its wall
    time is not counted, its CPU time is (the second dict: process CPU seconds per arm, blocks and settles)."""
    nonce = uuid.uuid4().hex[:6]
    for name, call in arms.items():
        for i in range(min(samples, 200)):
            call(_request(f"warm-{nonce}-{name}", i))
    settle()
    timings: dict[str, list[float]] = {name: [] for name in arms}
    cpu = dict.fromkeys(arms, 0.0)
    clock = time.perf_counter
    for start in range(0, samples, block):
        for name, call in arms.items():
            requests = [_request(f"{nonce}-{name}", i) for i in range(start, min(start + block, samples))]
            cpu_before = time.process_time()
            for request in requests:
                began = clock()
                call(request)
                timings[name].append(clock() - began)
            settle()
            cpu[name] += time.process_time() - cpu_before
    return timings, cpu


def _overhead(
    samples: int, work_s: float, sql_url: str | None, records_url: str, pre_ping: bool = True
) -> dict[str, Any]:
    from bench._router_sql import caller_sql_per_operation

    built = _build("complete", work_s, 0.0, sql_url, records_url, pre_ping)
    sql: dict[str, Any] = {}
    try:
        arms = {"direct": built.path.run, "router": built.router.run}
        timings, cpu = _alternate(samples, arms, built.settle, block=max(100, samples // 20))
        if built.engine is not None:  # what one operation asks of the store on the caller's thread, untimed
            nonce = uuid.uuid4().hex[:6]
            counted = (_request(f"count-{nonce}", i) for i in range(50))
            sql = {"caller_sql_per_operation": caller_sql_per_operation(built.engine, built.router.run, counted)}
            built.settle()
    finally:
        built.router.close()
    direct, routed = summary_us(timings["direct"]), summary_us(timings["router"])
    mean_over = routed["mean_us"] - direct["mean_us"]
    return {
        "direct": direct,
        "router": routed,
        "overhead_p50_us": round(routed["p50_us"] - direct["p50_us"], 1),
        "overhead_mean_us": round(mean_over, 1),
        "ratio_mean": round(routed["mean_us"] / direct["mean_us"], 4),
        # What the caller does not wait for but the process still pays: the record writer's work, mostly.
        "cpu_per_operation_us": {k: round(v / len(timings[k]) * 1e6, 1) for k, v in cpu.items()},
        **sql,
    }


def _postgres_arm(samples: int, url: str, in_memory: dict[str, Any], *, pre_ping: bool) -> dict[str, Any]:
    """Ownership and records in PostgreSQL, sharing one pool as `build_routing_runner` wires them (`pre_ping`: as it
    does; False: the pool a user may choose instead); the router's p50 over the in-memory arm's of the same run."""
    found = _overhead(max(1, samples // 5), 0.0, url, url, pre_ping)
    found["added_over_in_memory_p50_us"] = round(found["router"]["p50_us"] - in_memory["router"]["p50_us"], 1)
    what = "PostgreSQL" if pre_ping else "PostgreSQL, no pre-ping"
    click.echo(f"instant path, {what}: +{found['added_over_in_memory_p50_us']} us p50 over in memory", err=True)
    return found


def _shadow(samples: int, work_s: float, candidate_s: float, records_url: str) -> dict[str, Any]:
    from router.compare import ComparisonOutcome

    built = [_build(stage, work_s, candidate_s, None, records_url) for stage in ("legacy", "shadow")]
    arms: dict[str, Callable[[Any], Any]] = {"shadow_off": built[0].router.run, "shadow_on": built[1].router.run}

    def settle() -> None:
        for b in built:
            b.settle()

    routers = [b.router for b in built]
    try:
        timings, _ = _alternate(samples, arms, settle, block=25)
        metrics = routers[1].metrics
        compared = {
            o.value: metrics.value(
                "cloudops_router_comparisons_total", {"operation": "resizeServerGroup", "outcome": o.value}
            )
            for o in ComparisonOutcome
        }
        skipped = metrics.value("cloudops_router_shadows_skipped_total", {"reason": "concurrency_cap"})
    finally:
        for router in routers:
            router.close()
    off, on = summary_us(timings["shadow_off"]), summary_us(timings["shadow_on"])
    return {
        "authoritative_ms": work_s * 1000.0,
        "candidate_ms": candidate_s * 1000.0,
        "added_p50_us": round(on["p50_us"] - off["p50_us"], 1),
        "shadow_off": off,
        "shadow_on": on,
        "p50_ratio_on_over_off": round(on["p50_us"] / off["p50_us"], 4),
        "shadows_compared": {k: int(v) for k, v in compared.items() if v},
        "shadows_skipped_at_the_cap": int(skipped),
    }


@click.command()
@json_option
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=5000,
    show_default=True,
    help="Operations per arm for the instant path.",
)
@click.option(
    "--work-samples",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Operations per arm for the paths that take --work-ms.",
)
@click.option(
    "--work-ms",
    type=FiniteFloat(min=0.0),
    default=2.0,
    show_default=True,
    help="Time a fast path takes per operation.",
)
@click.option(
    "--shadow-work-ms",
    type=FiniteFloat(min=0.0),
    default=20.0,
    show_default=True,
    help="Time the authoritative call takes in the shadow comparison judged against its target (the shadow cost "
    "is also measured on a --work-ms call).",
)
@click.option(
    "--candidate-ms",
    type=FiniteFloat(min=0.0),
    default=100.0,
    show_default=True,
    help="Time the shadowed path's dry run takes.",
)
@click.option(
    "--postgres-url",
    default=None,
    help="A throwaway PostgreSQL database to keep ownership and records in for one more arm (the router's tables "
    "are migrated there); the bench starts no server: see docs/benchmarks.md, section 4.",
)
def command(
    as_json: bool,
    samples: int,
    work_samples: int,
    work_ms: float,
    shadow_work_ms: float,
    candidate_ms: float,
    postgres_url: str | None,
) -> None:
    """The router's overhead per operation, and the authoritative call's latency with shadows on vs off."""
    from bench._router_sql import database_floor, open_postgres

    started = time.monotonic()
    postgres_url = open_postgres(postgres_url) if postgres_url else None
    work_s, candidate_s = work_ms / 1000.0, candidate_ms / 1000.0
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-router-") as tmp:
        records = _records_url(Path(tmp))
        try:
            instant = _overhead(samples, 0.0, None, records)
            click.echo(f"instant path: +{instant['overhead_p50_us']} us p50", err=True)
            owners_url = f"sqlite:///{Path(tmp) / 'owners.db'}"
            instant_sql = _overhead(max(1, samples // 10), 0.0, owners_url, records)
            click.echo(f"instant path, SQL ownership: +{instant_sql['overhead_p50_us']} us p50", err=True)
            instant_pg: dict[str, Any] | str = "not measured: pass --postgres-url"
            no_ping: dict[str, Any] = {}
            floor: dict[str, Any] = {}
            if postgres_url:
                floor = database_floor(postgres_url, max(1, samples // 5))
                instant_pg = _postgres_arm(samples, postgres_url, instant, pre_ping=True)
                no_ping = _postgres_arm(samples, postgres_url, instant, pre_ping=False)
            fast = _overhead(work_samples, work_s, None, records)
            click.echo(f"{work_ms:g} ms path: x{fast['ratio_mean']}", err=True)
            shadow_fast = _shadow(work_samples, work_s, candidate_s, records)
            click.echo(f"shadow on/off p50 on a {work_ms:g} ms call: x{shadow_fast['p50_ratio_on_over_off']}", err=True)
            shadow = _shadow(max(1, work_samples // 2), shadow_work_ms / 1000.0, candidate_s, records)
            click.echo(
                f"shadow on/off p50 on a {shadow_work_ms:g} ms call: x{shadow['p50_ratio_on_over_off']}", err=True
            )
        finally:
            shutil.rmtree(Path(records.removeprefix("sqlite:///")).parent, ignore_errors=True)
    overhead_ok = instant["overhead_p50_us"] <= 200 or fast["ratio_mean"] <= 1.03
    targets = [
        {
            "target": "router overhead <= 200 us per operation, or <= 3 %",
            "value": {"overhead_p50_us": instant["overhead_p50_us"], "ratio_mean_fast_path": fast["ratio_mean"]},
            "met": overhead_ok,
        },
        Target.at_most(
            f"authoritative p50 ({shadow_work_ms:g} ms call), shadow on / off", shadow["p50_ratio_on_over_off"], 1.05
        ).to_json(),
    ]
    if isinstance(instant_pg, dict):
        added = instant_pg["added_over_in_memory_p50_us"]
        name = "router p50 added by ownership and records on PostgreSQL, over in-memory ownership (us)"
        targets.append(Target.at_most(name, added, 1000).to_json())
    report = {
        "benchmark": "router",
        "overhead": {
            "instant_path_in_memory_ownership": instant,
            "instant_path_sqlite_ownership": instant_sql,
            **({"instant_path_postgresql_ownership_and_records": instant_pg} if isinstance(instant_pg, dict) else {}),
            **({"instant_path_postgresql_pool_without_pre_ping": no_ping} if no_ping else {}),
            f"path_taking_{work_ms:g}ms_in_memory_ownership": fast,
        },
        "shadow": {f"authoritative_{work_ms:g}ms": shadow_fast, f"authoritative_{shadow_work_ms:g}ms": shadow},
        "targets": targets,
    }
    if not isinstance(instant_pg, dict):
        report["postgresql"] = instant_pg
    else:  # what the database itself takes per round trip at this load, measured just before the arms
        report["postgresql_floor"] = floor
    emit(report, started)
