"""`cloudops bench gateway`: the latency `cloudops gateway --upstream` adds to the reads it passes through, against
calling the upstream directly in the same run.

The upstream is the legacy service (`cloudops clouddriver` over `cloudops sim-cloud`), the stand-in for a real
Clouddriver; the gateway is a process in front of it, as Orca would reach it. Each read is sent alternately
straight to the upstream and through the gateway, each side over its own kept-alive connection, so both meet the
same machine at the same moments. Two reads: `GET /credentials?expand=true` (a pure pass-through) and
`GET /task/{id}` of a task the gateway did not issue (Orca's poll: the gateway first looks the id up in its own
tables). The figure is the added latency, p50 and p99 through minus direct (and the fastest read's, the least
disturbed by a busy machine); the target is <= 2 ms at p50.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import click
import httpx
import yaml

from bench._services import Service, clouddriver, free_port, sim_cloud, start_together
from bench._support import Target, emit, json_option, rss_mb, summary_ms
from processes import http_ok, module_argv

__all__ = ["command"]

_READS = {"credentials": "/credentials?expand=true", "task_poll": "/task/{task}"}


def _gateway(workdir: Path, upstream: str) -> Service:
    """`cloudops gateway --upstream` on a free port, with its own SQLite database and no Temporal (not started):
    nothing it is asked here goes to the durable path."""
    port = free_port()
    config = workdir / "gateway.yaml"
    router = {
        "legacy_url": upstream,
        "temporal_address": f"127.0.0.1:{free_port()}",
        "database_url": f"sqlite:///{workdir / 'gateway.db'}",
    }
    config.write_text(yaml.safe_dump({"router": router, "gateway": {"tick_s": 1.0}}))
    argv = module_argv("cloudops", "gateway", "--port", str(port), "--config", str(config), "--upstream", upstream)
    return Service("gateway", argv, port, workdir / f"gateway-{port}.log", lambda s: http_ok(f"{s.url}/health"))


def _timed(http: httpx.Client, target: str, expect: int) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = http.get(target)
    elapsed = time.perf_counter() - started
    if response.status_code != expect:
        raise click.ClickException(f"GET {target} answered {response.status_code}, expected {expect}")
    return elapsed, response.content


def _measure(
    direct: httpx.Client, through: httpx.Client, target: str, expect: int, samples: int, warmup: int
) -> dict[str, Any]:
    """Alternate the two sides, `warmup` rounds unrecorded, then `samples` rounds; the bodies must match."""
    times: dict[str, list[float]] = {"direct": [], "through": []}
    order: list[tuple[str, httpx.Client]] = [("direct", direct), ("through", through)]
    for i in range(warmup + samples):
        for name, client in order if i % 2 == 0 else reversed(order):
            elapsed, body = _timed(client, target, expect)
            if i >= warmup:
                times[name].append(elapsed)
            if name == "direct":
                expected_body = body
            elif expect == 200 and body != expected_body:  # an error body carries its own timestamp
                raise click.ClickException(f"GET {target} through the gateway answered other bytes than directly")
    direct_s, through_s = summary_ms(times["direct"]), summary_ms(times["through"])
    return {
        "direct": direct_s,
        "through_gateway": through_s,
        "added_p50_ms": round(through_s["p50_ms"] - direct_s["p50_ms"], 3),
        "added_p99_ms": round(through_s["p99_ms"] - direct_s["p99_ms"], 3),
        # The fastest read of each side: on a busy machine, the closest figure to the gateway's own cost.
        "added_min_ms": round(through_s["min_ms"] - direct_s["min_ms"], 3),
        "ratio_p50": round(through_s["p50_ms"] / direct_s["p50_ms"], 3) if direct_s["p50_ms"] else None,
    }


@click.command()
@json_option
@click.option("--samples", type=click.IntRange(10), default=2000, show_default=True, help="Reads per side and kind.")
@click.option("--warmup", type=click.IntRange(0), default=200, show_default=True, help="Unrecorded reads first.")
def command(as_json: bool, samples: int, warmup: int) -> None:
    """The latency the gateway adds to reads it passes through to its upstream Clouddriver (p50, p99)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-gateway-") as tmp:
        workdir = Path(tmp)
        sim = sim_cloud(workdir)
        upstream = clouddriver(workdir, sim.url, settings={"ACCOUNTS_TTL_S": "60"}, threads=8)
        gateway = _gateway(workdir, upstream.url)
        services = [gateway, upstream, sim]
        try:
            start_together(sim)
            start_together(upstream, gateway)
            results = _run(upstream.url, gateway.url, samples, warmup)
            memory = {"gateway_rss_mb": rss_mb(gateway.pid) if gateway.pid else None}
        finally:
            for service in services:
                service.stop()
    targets = [
        Target.at_most(f"added p50 on {name} reads (ms)", result["added_p50_ms"], 2.0).to_json()
        for name, result in results.items()
    ]
    emit({"benchmark": "gateway", "reads": results, "memory": memory, "targets": targets}, started)


def _run(upstream: str, gateway: str, samples: int, warmup: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    results: dict[str, Any] = {}
    with (
        httpx.Client(base_url=upstream, limits=limits, timeout=10) as direct,
        httpx.Client(base_url=gateway, limits=limits, timeout=10) as through,
    ):
        kinds: dict[str, tuple[str, int]] = {
            "credentials": (_READS["credentials"], 200),
            "task_poll": (_READS["task_poll"].format(task="not-a-gateway-task"), 404),
        }
        for name, (target, expect) in kinds.items():
            click.echo(f"{name}: {samples} reads each way ...", err=True)
            results[name] = found = _measure(direct, through, target, expect, samples, warmup)
            click.echo(f"{name}: +{found['added_p50_ms']} ms p50, +{found['added_p99_ms']} ms p99", err=True)
    return results
