"""Shared helpers for the durable path's tests: stage contexts, an in-process worker, a virtual-time sim cloud.

Imported by the test modules of this directory (pytest puts it on sys.path); not a test module itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity
from temporalio.client import Client

from cloud.provider import CloudProvider
from cloud.sim import SimCloud
from durable_runner.contract import WorkflowInput
from durable_runner.worker import WorkerTuning, build_worker

FAST = WorkerTuning(max_concurrent_activities=8, health_poll_seconds=0.05, wait_slice_seconds=5.0)


def create_context(
    app: str = "myapp", *, account: str = "test", region: str = "us-east-1", desired: int = 2, rollback: bool = False
) -> dict[str, Any]:
    """An AWS createServerGroup stage context as Orca sends it."""
    context: dict[str, Any] = {
        "cloudProvider": "aws",
        "application": app,
        "stack": "main",
        "freeFormDetails": "",
        "credentials": account,
        "availabilityZones": {region: [f"{region}a", f"{region}c"]},
        "capacity": {"min": 1, "max": 4, "desired": desired},
        "amiName": f"{app}-1.2.0-ami",
        "instanceType": "m5.large",
        "securityGroups": [app],
    }
    if rollback:
        context["rollback"] = {"onFailure": True}
    return context


def group_context(name: str, *, account: str = "test", region: str = "us-east-1", **extra: Any) -> dict[str, Any]:
    """The context of an operation on one existing server group (resize, enable, disable, destroy)."""
    return {"cloudProvider": "aws", "credentials": account, "region": region, "serverGroupName": name, **extra}


def load_balancer_context(name: str, *, account: str = "test", region: str = "us-east-1") -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "credentials": account,
        "name": name,
        "availabilityZones": {region: [f"{region}a"]},
        "listeners": [
            {"externalProtocol": "HTTP", "externalPort": 80, "internalProtocol": "HTTP", "internalPort": 7001}
        ],
        "healthCheck": "HTTP:7001/healthcheck",
    }


def workflow_input(operation: str, context: dict[str, Any], **fields: Any) -> WorkflowInput:
    """An input with a fresh operation id and short timeouts (the heartbeat timeout is what tests wait on)."""
    defaults: dict[str, Any] = {
        "operation_id": f"op-{uuid.uuid4().hex[:12]}",
        "heartbeat_timeout_seconds": 5,
        "attempt_timeout_seconds": 30,
        "max_retry_interval_seconds": 1,
        "retry_window_seconds": 60,
    }
    return WorkflowInput(operation=operation, stage_context=context, **{**defaults, **fields})


@asynccontextmanager
async def running_worker(client: Client, provider: CloudProvider, tuning: WorkerTuning = FAST) -> AsyncIterator[str]:
    """A worker in this process on a fresh task queue; yields the queue's name."""
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with build_worker(client, provider, task_queue=task_queue, tuning=tuning):
        yield task_queue


def virtual_clock() -> float:
    """Time as the Temporal server sees it inside an activity (the time-skipping server's virtual clock).

    The start time of the current attempt moves with skipped time, so a sim cloud on this clock sees
    instances become healthy after virtual hours that pass in milliseconds; outside activities it is wall time.
    """
    if activity.in_activity():
        return activity.info().started_time.timestamp()
    return time.time()


def virtual_sim(health_delay_s: float) -> SimCloud:
    return SimCloud(health_delay_s=health_delay_s, clock=virtual_clock, sleep=lambda _: None)


def seeded_group(sim: SimCloud, app: str = "myapp", *, account: str = "test", desired: int = 1) -> str:
    """Create a server group directly in the sim (outside any workflow) and return its name."""
    from cloud.model import Capacity, ServerGroupSpec

    name = f"{app}-main-v{len(sim.journal()) + 100:03d}"
    spec = ServerGroupSpec(name=name, capacity=Capacity(min=0, max=4, desired=desired), image=f"{app}-ami")
    sim.create_server_group(account, "us-east-1", spec, f"seed-{uuid.uuid4().hex}")
    return name
