"""What the gateway reads besides its own tables: legacy tasks over HTTP, workflow progress from Temporal, and
the cloud's accounts. Each is a Protocol the gateway consumes, with its real implementation beside it.

The legacy service is reached over HTTP only (the router never imports `legacy_clouddriver`); a workflow's
progress is its `progress` query, asked with a short deadline so a request thread never waits on a worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx

from cloud import accounts as cloud_accounts
from cloud.errors import CloudError
from cloud.model import Account
from cloud.provider import CloudReader
from clouddriver_wire.errors import ServiceUnavailable, TaskNotFound, TaskNotRetryable, error_message
from durable_runner.contract import Progress
from durable_runner.loop import BackgroundLoop

__all__ = [
    "AccountSource",
    "CachedAccounts",
    "HttpLegacyTasks",
    "LegacyRead",
    "LegacyTasks",
    "ProgressSource",
    "TemporalProgress",
]


@dataclass(frozen=True, slots=True)
class LegacyRead:
    """One read of a legacy task: its JSON when the service answered 200, else whether it was a 404 and why."""

    task: Mapping[str, Any] | None = None
    not_found: bool = False
    error: str = ""


class LegacyTasks(Protocol):
    """The legacy service's tasks: read one, resume one (TaskNotFound, TaskNotRetryable, ServiceUnavailable)."""

    def read(self, task_id: str) -> LegacyRead: ...

    def resume(self, task_id: str) -> None: ...


class ProgressSource(Protocol):
    """A workflow's `progress` query; None when no answer came in time (no worker, Temporal down)."""

    def progress(self, workflow_id: str) -> Progress | None: ...


class AccountSource(Protocol):
    """The cloud's accounts for validation; raises ServiceUnavailable when they cannot be read."""

    def accounts(self) -> list[Account]: ...


class HttpLegacyTasks:
    """`GET /task/{id}` and `POST /task/{id}:resume` on the Clouddriver-compatible service at `base_url`."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def read(self, task_id: str) -> LegacyRead:
        try:
            response = self._http.get(f"/task/{task_id}")
        except httpx.HTTPError as exc:
            return LegacyRead(error=f"the legacy service at {self.base_url} is unreachable: {type(exc).__name__}")
        if response.status_code == 404:
            return LegacyRead(not_found=True, error=f"legacy task {task_id} not found")
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("status"), dict):
            return LegacyRead(error=f"reading legacy task {task_id} answered HTTP {response.status_code}")
        return LegacyRead(task=body)

    def resume(self, task_id: str) -> None:
        try:
            response = self._http.post(f"/task/{task_id}:resume")
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"cannot resume legacy task {task_id}: the legacy service at {self.base_url} is unreachable "
                f"({type(exc).__name__}); try again"
            ) from exc
        message = error_message(_json(response))
        if response.status_code == 404:
            raise TaskNotFound(task_id, message or None)
        if response.status_code == 409:
            raise TaskNotRetryable(task_id, message or None)
        if response.status_code != 200:
            raise ServiceUnavailable(f"resuming legacy task {task_id} answered HTTP {response.status_code}: {message}")


class TemporalProgress:
    """Queries `progress` on workflows through a client it connects on first use (and again after a failure)."""

    def __init__(self, connect: Callable[[], Any], *, timeout_s: float = 2.0) -> None:
        """`connect` is an async callable returning a `temporalio.client.Client` (e.g. `durable_runner.client.connect`
        bound to settings)."""
        self._connect = connect
        self._timeout = timeout_s
        self._loop = BackgroundLoop()
        self._lock = threading.Lock()
        self._client: Future[Any] | None = None

    def close(self) -> None:
        self._loop.close()

    def progress(self, workflow_id: str) -> Progress | None:
        try:
            return self._loop.run(asyncio.wait_for(self._query(workflow_id), self._timeout))
        except Exception:  # no answer in time, no worker, Temporal down: the caller shows what it knows
            return None

    async def _query(self, workflow_id: str) -> Progress:
        with self._lock:
            if self._client is None or (self._client.done() and self._client.exception() is not None):
                self._client = self._loop.submit(self._connect())
            pending = self._client
        client = await asyncio.wrap_future(pending)
        handle = client.get_workflow_handle(workflow_id)
        progress: Progress = await handle.query(
            "progress", result_type=Progress, rpc_timeout=timedelta(seconds=self._timeout)
        )
        return progress


class CachedAccounts:
    """The cloud's accounts (cached in `cloud.accounts`); ServiceUnavailable when none could ever be read."""

    def __init__(self, reader: CloudReader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = cloud_accounts.CachedAccounts(reader, ttl_s, clock)

    def accounts(self) -> list[Account]:
        try:
            return self._cache.accounts()
        except CloudError as exc:
            raise ServiceUnavailable(f"cannot load the cloud's accounts: {exc.code}: {exc}") from exc


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
