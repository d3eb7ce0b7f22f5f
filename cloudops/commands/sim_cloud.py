"""`cloudops sim-cloud`: serve a simulated cloud over HTTP, with seeded fault injection and a mutation journal."""

from __future__ import annotations

from pathlib import Path

import click

from cloudops.commands._input import FiniteFloat

__all__ = ["command", "parse_fault_mix"]

_MIX_KEYS = {
    "throttle": "throttle",
    "server_error": "serverError",
    "timeout": "timeout",
    "lost_response": "lostResponse",
}


def parse_fault_mix(text: str) -> dict[str, float]:
    """`throttle=2,lost_response=1` -> the FaultConfig JSON weights it names; ValueError saying what is wrong."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in _MIX_KEYS:
            raise ValueError(f"{part!r}: write KIND=WEIGHT with KIND one of {', '.join(_MIX_KEYS)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: the weight must be a number") from None
        weights[_MIX_KEYS[key.strip()]] = weight
    if not weights:
        raise ValueError("give at least one KIND=WEIGHT")
    # Kinds left out of the mix get no weight, so `--fault-mix lost_response=1` injects only lost responses.
    return {json_key: weights.get(json_key, 0.0) for json_key in _MIX_KEYS.values()}


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=7010, show_default=True, help="TCP port to serve on.")
@click.option(
    "--fault-rate",
    type=FiniteFloat(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Probability that a call fails transiently (throttle, 5xx, timeout, or applied-but-response-lost).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of fault decisions, instance ids, DNS names."
)
@click.option(
    "--fault-mix",
    default=None,
    metavar="KIND=W,...",
    help="Relative weights of the failure kinds (throttle, server_error, timeout, lost_response); kinds left out "
    "get 0. Default: throttle=0.35,server_error=0.25,timeout=0.2,lost_response=0.2.",
)
@click.option(
    "--latency-ms",
    type=FiniteFloat(min=0.0),
    default=0.0,
    show_default=True,
    help="Median latency added to every call (log-normal, seeded); 0 for none.",
)
@click.option(
    "--latency-spread",
    type=FiniteFloat(min=0.0),
    default=0.5,
    show_default=True,
    help="Sigma of the latency's logarithm: 0 makes every call take exactly --latency-ms.",
)
@click.option(
    "--health-delay",
    type=FiniteFloat(min=0.0),
    default=1.0,
    show_default=True,
    help="Seconds after launch before an instance turns Healthy.",
)
@click.option(
    "--world",
    "world_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON or YAML world file (accounts, regions, zones, limits; format in cloud/sim/world.py). "
    "Default: prod and test (aws), titusprod and titustest (titus) in us-east-1, us-west-2, eu-west-1.",
)
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True, help="Waitress worker threads.")
def command(
    host: str,
    port: int,
    fault_rate: float,
    seed: int,
    fault_mix: str | None,
    latency_ms: float,
    latency_spread: float,
    health_delay: float,
    world_file: Path | None,
    threads: int,
) -> None:
    """Serve a simulated cloud with AWS-like semantics over HTTP.

    Server groups whose instances turn Healthy after --health-delay, capacity bounds, load balancers, and the
    accounts and regions of its world. Every mutation takes an idempotency token: a retry with the same token
    never applies twice. Injected faults are a pure function of --seed and the call, so the same workload fails
    the same calls on every run.

    \b
    Point a tool at it with the cloud spec http://HOST:PORT. Besides the API under /v1/:
      GET  /journal            every applied mutation, once, with a summary (duplicates, counts per kind)
      POST /admin/hard-down    {"account": "prod", "region": null, "down": true} fails that scope hard
      POST /admin/faults       {"rate": 0.1, "lostResponse": 1, ...} changes the fault model
      GET  /healthz

    \b
    Example: cloudops sim-cloud --port 7010 --fault-rate 0.04 --seed 7
    """
    import logging

    from waitress import serve

    from cloud.sim import FaultConfig, InvalidWorld, SimCloud, default_world, load_world
    from cloud.sim.server import create_app

    try:
        world = load_world(world_file) if world_file else default_world()
    except InvalidWorld as exc:
        raise click.BadParameter(str(exc), param_hint="--world") from None
    settings: dict[str, float | int] = {"rate": fault_rate, "seed": seed}
    settings |= {"latencyMedianMs": latency_ms, "latencySpread": latency_spread}
    try:
        settings |= parse_fault_mix(fault_mix) if fault_mix is not None else {}
        faults = FaultConfig.from_json(settings)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault-mix") from None

    sim = SimCloud(world=world, faults=faults, health_delay_s=health_delay)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    accounts = ", ".join(f"{a.name} ({a.provider})" for a in world.accounts)
    click.echo(
        f"sim cloud on http://{host}:{port}: accounts {accounts}; fault rate {fault_rate}, seed {seed}, "
        f"latency {latency_ms} ms, health delay {health_delay} s",
        err=True,
    )
    try:
        serve(create_app(sim), host=host, port=port, threads=threads, ident="cloudops-sim-cloud")
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
