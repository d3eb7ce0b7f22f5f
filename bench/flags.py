"""`cloudops bench flags`: decision latency over 10,000 scoped properties against LaunchDarkly, and propagation.

Latency: p50/p99 of `FlagClient.decide` on a snapshot of N random scoped properties of the migration stage (a
fifth of them canaries), beside the LaunchDarkly SDK's `variation_detail` in the same run on (a) the same
properties exported as one flag (one rule per property, most specific first: LaunchDarkly walks rules in order)
and (b) LaunchDarkly's easy case, one flag with one rule and a percentage rollout. Contexts for LaunchDarkly are
built before timing, which favours it. Propagation: the store holds the same N properties; a writer subprocess
changes one more every 50 ms; this process holds a FlagClient pushed over Redis (polling every 30 s, so only the
push can be fast) and records when each version becomes visible; the figure is visible-time minus the writer's
time before its write.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import click

from bench._support import emit, json_option

__all__ = ["command"]

_STAGE = "cloudops.migration.stage"
_NAMES = ("application", "account", "operation", "stage_type", "provider")
_OPERATIONS = (
    "createServerGroup",
    "resizeServerGroup",
    "destroyServerGroup",
    "disableServerGroup",
    "enableServerGroup",
    "upsertLoadBalancer",
    "terminateInstances",
    "rollbackServerGroup",
)


def _universe(size: int) -> list[list[str]]:
    return [
        [f"app-{i}" for i in range(max(size // 25, 10))],
        [f"acct-{i}" for i in range(60)],
        list(_OPERATIONS),
        ["deploy", "resize", "destroy", "disable", "rollback"],
        ["aws", "sim", "gce"],
    ]


def _properties(size: int, rng: random.Random) -> list[Any]:
    from flags import Property, Scope

    universe, seen, found = _universe(size), set[str](), list[Property]()
    stages = ("legacy", "shadow", "canary", "durable", "complete")
    while len(found) < size:
        scope = Scope.of({n: rng.choice(u) for n, u in zip(_NAMES, universe, strict=True) if rng.random() < 0.5})
        if scope.key() in seen:
            continue
        seen.add(scope.key())
        stage = rng.choice(stages)
        found.append(
            Property(
                id=f"p{len(found) + 1}",
                key=_STAGE,
                value=stage,
                scope=scope,
                version=1,
                percent=rng.choice((1.0, 10.0, 25.0, 50.0)) if stage == "canary" else None,
            )
        )
    return found


def _requests(size: int, count: int, rng: random.Random) -> list[tuple[dict[str, str], dict[str, str]]]:
    universe = _universe(size)
    return [
        (
            {n: rng.choice(u) for n, u in zip(_NAMES, universe, strict=True)},
            {"operation_id": f"op-{rng.getrandbits(48):x}"},
        )
        for _ in range(count)
    ]


def _percentiles(samples_ns: Sequence[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(q: float) -> float:
        return ordered[min(int(len(ordered) * q), len(ordered) - 1)] / 1000.0

    return {"p50_us": at(0.50), "p99_us": at(0.99), "mean_us": statistics.fmean(ordered) / 1000.0, "n": len(ordered)}


def _time(calls: Sequence[Callable[[], object]], warmup: int = 500) -> dict[str, float]:
    for call in calls[:warmup]:
        call()
    clock = time.perf_counter_ns
    samples = []
    for call in calls:
        start = clock()
        call()
        samples.append(clock() - start)
    return _percentiles(samples)


def _ld_client(data: dict[str, Any], workdir: Path) -> Any:
    from ldclient import Config, LDClient
    from ldclient.integrations import Files

    path = workdir / f"ld-{len(list(workdir.iterdir()))}.json"
    path.write_text(json.dumps(data))
    config = Config(
        "bench-sdk-key",
        update_processor_class=Files.new_data_source([str(path)]),
        send_events=False,
        diagnostic_opt_out=True,
    )
    return LDClient(config=config, start_wait=10)


def _one_rule_flag() -> dict[str, Any]:
    share = {"stage": "canary", "percent": 10, "bucketBy": "operation_id"}
    return {
        "flags": {
            _STAGE: {
                "key": _STAGE,
                "version": 1,
                "on": True,
                "salt": _STAGE,
                "offVariation": 0,
                "fallthrough": {"variation": 0},
                "variations": ["legacy", {**share, "inRollout": True}, {**share, "inRollout": False}],
                "rules": [
                    {
                        "id": "r1",
                        "clauses": [
                            {
                                "contextKind": "account",
                                "attribute": "key",
                                "op": "in",
                                "values": ["acct-1"],
                                "negate": False,
                            }
                        ],
                        "rollout": {
                            "contextKind": "account",
                            "bucketBy": "operation_id",
                            "variations": [{"variation": 1, "weight": 10000}, {"variation": 2, "weight": 90000}],
                        },
                    }
                ],
                "targets": [],
                "contextTargets": [],
                "prerequisites": [],
            }
        }
    }


def _latency(size: int, samples: int, ld_samples: int, seed: int, workdir: Path) -> dict[str, Any]:
    from flags import FlagClient, Snapshot, to_launchdarkly_data
    from flags.launchdarkly import context_for

    rng = random.Random(seed)
    snapshot = Snapshot.of(1, _properties(size, rng))
    client = FlagClient.from_snapshot(snapshot)
    requests = _requests(size, samples, rng)
    ours = _time([partial(client.decide, _STAGE, d, a) for d, a in requests])
    easy_requests = [({**d, "account": "acct-1"}, a) for d, a in requests]
    ours_easy = _time([partial(client.decide, _STAGE, d, a) for d, a in easy_requests])

    equivalent = _ld_client(to_launchdarkly_data(snapshot), workdir)
    one_rule = _ld_client(_one_rule_flag(), workdir)
    try:
        contexts = [context_for(d, a) for d, a in requests[:ld_samples]]
        ld_equivalent = _time(
            [partial(equivalent.variation_detail, _STAGE, c, "legacy") for c in contexts],
            warmup=min(50, len(contexts)),
        )
        easy_contexts = [context_for(d, a) for d, a in easy_requests]
        ld_one_rule = _time([partial(one_rule.variation_detail, _STAGE, c, "legacy") for c in easy_contexts])
        agree = sum(
            client.decide(_STAGE, d, a).value == _stage_of(equivalent.variation_detail(_STAGE, c, "legacy").value)
            for (d, a), c in zip(requests, contexts, strict=False)
        )
    finally:
        equivalent.close()
        one_rule.close()
    return {
        "properties": size,
        "ours": ours,
        "ours_one_rule_workload": ours_easy,
        "launchdarkly_equivalent_flag": ld_equivalent,
        "launchdarkly_one_rule_flag": ld_one_rule,
        "ratios": {
            "ours_p99_over_ld_equivalent_p99": ours["p99_us"] / ld_equivalent["p99_us"],
            "ours_p99_over_ld_one_rule_p99": ours["p99_us"] / ld_one_rule["p99_us"],
            "ours_p50_over_ld_one_rule_p50": ours["p50_us"] / ld_one_rule["p50_us"],
        },
        "same_values_as_launchdarkly": f"{agree}/{len(contexts)}",
        "target_p99_us": 20.0,
        "meets_target": ours["p99_us"] <= 20.0 and ours["p99_us"] <= ld_one_rule["p99_us"],
    }


def _stage_of(value: Any) -> Any:
    return value.get("stage") if isinstance(value, dict) else value


@contextmanager
def _redis(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _writer(db: str, redis_url: str, writes: int, pause: float) -> None:
    """The other process: change a property `writes` times, printing each version and the time before it."""
    from flags import RedisChangeBus, SqlFlagStore

    store = SqlFlagStore(db, notifier=RedisChangeBus(redis_url))
    for i in range(writes):
        before = time.time()
        prop = store.set_property("bench.propagation", i, {"application": "bench"}, actor="bench", reason="bench")
        print(json.dumps({"version": store.current_version(), "before": before, "value": prop.value}), flush=True)
        time.sleep(pause)


def _seed(url: str, props: Sequence[Any]) -> None:
    """Put the latency workload's properties in the store, straight into the table in one transaction (a
    benchmark fixture: 10,000 audited writes would take minutes and measure nothing we report)."""
    import sqlalchemy as sa

    from flags.sql_schema import flag_properties, flag_state

    now = datetime.now(UTC)
    rows = [
        {
            "id": f"seed-{p.id}",
            "key": p.key,
            "scope_key": p.scope.key(),
            **dict(zip(_NAMES, p.scope.values(), strict=True)),
            "value_json": json.dumps(p.value),
            "percent": p.percent,
            "bucket_by": None,
            "expires_at": None,
            "version": 1,
            "updated_at": now,
            "updated_by": "bench",
            "reason": "seed",
            "ticket": None,
        }
        for p in props
    ]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(flag_properties), rows)
            conn.execute(sa.update(flag_state).values(version=flag_state.c.version + 1))
    finally:
        engine.dispose()


def _propagation(
    db: str | None, redis_url: str | None, writes: int, workdir: Path, seed: Sequence[Any]
) -> dict[str, Any]:
    import migrations
    from flags import FlagClient, Snapshot

    if redis_url is None:
        return {"skipped": "no Redis: pass --redis-url or install redis-server"}
    url = db or f"sqlite:///{workdir / 'propagation.db'}"
    migrations.upgrade(url)
    _seed(url, seed)
    seen: dict[int, float] = {}
    client = FlagClient.from_url(url, redis_url=redis_url, poll_interval=30.0, safety_poll_interval=30.0)

    def visible(snapshot: Snapshot) -> None:
        seen.setdefault(snapshot.version, time.time())

    client.add_listener(visible)
    try:
        time.sleep(0.3)  # let the subscription settle
        argv = [
            sys.executable,
            "-c",
            f"import sys; from bench.flags import _writer; _writer({url!r}, {redis_url!r}, {writes}, 0.05)",
        ]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
        written = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        last = written[-1]["version"]
        client.wait_for_version(last, timeout=10)
    finally:
        client.close()
    latencies = []
    for w in written:
        shown = min((t for v, t in seen.items() if v >= w["version"]), default=None)
        if shown is not None:
            latencies.append(int((shown - w["before"]) * 1e9))
    figures = _percentiles(latencies) if latencies else {}
    return {
        "store_properties": len(seed) + 1,
        "writes": len(written),
        "seen": len(latencies),
        "p50_ms": figures.get("p50_us", 0) / 1000.0,
        "p99_ms": figures.get("p99_us", 0) / 1000.0,
        "target_p99_ms": 1000.0,
        "meets_target": bool(latencies) and len(latencies) == len(written) and figures["p99_us"] <= 1_000_000,
    }


@click.command()
@json_option
@click.option(
    "--properties", type=click.IntRange(1), default=10000, show_default=True, help="Scoped properties in the snapshot."
)
@click.option("--samples", type=click.IntRange(1), default=20000, show_default=True, help="Timed decisions per engine.")
@click.option(
    "--ld-samples",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Timed decisions on LaunchDarkly's N-rule flag.",
)
@click.option(
    "--writes",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Changes timed for propagation (0 skips it).",
)
@click.option("--db", help="Database for propagation (default: a temporary SQLite file).")
@click.option("--redis-url", envvar="CLOUDOPS_REDIS_URL", help="Redis for propagation (default: start redis-server).")
@click.option("--seed", default=7, show_default=True)
def command(
    as_json: bool,
    properties: int,
    samples: int,
    ld_samples: int,
    writes: int,
    db: str | None,
    redis_url: str | None,
    seed: int,
) -> None:
    """Flag decision latency (ours vs LaunchDarkly's SDK) and change propagation over Redis push."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-flags-") as tmp:
        workdir = Path(tmp)
        result: dict[str, Any] = {"latency": _latency(properties, samples, ld_samples, seed, workdir)}
        if writes > 0:
            with _redis(redis_url) as url:
                props = _properties(properties, random.Random(seed))
                result["propagation"] = _propagation(db, url, writes, workdir, props)
    emit(result, started)
