"""`cloudops bench reliability --workers N`: N worker processes really poll the durable row's task queue, and
executor-kill SIGKILLs and restarts a random one of them, with nothing failed, duplicated or lost.

Run tiny against real services (a Temporal dev server on a SQLite file, `cloudops sim-cloud`, the workers as
subprocesses). The Temporal server's own list of the queue's pollers is the evidence that the workers ran: every
worker process polls under its own identity (pid@host), so a restarted one adds an identity. Nothing is timed.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from infra import REPO_ROOT, cloudops_argv


def _reliability(*args: str) -> dict[str, Any]:
    argv = cloudops_argv("bench", "reliability", "--scenario", "executor-kill", "--paths", "durable", *args, "--json")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.temporal
@pytest.mark.slow
def test_three_workers_poll_the_queue_and_a_random_one_is_killed_and_restarted() -> None:
    report = _reliability(
        *("--workers", "3", "--kill-every", "2", "--ops", "40", "--clusters", "3", "--concurrency", "3"),
        *("--health-delay", "0.2", "--seed", "11"),
    )
    assert report["workload"]["durable_workers"] == 3
    row = report["scenarios"]["executor-kill"]["rows"]["durable-sqlite"]
    faults = row["faults"]
    assert faults["hits"] == "a random one of the 3 workers on the task queue"
    assert faults["workers"] == 3 and faults["restart_errors"] == []
    assert faults["kills"] >= 1 and sum(faults["kills_by_worker"].values()) == faults["kills"]
    assert set(faults["starts_by_worker"]) == {"worker-1", "worker-2", "worker-3"}
    for name, starts in faults["starts_by_worker"].items():
        assert starts == 1 + faults["kills_by_worker"][name], name  # each kill restarted the worker it killed
    # Three processes polled from the start, and every restart was a new process polling again.
    assert row["durable_worker_identities_polled"] >= 3 + min(faults["kills"], 1)
    assert (row["failed"], row["duplicated_mutations"], row["lost_mutations"]) == (0, 0, 0), row
    assert row["journal"]["total"] == row["succeeded"] == row["operations"] >= 40


@pytest.mark.temporal
@pytest.mark.slow
def test_one_worker_is_the_default_and_is_the_one_killed() -> None:
    report = _reliability(*("--kill-every", "2", "--ops", "12", "--clusters", "2", "--concurrency", "2"))
    assert report["workload"]["durable_workers"] == 1
    row = report["scenarios"]["executor-kill"]["rows"]["durable-sqlite"]
    assert row["faults"]["hits"] == "worker" and "kills_by_worker" not in row["faults"]
    assert row["durable_worker_identities_polled"] >= 1
    assert (row["failed"], row["duplicated_mutations"], row["lost_mutations"]) == (0, 0, 0), row
