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

from cloud.errors import CloudTimeout
from cloud.model import Account, ServerGroup, ServerGroupSpec
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


_skew = [0.0]  # virtual time minus wall time, as the last regular activity saw it


def virtual_clock() -> float:
    """Time as the Temporal server sees it inside an activity (the time-skipping server's virtual clock).

    The start time of a regular activity's attempt moves with skipped time, so a sim cloud on this clock sees
    instances become healthy after virtual hours that pass in milliseconds. A local activity's start time is the
    worker's wall clock, so inside one (a step's first attempt) it is wall time plus the skew the last regular
    activity saw: the virtual time stands still while a workflow task runs, and nothing skips inside one.
    Outside activities it is wall time.
    """
    if not activity.in_activity():
        return time.time()
    info = activity.info()
    if info.is_local:
        return time.time() + _skew[0]
    now = info.started_time.timestamp()
    _skew[0] = now - time.time()
    return now


def virtual_sim(health_delay_s: float) -> SimCloud:
    return SimCloud(health_delay_s=health_delay_s, clock=virtual_clock, sleep=lambda _: None)


class FlakySim(SimCloud):
    """The sim cloud with one scripted fault: the `nth` create (counting from 1) applies and then loses its answer,
    as a timed-out call does, and, with `plan_fails_once`, the first read of the accounts (planning's first call)
    times out.

    A fake of the faults only: the creates and their tokens' dedupe are the sim's own. It counts the creates
    asked for, so a test can tell an attempt that applied again (answered by the dedupe) from one that did not.
    """

    def __init__(self, *, lose_create: int = 0, plan_fails_once: bool = False, health_delay_s: float = 0) -> None:
        super().__init__(health_delay_s=health_delay_s)
        self.creates = 0
        self._lose_create = lose_create
        self._plan_fails = plan_fails_once

    def accounts(self) -> list[Account]:
        if self._plan_fails:
            self._plan_fails = False
            raise CloudTimeout("accounts: timed out (test fault)")
        return super().accounts()

    def create_server_group(self, account: str, region: str, spec: ServerGroupSpec, token: str) -> ServerGroup:
        self.creates += 1
        group = super().create_server_group(account, region, spec, token)
        if self.creates == self._lose_create:
            raise CloudTimeout("createServerGroup: the answer was lost (test fault)")
        return group


def seeded_group(sim: SimCloud, app: str = "myapp", *, account: str = "test", desired: int = 1) -> str:
    """Create a server group directly in the sim (outside any workflow) and return its name."""
    from cloud.model import Capacity, ServerGroupSpec

    name = f"{app}-main-v{len(sim.journal()) + 100:03d}"
    spec = ServerGroupSpec(name=name, capacity=Capacity(min=0, max=4, desired=desired), image=f"{app}-ami")
    sim.create_server_group(account, "us-east-1", spec, f"seed-{uuid.uuid4().hex}")
    return name
