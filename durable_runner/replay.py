"""Replay before deploy: recent histories of a cluster, replayed against the workflow code at hand.

A worker rollout that changes what `UntypedCloudOperationRunner` does for an existing history (a new activity, a
timer, a different order, without `workflow.patched`) breaks every execution still running when the new worker
picks it up. `cloudops replay` (cloudops/commands/replay.py) runs this module before such a rollout: it lists the
recent executions of the workflow type on the cluster (Temporal's visibility query), fetches each history and
replays it with temporalio's Replayer, as a worker would on a cache miss. Any failure, non-determinism or not, is
a reason not to deploy. The committed histories under tests/histories are the same check for CI without a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from durable_runner.contract import WORKFLOW_TYPE
from durable_runner.errors import TemporalUnavailable
from durable_runner.workflows import UntypedCloudOperationRunner

__all__ = ["WORKFLOWS", "ReplayFailure", "ReplaySummary", "replay_recent", "visibility_query"]

WORKFLOWS: tuple[type, ...] = (UntypedCloudOperationRunner,)  # what a worker of this code registers
_MESSAGE_CHARS = 500  # a replay failure's message can hold a whole stack: the summary keeps its start


@dataclass(frozen=True, slots=True)
class ReplayFailure:
    """One execution whose history the code at hand cannot replay."""

    workflow_id: str
    run_id: str
    nondeterministic: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "workflowId": self.workflow_id,
            "runId": self.run_id,
            "kind": "nondeterminism" if self.nondeterministic else "error",
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    """What a replay run checked and what failed; `ok` when every history replayed."""

    query: str
    replayed: int
    failures: tuple[ReplayFailure, ...]
    limit: int

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "replayed": self.replayed,
            "limit": self.limit,
            "ok": self.ok,
            "failures": [f.to_json() for f in self.failures],
        }

    def render(self) -> str:
        """The summary as a few lines for a terminal or a CI log."""
        lines = [f"replayed {self.replayed} histories ({self.query}; at most {self.limit})"]
        if self.replayed == 0:
            lines.append("nothing to replay: no execution matched; widen --since or check the namespace")
        for f in self.failures:
            kind = "non-deterministic" if f.nondeterministic else "failed"
            lines.append(f"{kind}: {f.workflow_id} (run {f.run_id}): {f.message}")
        if self.failures:
            lines.append(
                f"{len(self.failures)} of {self.replayed} histories do not replay on this code: do not deploy it; "
                "guard the change with workflow.patched(...) (docs/production.md)"
            )
        else:
            lines.append("every history replays on this code")
        return "\n".join(lines)


def visibility_query(since: datetime | None, task_queue: str | None = None) -> str:
    """The visibility query listing the executions to replay: our workflow type, started since `since`, on
    `task_queue` when given."""
    query = f"WorkflowType = '{WORKFLOW_TYPE}'"
    if task_queue:
        query += f" AND TaskQueue = '{_quoted(task_queue)}'"
    if since is not None:
        query += f" AND StartTime >= '{since.isoformat(timespec='seconds')}'"
    return query


def _quoted(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"a task queue name with a quote or a backslash cannot be queried: {value!r}")
    return value


def _failure(workflow_id: str, run_id: str, error: Exception) -> ReplayFailure:
    text = " ".join(str(error).split()) or type(error).__name__
    return ReplayFailure(workflow_id, run_id, isinstance(error, NondeterminismError), text[:_MESSAGE_CHARS])


async def replay_recent(
    client: Client,
    *,
    since: timedelta | None,
    limit: int,
    now: datetime,
    task_queue: str | None = None,
    workflows: Sequence[type] | None = None,
) -> ReplaySummary:
    """Replay up to `limit` executions started in the last `since` (all when None), on `task_queue` when given,
    newest first as the server lists them, against `workflows` (default: the code at hand, `WORKFLOWS`).
    Raises TemporalUnavailable when the cluster cannot be listed or read."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = visibility_query(now - since if since is not None else None, task_queue)
    replayer = Replayer(workflows=list(workflows or WORKFLOWS), data_converter=client.data_converter)
    histories = client.list_workflows(query, limit=limit).map_histories()
    failures: list[ReplayFailure] = []
    replayed = 0
    try:
        async with replayer.workflow_replay_iterator(histories) as results:
            async for result in results:
                replayed += 1
                if result.replay_failure is not None:
                    failures.append(_failure(result.history.workflow_id, result.history.run_id, result.replay_failure))
    except RPCError as err:  # listing or fetching failed: the cluster is down, or the namespace is wrong
        raise TemporalUnavailable(f"cannot list or fetch histories ({query}): {err}") from err
    return ReplaySummary(query=query, replayed=replayed, failures=tuple(failures), limit=limit)
