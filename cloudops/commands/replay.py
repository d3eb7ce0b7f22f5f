"""`cloudops replay`: replay a cluster's recent workflow histories against the code at hand, before a worker deploy.

Exit status: 0 when every history replays, 1 when any does not (a non-deterministic change: do not deploy),
2 when the replay could not run (bad options, the cluster unreachable). See durable_runner/replay.py and
docs/production.md ("Replay before every worker deploy").
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from cloudops.commands._input import DURATION
from cloudops.commands._temporal import connection_options

if TYPE_CHECKING:
    from durable_runner.client import ConnectionSettings
    from durable_runner.replay import ReplaySummary

__all__ = ["command"]


@click.command()
@connection_options
@click.option(
    "--since",
    type=DURATION,
    default="24h",
    show_default=True,
    help="Replay executions started this long ago or later: 30m, 24h, 7d.",
)
@click.option("--all", "everything", is_flag=True, help="Replay executions of any age (ignores --since).")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=1_000, show_default=True, help="At most this many histories."
)
@click.option("--task-queue", default=None, help="Only executions of this task queue [default: every queue].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(
    connection: ConnectionSettings, since: float, everything: bool, limit: int, task_queue: str | None, as_json: bool
) -> None:
    """Replay recent UntypedCloudOperationRunner histories from a cluster against this code; exit 1 on any failure.

    \b
    cloudops replay --address temporal.internal:7233 --namespace cloudops --since 24h --limit 500
    """
    import asyncio
    from datetime import UTC, datetime, timedelta

    from durable_runner.client import connect
    from durable_runner.errors import DurableError
    from durable_runner.replay import replay_recent

    async def replay() -> ReplaySummary:
        client = await connect(connection)
        window = None if everything else timedelta(seconds=since)
        return await replay_recent(client, since=window, limit=limit, now=datetime.now(UTC), task_queue=task_queue)

    try:
        summary = asyncio.run(replay())
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--task-queue") from err
    except DurableError as err:
        click.echo(f"Error: {err}", err=True)
        raise SystemExit(2) from err
    click.echo(json.dumps(summary.to_json(), indent=2) if as_json else summary.render())
    if not summary.ok:
        raise SystemExit(1)
