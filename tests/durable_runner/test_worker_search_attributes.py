"""A worker refuses to start on a namespace that lacks one of our search attributes (it would stall every
operation at the attribute's upsert: Outcome, at the very end), and registers them when asked to."""

from __future__ import annotations

import asyncio

import pytest
from infra import venv_binary
from temporalio.testing import WorkflowEnvironment

from cloud.sim import SimCloud
from durable_runner.client import ConnectionSettings
from durable_runner.dev_server import dynamic_config_args
from durable_runner.errors import WorkerStartError
from durable_runner.search_attributes import SEARCH_ATTRIBUTES, missing_attributes
from durable_runner.worker import run_worker

pytestmark = pytest.mark.temporal


async def test_a_namespace_without_outcome_refuses_the_worker_until_it_is_registered() -> None:
    path = venv_binary("temporal")
    assert path is not None
    older = [key for key in SEARCH_ATTRIBUTES if key.name != "Outcome"]  # as a namespace set up before Outcome
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path, search_attributes=older, dev_server_extra_args=dynamic_config_args()
    )
    async with env:
        settings = ConnectionSettings.local(env.client.service_client.config.target_host)
        with pytest.raises(WorkerStartError, match="lacks the search attributes Outcome"):
            await run_worker(settings, SimCloud(), task_queue="tq-refused", on_ready=lambda _: None)
        stop = asyncio.Event()
        ready: list[str] = []

        def started(message: str) -> None:
            ready.append(message)
            stop.set()

        await run_worker(
            settings,
            SimCloud(),
            task_queue="tq-registered",
            register_search_attributes=True,
            on_ready=started,
            stop=stop,
        )
        assert ready and ready[0].startswith("worker ready")
        assert await missing_attributes(env.client) == []
