"""`cloudops rollout`: guarded rollouts of a scope from legacy to durable, step by step, judged by gates.

A plan (scope, canary steps, minimum operations and duration per step, gate thresholds) is stored in SQL. Each
`tick` judges the current step on the evidence since it started: pass moves on, fail rolls back at once to the
last step that passed, inconclusive holds. Run `watch` (or `tick` from cron) to keep it moving. Every transition
is on the rollout's timeline (`status`) and every flag change in the flags audit (actor `rollout:<id>`).
`abort` returns the scope to legacy; `abort --keep` leaves the stage flag where it is.
"""

from __future__ import annotations

import getpass
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cloudops.commands._input import DURATION, RATE, BadInput, FiniteFloat, Rate

if TYPE_CHECKING:
    from rollouts.controller import RolloutController, TickResult
    from rollouts.model import Rollout, RolloutEvent

__all__ = ["command"]

F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = click.option(
        "--redis", "redis_url", envvar="CLOUDOPS_REDIS_URL", show_envvar=True, help="Redis URL to push flag changes."
    )(func)
    return click.option(
        "--db",
        "db",
        envvar="CLOUDOPS_DATABASE_URL",
        show_envvar=True,
        help="SQLAlchemy URL [default: .cloudops/ SQLite].",
    )(func)


def _person(func: F) -> F:
    return click.option("--actor", envvar="CLOUDOPS_ACTOR", help="Who acts (default: your user name).")(func)


@contextmanager
def _errors() -> Iterator[None]:
    from flags import FlagError
    from rollouts.errors import InvalidPlan, RolloutError

    try:
        yield
    except InvalidPlan as exc:
        raise BadInput(exc.message) from exc
    except RolloutError as exc:
        raise click.ClickException(exc.message) from exc
    except FlagError as exc:
        raise click.ClickException(exc.message) from exc


@contextmanager
def _controller(db: str | None, redis_url: str | None) -> Iterator[RolloutController]:
    from cloudops.paths import default_database_url
    from cloudops.report.database import DatabaseUnavailable, open_flag_store
    from rollouts.controller import RolloutController

    notifier = None
    if redis_url:
        from flags import RedisChangeBus

        notifier = RedisChangeBus(redis_url)
    try:
        store = open_flag_store(db or default_database_url(), notifier=notifier)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with _errors():
            yield RolloutController(store.engine, store)
    finally:
        store.close()


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def _line(r: Rollout) -> str:
    at = r.target.label() if r.target else "flag left as is"
    pending = "" if r.flag_synced else "  [flag not written yet: the next tick retries]"
    return f"{r.id}  {r.status.value:<11} {at:<14} {r.plan.describe_scope()}{pending}"


def _event_line(e: RolloutEvent) -> str:
    move = ""
    if e.from_phase or e.to_phase:
        move = f"{e.from_phase.label() if e.from_phase else '-'} -> {e.to_phase.label() if e.to_phase else '-'}  "
    return f"{e.at.isoformat(timespec='seconds')}  {e.kind.value:<15} {move}{e.actor}: {e.reason}"


def _tick_line(result: TickResult) -> str:
    r = result.rollout
    text = f"{r.id}: {result.action.value} ({r.status.value}, at {r.target.label() if r.target else '-'})"
    if result.gate is not None:
        text += f"\n  {result.gate.summary()}"
    if result.note:
        text += f"\n  note: {result.note}"
    return text


def _plan_part(ctx: click.Context, param: click.Parameter, text: str) -> Any:
    """`--scope` and `--steps`, parsed as the plan will hold them; click names the option when they are wrong."""
    from rollouts.errors import InvalidPlan
    from rollouts.model import parse_scope, parse_steps

    try:
        return parse_scope(text) if param.name == "scope" else parse_steps(text)
    except InvalidPlan as exc:
        raise click.BadParameter(exc.message) from None


@click.group()
def command() -> None:
    """Guarded rollouts: shadow, then canary steps, then durable, each step gated on the evidence.

    \b
    cloudops rollout start --scope application=api,account=prod --steps 1,5,25,50,100 \\
        --min-ops 200 --min-duration 30m --failure-margin 1% --reason "move api/prod to Temporal"
    cloudops rollout watch ro-1a2b3c4d --interval 1m
    cloudops rollout status ro-1a2b3c4d
    cloudops rollout pause ro-1a2b3c4d --reason "incident 42"
    cloudops rollout abort ro-1a2b3c4d --reason "not this quarter"      # back to legacy (--keep: stay)
    """


@command.command()
@click.option("--scope", required=True, callback=_plan_part, help="Flag dimensions, e.g. application=api,account=prod.")
@click.option(
    "--steps", default="1,5,25,50,100", show_default=True, callback=_plan_part, help="Canary percents, rising."
)
@click.option(
    "--min-ops",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Operations a step needs before it passes.",
)
@click.option("--min-duration", type=DURATION, default="10m", show_default=True, help="Time a step needs (s, m, h, d).")
@click.option("--max-mismatch-rate", type=RATE, help="Highest shadow mismatch rate, e.g. 1% [default: 1%].")
@click.option(
    "--latency-bound",
    type=Rate(most=10),
    help="How much slower durable may be: its typical latency (sequential gates) or p99 (fixed_horizon): 20% or 0.2 "
    "[default: 20%].",
)
@click.option(
    "--alpha",
    type=FiniteFloat(0, 0.5, min_open=True, max_open=True),
    help="Significance level of the tests [default: 0.05].",
)
@click.option(
    "--min-samples",
    type=click.IntRange(min=1),
    help="Operations per path, and comparisons, a test needs [default: 20].",
)
@click.option(
    "--gates",
    type=click.Choice(["sequential", "fixed_horizon"]),
    help="Canary tests: sequential (anytime-valid, read at every tick) or fixed_horizon (today's one-look tests, "
    "whose alpha does not hold when read at every tick) [default: sequential].",
)
@click.option(
    "--failure-margin",
    type=Rate(most=0.99),
    help="How much higher durable's failure rate may be and still pass, in points: 2% or 0.02 [default: 2%].",
)
@click.option(
    "--promotion-alpha",
    type=FiniteFloat(0, 0.5, min_open=True, max_open=True),
    help="Chance the rollout promotes a durable worse than the margins [default: 0.05].",
)
@click.option(
    "--rollback-alpha",
    type=FiniteFloat(0, 0.5, min_open=True, max_open=True),
    help="Chance the rollout rolls back a durable no worse than legacy, over all its steps [default: 0.05].",
)
@click.option("--reason", default="", help="Why (recorded on the timeline and in the flags audit).")
@_person
@_common
def start(db: str | None, redis_url: str | None, as_json: bool, actor: str | None, **options: Any) -> None:
    """Start a rollout of SCOPE: the scope goes to shadow now, and each tick judges it."""
    from rollouts.gates import Thresholds
    from rollouts.model import RolloutPlan

    overrides = {
        "max_mismatch_rate": options["max_mismatch_rate"],
        "latency_bound": options["latency_bound"],
        "alpha": options["alpha"],
        "min_samples": options["min_samples"],
        "min_latency_samples": None if options["min_samples"] is None else max(8, options["min_samples"]),
        "family": options["gates"],
        "failure_margin": options["failure_margin"],
        "promotion_alpha": options["promotion_alpha"],
        "rollback_alpha": options["rollback_alpha"],
    }
    with _errors():
        try:
            thresholds = Thresholds.from_json({k: v for k, v in overrides.items() if v is not None})
        except ValueError as exc:
            raise BadInput(f"invalid threshold: {exc}") from exc
        plan = RolloutPlan(
            scope=options["scope"],
            steps=options["steps"],
            min_ops=options["min_ops"],
            min_duration_s=options["min_duration"],
            thresholds=thresholds,
        )
    with _controller(db, redis_url) as controller:
        rollout = controller.start(plan, actor=actor or getpass.getuser(), reason=options["reason"])
    _emit(as_json, rollout.to_json(), f"started {_line(rollout)}")


@command.command()
@click.argument("rollout_id")
@_common
def status(rollout_id: str, db: str | None, redis_url: str | None, as_json: bool) -> None:
    """Show a rollout, its latest gate result and its timeline."""
    with _controller(db, redis_url) as controller:
        rollout = controller.get(rollout_id)
        events = controller.timeline(rollout_id)
    if as_json:
        _emit(True, {**rollout.to_json(), "timeline": [e.to_json() for e in events]}, "")
        return
    plan = rollout.plan
    lines = [
        _line(rollout),
        f"  steps {', '.join(f'{s:g}%' for s in plan.steps)}; each needs {plan.min_ops} operations and "
        f"{plan.min_duration_s:g}s; started {rollout.started_at.isoformat(timespec='seconds')} by {rollout.created_by}",
    ]
    if rollout.last_result:
        reasons = [c.get("reason", "") for c in rollout.last_result.get("checks", [])]
        lines.append(f"  last gate result: {rollout.last_result.get('outcome')}")
        lines += [f"    - {r}" for r in reasons]
    lines.append("timeline:")
    lines += [f"  {_event_line(e)}" for e in events]
    click.echo("\n".join(lines))


@command.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["running", "paused", "completed", "rolled_back", "aborted"]),
    help="Only rollouts in this status (repeatable).",
)
@_common
def list_(statuses: tuple[str, ...], db: str | None, redis_url: str | None, as_json: bool) -> None:
    """List rollouts, newest first."""
    from rollouts.model import RolloutStatus

    with _controller(db, redis_url) as controller:
        found = controller.list([RolloutStatus(s) for s in statuses])
    _emit(as_json, [r.to_json() for r in found], "\n".join(_line(r) for r in found) or "no rollouts")


@command.command()
@click.argument("rollout_id", required=False)
@_common
def tick(rollout_id: str | None, db: str | None, redis_url: str | None, as_json: bool) -> None:
    """Judge ROLLOUT_ID (or every running rollout) once, and act on the outcome."""
    with _controller(db, redis_url) as controller:
        results = [controller.tick(rollout_id)] if rollout_id else controller.tick_all()
    text = "\n".join(_tick_line(r) for r in results) or "no running rollouts"
    _emit(as_json, [r.to_json() for r in results], text)


@command.command("controller")
@click.option("--interval", type=DURATION, default="30s", show_default=True, help="Time between passes (s, m, h, d).")
@click.option(
    "--lease",
    type=DURATION,
    default=None,
    help="How long a replica holds a rollout between passes before another may take it [default: 3 intervals].",
)
@click.option("--identity", default=None, help="This replica's name in the leases [default: host:pid].")
@_common
def controller_(
    interval: float, lease: float | None, identity: str | None, db: str | None, redis_url: str | None, as_json: bool
) -> None:
    """Tick every running rollout every --interval until Ctrl-C or SIGTERM: the rollout controller as a service.

    Run one or several replicas on the same database: a lease per rollout makes sure that only one of them ticks a
    rollout at a time. With --json, each tick that did something is one line of JSON.
    """
    import os
    import signal
    import socket
    import threading

    from rollouts.leases import LeaseStore
    from rollouts.service import RolloutService
    from rollouts.tick import TickAction

    if lease is not None and lease <= interval:
        raise BadInput(
            f"--lease {lease:g}s must be longer than --interval {interval:g}s, or replicas take turns mid-pass"
        )
    holder = identity or f"{socket.gethostname()}:{os.getpid()}"

    def told(result: TickResult) -> None:
        if result.action not in (TickAction.HELD, TickAction.IDLE):
            click.echo(json.dumps(result.to_json(), default=str) if as_json else _tick_line(result))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _controller(db, redis_url) as controller:
        service = RolloutService(
            controller,
            LeaseStore(controller.store.engine),
            holder=holder,
            interval_s=interval,
            lease_ttl_s=lease,
            on_tick=told,
        )
        click.echo(f"rollout controller {holder}: ticking every {interval:g}s", err=True)
        try:
            service.run_until(stop)
        except KeyboardInterrupt:
            stop.set()
        click.echo(f"rollout controller {holder} stopped after {service.passes} passes", err=True)


@command.command()
@click.argument("rollout_id")
@click.option("--interval", type=DURATION, default="30s", show_default=True, help="Time between ticks (s, m, h, d).")
@_common
def watch(rollout_id: str, interval: float, db: str | None, redis_url: str | None, as_json: bool) -> None:
    """Tick ROLLOUT_ID every --interval until it ends (completed, rolled back, aborted) or Ctrl-C.

    With --json, each tick is one line of JSON.
    """
    pause_s = interval
    with _controller(db, redis_url) as controller:
        controller.get(rollout_id)
        try:
            while True:
                result = controller.tick(rollout_id)
                click.echo(json.dumps(result.to_json(), default=str) if as_json else _tick_line(result))
                if not result.rollout.status.active and result.rollout.flag_synced:
                    return
                time.sleep(pause_s)
        except KeyboardInterrupt:
            click.echo(
                f"stopped watching {rollout_id}; the rollout itself goes on (tick it again to move it)", err=True
            )


@command.command()
@click.argument("rollout_id")
@click.option("--reason", required=True, help="Why (recorded on the timeline).")
@_person
@_common
def pause(
    rollout_id: str, reason: str, actor: str | None, db: str | None, redis_url: str | None, as_json: bool
) -> None:
    """Pause a running rollout: ticks hold, and the scope stays where it is."""
    with _controller(db, redis_url) as controller:
        rollout = controller.pause(rollout_id, actor=actor or getpass.getuser(), reason=reason)
    _emit(as_json, rollout.to_json(), f"paused {_line(rollout)}")


@command.command()
@click.argument("rollout_id")
@click.option("--reason", default="resumed from the command line", help="Why (recorded on the timeline).")
@_person
@_common
def resume(
    rollout_id: str, reason: str, actor: str | None, db: str | None, redis_url: str | None, as_json: bool
) -> None:
    """Resume a paused rollout: the step's evidence window restarts, and its flag value is re-applied."""
    with _controller(db, redis_url) as controller:
        rollout = controller.resume(rollout_id, actor=actor or getpass.getuser(), reason=reason)
    _emit(as_json, rollout.to_json(), f"resumed {_line(rollout)}")


@command.command()
@click.argument("rollout_id")
@click.option("--reason", required=True, help="Why (recorded on the timeline and in the flags audit).")
@click.option("--keep", is_flag=True, help="Leave the stage flag where it is instead of returning to legacy.")
@_person
@_common
def abort(
    rollout_id: str, reason: str, keep: bool, actor: str | None, db: str | None, redis_url: str | None, as_json: bool
) -> None:
    """Abort a rollout: the scope returns to legacy (or, with --keep, stays at its current stage)."""
    with _controller(db, redis_url) as controller:
        rollout = controller.abort(rollout_id, actor=actor or getpass.getuser(), reason=reason, keep=keep)
    _emit(as_json, rollout.to_json(), f"aborted {_line(rollout)}")
