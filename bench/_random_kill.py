"""The reliability benchmark's kill of one executor among several: every S seconds a random one of N workers on
the task queue is SIGKILLed and restarted at once, while the others keep polling.

What it shows beside `Killer` (bench/_services.py, which kills the one executor): with several workers, the
operations of the killed one move to the survivors (its activities after their heartbeat timeout, its cached
workflows after the sticky timeout), and the run still ends with every operation completed exactly once. The
choice is seeded (--seed), so a run can be repeated kill for kill.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence

import click

from bench._services import Killer, Service

__all__ = ["RandomKiller", "identities_polling"]


class RandomKiller(Killer):
    """SIGKILLs a random one of `services` every `every_s` seconds and restarts it, until `stop()` (starting and
    stopping as `Killer` does)."""

    def __init__(self, services: Sequence[Service], every_s: float, seed: int) -> None:
        if not services:
            raise ValueError("RandomKiller needs at least one service to kill")
        self.killed: Counter[str] = Counter()
        self._random = random.Random(seed)
        super().__init__(services[0], every_s, *services[1:])

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            victim = self._random.choice(self.services)
            down = time.monotonic()
            victim.kill()
            self.kills += 1
            self.killed[victim.name] += 1
            try:
                victim.start()
            except click.ClickException as exc:  # reported in the JSON; the others go on without it
                self.errors.append(f"{victim.name}: {exc.message}")
                return
            except Exception as exc:
                self.errors.append(f"{victim.name}: {type(exc).__name__}: {exc}")
                return
            self.downtime_s.append(round(time.monotonic() - down, 2))

    def to_json(self) -> dict[str, object]:
        return {
            **super().to_json(),
            "workers": len(self.services),
            "kills_by_worker": {s.name: self.killed[s.name] for s in self.services},
            "starts_by_worker": {s.name: s.starts for s in self.services},
        }


def identities_polling(address: str, task_queue: str) -> int:
    """How many distinct worker identities the Temporal server saw polling `task_queue` for activities lately (a
    restarted worker is a new process, so a new identity): the server's own evidence that the workers ran."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
    from temporalio.client import Client

    async def ask() -> int:
        client = await Client.connect(address)
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
        answer = await client.workflow_service.describe_task_queue(request)
        return len({poller.identity for poller in answer.pollers})

    return asyncio.run(ask())
