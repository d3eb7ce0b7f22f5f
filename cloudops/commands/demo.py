"""`cloudops demo`: a staged migration under injected faults on the embedded stack, ending in a summary and a report."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cloudops.commands._input import FiniteFloat

if TYPE_CHECKING:
    from cloudops.demo.run import Demo

__all__ = ["command"]

_PORT = click.IntRange(1, 65535)


@click.command(context_settings={"show_default": True})
@click.option(
    "--ops", type=click.IntRange(1, 100_000), default=600, help="Operations in the workload (pipelines of 4)."
)
@click.option("--fault-rate", type=FiniteFloat(0.0, 1.0), default=0.04, help="Sim cloud: transient fault rate.")
@click.option("--seed", type=int, default=1, help="Seed of the workload and of the sim cloud's faults.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the summary table.")
@click.option("--exit", "exit_after", is_flag=True, help="Stop the stack after the summary instead of keeping it up.")
@click.option(
    "--min-ops", type=click.IntRange(1), default=10, help="Operations (or comparisons) a rollout step needs to pass."
)
@click.option("--steps", default="50,100", help="Canary percents a rollout goes through between shadow and durable.")
@click.option("--step-seconds", type=FiniteFloat(0.0), default=10.0, help="Seconds a rollout step lasts at least.")
@click.option("--kill-every", type=FiniteFloat(0.0), default=75.0, help="Seconds between worker SIGKILLs (0: never).")
@click.option(
    "--poll-interval",
    type=FiniteFloat(0.05),
    default=None,
    help="Seconds between task polls (legacy) and health checks (both paths) [default: each component's own: "
    "5s for Orca's task poll and Clouddriver's health check, 2s for the worker's].",
)
@click.option(
    "--shadow-destroys",
    is_flag=True,
    help="Shadow destroyServerGroup too: its dry run races the real destroy (counted as ignored state races).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the run keeps its state [default: <CLOUDOPS_STATE_DIR or .cloudops>/demo-<time>-seed<seed>].",
)
@click.option("--temporal-port", type=_PORT, default=None, help="Temporal gRPC port [default: a free one].")
@click.option("--ui-port", type=_PORT, default=None, help="Temporal Web UI port [default: a free one].")
@click.option("--console-port", type=_PORT, default=None, help="Flag console port [default: a free one].")
@click.option("--sim-port", type=_PORT, default=None, help="Sim cloud port [default: a free one].")
@click.option("--clouddriver-port", type=_PORT, default=None, help="Legacy Clouddriver port [default: a free one].")
@click.option("--metrics-port", type=_PORT, default=None, help="Worker metrics port [default: a free one].")
def command(
    ops: int,
    fault_rate: float,
    seed: int,
    as_json: bool,
    exit_after: bool,
    min_ops: int,
    steps: str,
    step_seconds: float,
    kill_every: float,
    poll_interval: float | None,
    shadow_destroys: bool,
    state_dir: Path | None,
    temporal_port: int | None,
    ui_port: int | None,
    console_port: int | None,
    sim_port: int | None,
    clouddriver_port: int | None,
    metrics_port: int | None,
) -> None:
    """Run a staged migration on this machine and show what happened.

    Starts the embedded stack (Temporal dev server, a sim cloud with transient faults, the durable worker, the
    legacy Clouddriver and the flag console); runs deployment pipelines (create, resize, disable the previous
    server group, destroy the one before) for 3 applications in accounts prod, test (aws) and titusprod (titus)
    through the router, while guarded rollouts move each application/account scope from legacy through shadow
    and canary to durable and the worker is SIGKILLed now and then. Ends with a summary (operations, failures
    and latency per path, shadow comparisons, each rollout's final stage), an HTML report, and the console's
    address and login. The defaults take about three minutes.

    The stack stays up after the summary, for the console, until Ctrl-C; with --exit, or when standard input is
    not a terminal, it stops at once. State and logs: <state dir>/ (cloudops.db, temporal.db, logs/).
    """
    import signal

    from cloudops.demo.progress import Progress
    from cloudops.demo.render import render_text
    from cloudops.demo.rollouts import RolloutSettings
    from cloudops.demo.run import Demo, DemoError, DemoOptions, Ports
    from cloudops.paths import state_dir as base_state_dir
    from rollouts.errors import InvalidPlan
    from rollouts.model import parse_steps

    try:
        canary_steps = parse_steps(steps)
    except InvalidPlan as exc:
        raise click.BadParameter(exc.message, param_hint="--steps") from None
    run_dir = (state_dir or base_state_dir() / f"demo-{datetime.now():%Y%m%d-%H%M%S}-seed{seed}").resolve()
    if run_dir.exists() and any(run_dir.iterdir()):
        # Its databases would make this run attach to the last one's operations and collide with its rollouts.
        raise click.BadParameter(
            f"{run_dir} already holds a demo run: give a new directory, or delete that one", param_hint="--state-dir"
        )
    options = DemoOptions(
        state_dir=run_dir,
        ops=ops,
        fault_rate=fault_rate,
        seed=seed,
        rollout=RolloutSettings(steps=canary_steps, min_ops=min_ops, min_duration_s=step_seconds),
        kill_every_s=kill_every,
        shadow_destroys=shadow_destroys,
        poll_interval_s=poll_interval,
        ports=Ports(
            temporal=temporal_port,
            ui=ui_port,
            sim=sim_port,
            clouddriver=clouddriver_port,
            metrics=metrics_port,
            console=console_port,
        ),
    )
    progress = Progress(sys.stderr, tty=sys.stderr.isatty())
    demo = Demo(options, progress)

    def on_signal(signum: int, frame: object) -> None:
        if demo.stop_event.is_set():  # a second Ctrl-C: stop waiting for anything (the stack still stops)
            raise KeyboardInterrupt
        progress.event("stopping (Ctrl-C again to stop at once)")
        demo.stop_event.set()

    # Handlers first, so Ctrl-C during startup still stops what already started.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    progress.event(f"cloudops demo: state in {run_dir}")
    try:
        summary = demo.run()
        if as_json:
            click.echo(json.dumps(summary.to_json(), indent=2))
        else:
            click.echo(render_text(summary))
        _hold(demo, exit_after)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        raise click.ClickException("interrupted") from None
    finally:
        demo.close()


def _hold(demo: Demo, exit_now: bool) -> None:
    """Keep the stack up for the console until Ctrl-C, unless told not to or nobody is there to press it."""
    reasons = {
        "--exit": exit_now,
        "interrupted": demo.stop_event.is_set(),
        "standard input is not a terminal": not sys.stdin.isatty(),
        "CI is set": bool(os.environ.get("CI")),
    }
    why = [reason for reason, applies in reasons.items() if applies]
    if why:
        click.echo(f"stopping the stack ({', '.join(why)})", err=True)
        return
    click.echo("The stack is still running, for the console and the Temporal UI. Press Ctrl-C to stop it.", err=True)
    while not demo.stop_event.wait(0.5):
        dead = demo.stack.dead()
        if dead:
            click.echo(f"stopping: {', '.join(s.name for s in dead)} exited", err=True)
            return
