"""`cloudops dev`: the whole stack on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cloudops.commands._input import FiniteFloat

if TYPE_CHECKING:
    from cloudops.devstack import EmbeddedStack

__all__ = ["command"]


@click.command(context_settings={"show_default": True})
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where state and logs go [default: CLOUDOPS_STATE_DIR, else ./.cloudops].",
)
@click.option("--host", default="127.0.0.1", help="Interface every service binds.")
@click.option("--temporal-port", type=click.IntRange(1, 65535), default=7233, help="Temporal gRPC port.")
@click.option("--ui-port", type=click.IntRange(1, 65535), default=8233, help="Temporal Web UI port.")
@click.option("--sim-port", type=click.IntRange(1, 65535), default=7010, help="Sim cloud port.")
@click.option("--clouddriver-port", type=click.IntRange(1, 65535), default=7002, help="Legacy Clouddriver port.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=9464, help="Worker Prometheus port.")
@click.option("--console-port", type=click.IntRange(1, 65535), default=8090, help="Flag console port.")
@click.option("--health-delay", type=FiniteFloat(min=0.0), default=1.0, help="Sim: seconds until healthy.")
@click.option("--fault-rate", type=FiniteFloat(0.0, 1.0), default=0.0, help="Sim: transient fault rate.")
@click.option("--seed", type=int, default=0, help="Sim: fault seed.")
@click.option("--no-clouddriver", is_flag=True, help="Do not start the legacy Clouddriver.")
@click.option("--no-ui", is_flag=True, help="Start Temporal without its Web UI.")
@click.option("--no-console", is_flag=True, help="Do not start the flag console.")
@click.option("--json", "as_json", is_flag=True, help="Print the addresses as one JSON object once ready.")
def command(
    state_dir: Path | None,
    host: str,
    temporal_port: int,
    ui_port: int,
    sim_port: int,
    clouddriver_port: int,
    metrics_port: int,
    console_port: int,
    health_delay: float,
    fault_rate: float,
    seed: int,
    no_clouddriver: bool,
    no_ui: bool,
    no_console: bool,
    as_json: bool,
) -> None:
    """Start the embedded stack: the Temporal dev server (state in <state dir>/temporal.db), the sim cloud, the
    durable worker, the legacy Clouddriver and the flag console; print every address; stop everything cleanly on
    Ctrl-C/SIGTERM.

    The console signs in user `dev` with a random password made at each start and printed once (its config file,
    <state dir>/console.yaml, keeps only the hash). Logs: <state dir>/logs/<service>.log.
    """
    import signal
    import threading

    from cloudops.devstack import EmbeddedStack, StackConfig, StackError
    from cloudops.paths import state_dir as default_state_dir

    config = StackConfig(
        state_dir=(state_dir.resolve() if state_dir else default_state_dir()),
        host=host,
        temporal_port=temporal_port,
        ui_port=ui_port,
        sim_port=sim_port,
        clouddriver_port=clouddriver_port,
        metrics_port=metrics_port,
        console_port=console_port,
        with_console=not no_console,
        # The console edits the database the other commands use: CLOUDOPS_DATABASE_URL, else <state dir>/cloudops.db.
        database_url=os.environ.get("CLOUDOPS_DATABASE_URL") or None,
        health_delay_s=health_delay,
        fault_rate=fault_rate,
        seed=seed,
        with_clouddriver=not no_clouddriver,
        ui=not no_ui,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    # Handlers first, so a Ctrl-C during startup still stops what already started.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Progress goes to stderr, so stdout stays the addresses (one JSON object with --json).
    stack = EmbeddedStack(config, echo=lambda line: click.echo(line, err=True))
    try:
        stack.start()
    except StackError as err:
        raise click.ClickException(str(err)) from err
    try:
        _announce(stack, as_json)
        while not stop.wait(0.5):
            dead = stack.dead()
            if dead:
                names = ", ".join(f"{s.name} (exit {s.process.returncode}, log {s.log_path})" for s in dead)
                raise click.ClickException(f"stopped: {names} exited unexpectedly")
    finally:
        stack.stop()
    click.echo("stopped", err=True)


def _announce(stack: EmbeddedStack, as_json: bool) -> None:
    addresses = stack.addresses()
    login = stack.console_login
    if as_json:
        document: dict[str, object] = {"addresses": addresses, "skipped": stack.skipped, "ready": True}
        if login is not None:
            document["console"] = {"url": login.url, "user": login.user, "password": login.password}
        click.echo(json.dumps(document), nl=True)
        return
    labels = {
        "temporal": "Temporal gRPC",
        "temporal-ui": "Temporal UI",
        "sim-cloud": "sim cloud",
        "worker": "worker",
        "worker-metrics": "worker metrics",
        "clouddriver": "Clouddriver (legacy)",
        "console": "flag console",
    }
    click.echo("cloudops dev stack ready:")
    for key, value in addresses.items():
        click.echo(f"  {labels.get(key, key):<22} {value}")
    for name, reason in stack.skipped.items():
        click.echo(f"  {name:<22} skipped: {reason}")
    click.echo(f"  {'state':<22} {stack.config.state_dir}")
    if login is not None:
        click.echo(f"Console login: user {login.user}, password {login.password} (a new one at every start)")
    click.echo("Press Ctrl-C to stop.")
