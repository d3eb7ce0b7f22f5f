"""`cloudops replay`: a cluster's recent histories replayed against the code at hand, on the real dev server.

The workflows run on the session's Temporal dev server with a real worker over a sim cloud; replaying their
histories with today's workflow passes, and with a deliberately incompatible change (a timer before everything
else, under the same workflow type) is caught, through the library and through the command (exit 1).
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from click.testing import CliRunner
from durable_support import create_context, running_worker, workflow_input
from infra import cloudops_argv
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

import durable_runner.replay
from cloud.sim import SimCloud
from cloudops.cli import cli
from durable_runner.contract import WORKFLOW_TYPE, WorkflowInput, WorkflowResult, workflow_id_for
from durable_runner.replay import replay_recent, visibility_query
from durable_runner.workflows import UntypedCloudOperationRunner

pytestmark = pytest.mark.temporal


@workflow.defn(name=WORKFLOW_TYPE, sandboxed=False)  # a test-only class; never run by a worker
class _TimerFirst:
    """The same workflow type with one harmless-looking change: a short timer before everything else."""

    @workflow.run
    async def run(self, inp: WorkflowInput) -> WorkflowResult:
        await workflow.sleep(timedelta(seconds=1))
        return WorkflowResult(ok=True)


async def _listed(client: Client, query: str, count: int) -> None:
    """Visibility is eventually consistent: wait until the server lists `count` executions."""
    for _ in range(200):
        if len([w async for w in client.list_workflows(query)]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server never listed {count} executions for {query}")


@pytest.fixture(scope="module")
async def recorded(temporal_env: object) -> tuple[Client, str]:
    """Two finished executions on a task queue of their own; returns the client and the queue."""
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = SimCloud(health_delay_s=0.05)
    async with running_worker(client, sim) as task_queue:
        for app in ("replaya", "replayb"):
            inp = workflow_input("createServerGroup", create_context(app, desired=1))
            handle = await client.start_workflow(
                UntypedCloudOperationRunner.run,
                inp,
                id=workflow_id_for(inp.operation_id, dry_run=False),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            assert (await handle.result()).ok
    await _listed(client, visibility_query(None, task_queue), 2)
    return client, task_queue


async def test_todays_code_replays_the_clusters_histories(recorded: tuple[Client, str]) -> None:
    client, task_queue = recorded
    summary = await replay_recent(
        client, since=timedelta(hours=1), limit=50, now=datetime.now(UTC), task_queue=task_queue
    )
    assert summary.ok and summary.replayed == 2
    assert "every history replays on this code" in summary.render()


async def test_an_incompatible_change_is_caught(recorded: tuple[Client, str]) -> None:
    client, task_queue = recorded
    summary = await replay_recent(
        client, since=None, limit=50, now=datetime.now(UTC), task_queue=task_queue, workflows=[_TimerFirst]
    )
    assert not summary.ok and summary.replayed == 2
    assert all(f.nondeterministic for f in summary.failures)
    assert "do not deploy" in summary.render()


async def test_the_limit_and_the_window_bound_what_is_replayed(recorded: tuple[Client, str]) -> None:
    client, task_queue = recorded
    now = datetime.now(UTC)
    assert (await replay_recent(client, since=None, limit=1, now=now, task_queue=task_queue)).replayed == 1
    future = await replay_recent(
        client, since=timedelta(minutes=1), limit=50, now=now + timedelta(hours=2), task_queue=task_queue
    )
    assert future.replayed == 0 and "nothing to replay" in future.render()


def _address(client: Client) -> str:
    return client.service_client.config.target_host


async def test_the_command_exits_0_on_compatible_code(recorded: tuple[Client, str]) -> None:
    client, task_queue = recorded
    argv = cloudops_argv("replay", "--address", _address(client), "--namespace", "default", "--since", "1h")
    done = await asyncio.to_thread(
        subprocess.run, [*argv, "--task-queue", task_queue, "--json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert '"replayed": 2' in done.stdout and '"ok": true' in done.stdout


async def test_the_command_exits_1_on_an_incompatible_change(
    recorded: tuple[Client, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with the code at hand swapped for the incompatible class (what a bad commit would ship)."""
    client, task_queue = recorded
    monkeypatch.setattr(durable_runner.replay, "WORKFLOWS", (_TimerFirst,))
    args = ["replay", "--address", _address(client), "--all", "--task-queue", task_queue]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args)
    assert result.exit_code == 1, result.output
    assert "non-deterministic" in result.output and "do not deploy" in result.output


def test_bad_input_gets_one_line() -> None:
    result = CliRunner().invoke(cli, ["replay", "--address", "127.0.0.1:1", "--since", "1h"])
    assert result.exit_code == 2 and "cannot connect to Temporal at 127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["replay", "--limit", "0"])
    assert result.exit_code == 2 and "--limit" in result.output
    result = CliRunner().invoke(cli, ["replay", "--address", "127.0.0.1:1", "--task-queue", "it's"])
    assert result.exit_code == 2
