"""Live operations: the running durable executions, each with its `progress` query, and links into Temporal's UI.

The console lists running `UntypedCloudOperationRunner` executions through Temporal's visibility API and asks
each one for its progress (the workflow's `progress` query, answered by a worker), concurrently and under a
deadline. Temporal being down, slow or misconfigured is a value (`LiveView.error`), never an exception: the page
says so and carries on. The client lives on a background event loop of its own, so Flask's threads can call in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowExecution

from console.config import TemporalSettings

__all__ = ["WORKFLOW_TYPE", "LiveOperation", "LiveOperations", "LiveView"]

log = logging.getLogger(__name__)
T = TypeVar("T")

WORKFLOW_TYPE = "UntypedCloudOperationRunner"
"""The durable path's workflow type (durable_runner.contract.WORKFLOW_TYPE; the console does not import it)."""

_ATTRIBUTES = {
    "Application": "application",
    "Account": "account",
    "Operation": "operation",
    "Provider": "provider",
    "StageType": "stage_type",
}


@dataclass(frozen=True, slots=True)
class LiveOperation:
    """One running execution: ids, dimensions (from search attributes), progress (or why it is missing)."""

    workflow_id: str
    run_id: str | None
    started_at: datetime | None
    task_queue: str
    dimensions: Mapping[str, str]
    progress: Mapping[str, Any] | None
    progress_error: str | None
    ui_url: str

    @property
    def steps_done(self) -> str:
        if not self.progress:
            return ""
        steps = self.progress.get("steps") or []
        return f"{self.progress.get('completed', 0)}/{len(steps)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "workflowId": self.workflow_id,
            "runId": self.run_id,
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "taskQueue": self.task_queue,
            "dimensions": dict(self.dimensions),
            "progress": dict(self.progress) if self.progress is not None else None,
            "progressError": self.progress_error,
            "uiUrl": self.ui_url,
        }


@dataclass(frozen=True, slots=True)
class LiveView:
    """What the live page shows: the executions, or `error` when Temporal could not be asked."""

    operations: tuple[LiveOperation, ...] = ()
    error: str | None = None
    truncated: bool = False
    namespace: str = ""
    address: str = ""
    ui_url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "operations": [o.to_json() for o in self.operations],
            "error": self.error,
            "truncated": self.truncated,
            "namespace": self.namespace,
            "address": self.address,
            "uiUrl": self.ui_url,
        }


class LiveOperations:
    """Asks Temporal about running operations; one cached client on a private event loop."""

    def __init__(self, settings: TemporalSettings, *, max_operations: int = 200) -> None:
        self.settings = settings
        self.max_operations = max_operations
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None

    def view(self) -> LiveView:
        """The running operations now; never raises."""
        base = LiveView(namespace=self.settings.namespace, address=self.settings.address, ui_url=self.settings.ui_url)
        # The deadline covers connecting, listing and the queries (each query has its own, shorter one).
        deadline = self.settings.timeout_s * 3
        try:
            operations, truncated = self._run(self._list(), deadline)
        except Exception as exc:
            self._client = None  # reconnect next time: the address may have come back
            log.warning("temporal unavailable for the live view: %s", exc)
            return LiveView(**{**_fields(base), "error": _describe(exc, self.settings)})
        return LiveView(**{**_fields(base), "operations": tuple(operations), "truncated": truncated})

    async def _connect(self) -> Client:
        if self._client is None:
            kwargs: dict[str, Any] = {"namespace": self.settings.namespace}
            if self.settings.api_key:
                kwargs["api_key"] = self.settings.api_key
            if self.settings.tls or self.settings.api_key:
                kwargs["tls"] = True
            self._client = await asyncio.wait_for(
                Client.connect(self.settings.address, **kwargs), timeout=self.settings.timeout_s
            )
        return self._client

    async def _list(self) -> tuple[list[LiveOperation], bool]:
        client = await self._connect()
        query = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
        found: list[WorkflowExecution] = []
        rpc_timeout = timedelta(seconds=self.settings.timeout_s)
        async for execution in client.list_workflows(query, limit=self.max_operations + 1, rpc_timeout=rpc_timeout):
            found.append(execution)
        truncated = len(found) > self.max_operations
        found = found[: self.max_operations]
        progress = await asyncio.gather(*(self._progress(client, e) for e in found), return_exceptions=True)
        return [self._operation(e, p) for e, p in zip(found, progress, strict=True)], truncated

    async def _progress(self, client: Client, execution: WorkflowExecution) -> Any:
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        return await asyncio.wait_for(
            handle.query("progress", rpc_timeout=timedelta(seconds=self.settings.timeout_s)),
            timeout=self.settings.timeout_s,
        )

    def _operation(self, execution: WorkflowExecution, progress: Any) -> LiveOperation:
        dimensions = {}
        for pair in execution.typed_search_attributes:
            name = _ATTRIBUTES.get(pair.key.name)
            if name is not None and isinstance(pair.value, str):
                dimensions[name] = pair.value
        error = None
        if isinstance(progress, BaseException):
            error = _query_error(progress)
            progress = None
        elif not isinstance(progress, Mapping):
            error, progress = f"unexpected progress answer: {progress!r}"[:200], None
        return LiveOperation(
            workflow_id=execution.id,
            run_id=execution.run_id,
            started_at=execution.start_time,
            task_queue=execution.task_queue,
            dimensions=dimensions,
            progress=progress,
            progress_error=error,
            ui_url=self.settings.workflow_url(execution.id),
        )

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g}s") from None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="console-temporal", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        self._client = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


def _fields(view: LiveView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}


def _query_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no worker answered the progress query in time (is a worker polling this task queue?)"
    return f"progress query failed: {type(exc).__name__}: {exc}"[:300]


def _describe(exc: BaseException, settings: TemporalSettings) -> str:
    where = f"Temporal at {settings.address} (namespace {settings.namespace})"
    if isinstance(exc, TimeoutError):
        return f"{where} did not answer within {settings.timeout_s * 3:g}s; is it running? (cloudops dev starts one)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{where} is unreachable: {first[:300]}"
