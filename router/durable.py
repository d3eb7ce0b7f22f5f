"""`DurableRunner`: the Temporal path of the `CloudOperationRunner` protocol.

`start` starts `UntypedCloudOperationRunner` under the workflow id `cloudop-<operation_id>` with conflict policy
USE_EXISTING and reuse policy REJECT_DUPLICATE, so a repeated start attaches to the running execution and, once
it has closed, to its result: an operation never runs twice. Results arrive by push (Temporal's long-poll of the
workflow result), never by a polling loop of ours. The handle, `durable:<workflow id>`, is all a restarted caller
needs to `poll` or `result` again.

`RunnerUnavailable(may_have_started=False)` is raised only when the execution certainly does not exist (the
client never connected, the server refused the request, or the request was never delivered and no execution is
there), because only then may a caller run the operation on the legacy path instead; the classification of a
failed start is `router.durable_start`, the input and result mapping `router.durable_mapping`.

The sync methods run the async ones on a background event loop owned by the runner, so they work from plain
threads and from the thread of a running event loop alike, without deadlock.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from durable_runner.client import ConnectionSettings, connect
from durable_runner.contract import (
    DEFAULT_RETRY_WINDOW_SECONDS,
    DEFAULT_TASK_QUEUE,
    WORKFLOW_TYPE,
    Progress,
    WaitInput,
    WorkflowResult,
    workflow_id_for,
)
from durable_runner.errors import ConnectionConfigError, TemporalUnavailable
from durable_runner.loop import BackgroundLoop
from durable_runner.tracing import traced_client
from router import durable_start
from router.contract import (
    DEFAULT_OPTIONS,
    ErrorKind,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    RouteDecision,
    RunOptions,
    Timings,
)
from router.durable_mapping import (
    decision_in_memo,
    failed_result,
    operation_id_of,
    start_options,
    to_operation_result,
    to_workflow_input,
)
from router.errors import ConfigurationError, RunnerUnavailable, UnknownHandle

__all__ = ["DurableRunner", "start_options", "to_operation_result", "to_workflow_input"]

log = logging.getLogger(__name__)

# What the result's long poll meets when the server is away (restarting, unreachable): wait and ask again.
_SERVER_GONE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNKNOWN})
_RECONNECT_FIRST_S = 0.5
_RECONNECT_MAX_S = 5.0
_CONNECTED_S = 30.0  # a wait that lasted this long was connected: an error after it starts a new outage
_GIVE_UP_AFTER_S = 600.0  # a server away this long is reported (the operation may still finish: poll it)

_Handle = WorkflowHandle[Any, WorkflowResult]


class DurableRunner:
    """Runs operations as Temporal workflows. Give it a connected `Client`, `ConnectionSettings` or an address."""

    def __init__(
        self,
        client: Client | ConnectionSettings | str,
        *,
        task_queue: str = DEFAULT_TASK_QUEUE,
        retry_window_seconds: int = DEFAULT_RETRY_WINDOW_SECONDS,
        attempt_timeout_seconds: int = 300,
        heartbeat_timeout_seconds: int = 30,
        max_retry_interval_seconds: int = 60,
        result_timeout_seconds: float | None = None,
        rpc_timeout_seconds: float = 10.0,
    ) -> None:
        # With OpenTelemetry installed, StartWorkflow carries the operation's trace to the workflow and activities.
        self._given = traced_client(client) if isinstance(client, Client) else None
        self._settings = ConnectionSettings.local(client) if isinstance(client, str) else None
        if isinstance(client, ConnectionSettings):
            self._settings = client
        self.task_queue = task_queue
        self.retry_window_seconds = retry_window_seconds
        self._attempt_timeout = attempt_timeout_seconds
        self._heartbeat_timeout = heartbeat_timeout_seconds
        self._max_retry_interval = max_retry_interval_seconds
        self._result_timeout = result_timeout_seconds
        self._rpc_timeout = timedelta(seconds=rpc_timeout_seconds)
        self._loop = BackgroundLoop()
        self._lock = threading.Lock()
        self._connecting: Future[Client] | None = None

    # -- the protocol, sync ------------------------------------------------------------------------------------

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        """Start (or attach to) the operation and block until its result."""
        return self._loop.run(self.run_async(request, options))

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        """Start (or attach to) the operation; return its handle `durable:<workflow id>`."""
        return self._loop.run(self.start_async(request, options))

    def poll(self, handle: OperationHandle) -> OperationStatus:
        """Where the operation is: its current step while running, its result once closed."""
        return self._loop.run(self.poll_async(handle))

    def result(self, handle: OperationHandle) -> OperationResult:
        """Re-attach to a started operation and block until its result (pushed by Temporal)."""
        return self._loop.run(self.result_async(handle))

    def wait_progress(self, handle: OperationHandle, after: int = 0) -> Progress:
        """Block until more than `after` steps have completed (a durable long poll); the final snapshot if done."""
        return self._loop.run(self.wait_progress_async(handle, after))

    def has_started(self, operation_id: str) -> bool:
        """Whether the operation was ever started on this path for real (its workflow exists, open or closed).

        When Temporal cannot answer, True: an unknown state must never let the operation run on another path.
        """
        return self._loop.run(self.has_started_async(operation_id))

    def close(self) -> None:
        """Stop the background loop. The runner must not be used afterwards."""
        self._loop.close()

    def __enter__(self) -> DurableRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- async ----------------------------------------------------------------------------------------------------

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        submitted = time.time()
        wf = await self._start(request, options)
        return await self._await_result(wf, request.operation_id, options.decision, submitted)

    async def start_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        wf = await self._start(request, options)
        return OperationHandle(Path.DURABLE, wf.id)

    async def has_started_async(self, operation_id: str) -> bool:
        try:
            client = await self._client()
            await client.get_workflow_handle(workflow_id_for(operation_id)).describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            return err.status is not RPCStatusCode.NOT_FOUND
        except RunnerUnavailable:
            return True
        return True

    async def poll_async(self, handle: OperationHandle) -> OperationStatus:
        wf = await self._handle(handle)
        description = await self._describe(wf, handle)
        if description.status is WorkflowExecutionStatus.RUNNING:
            step = ""
            try:
                progress = await wf.query("progress", result_type=Progress, rpc_timeout=self._rpc_timeout)
                step = progress.step
            except Exception:  # no worker answered the query in time: the state is still known
                step = ""
            return OperationStatus(handle=handle, state=OperationState.RUNNING, step=step)
        result = await self._closed_result(wf, description)
        state = OperationState.SUCCEEDED if result.succeeded else OperationState.FAILED
        return OperationStatus(handle=handle, state=state, result=result)

    async def result_async(self, handle: OperationHandle) -> OperationResult:
        wf = await self._handle(handle)
        description = await self._describe(wf, handle)
        submitted = description.start_time.timestamp() if description.start_time else time.time()
        return await self._await_result(wf, operation_id_of(wf.id), await decision_in_memo(description), submitted)

    async def wait_progress_async(self, handle: OperationHandle, after: int = 0) -> Progress:
        if after < 0:
            raise ValueError(f"after must be 0 or more (got {after}): the number of steps already seen")
        wf = await self._handle(handle)
        try:
            progress: Progress = await wf.execute_update("wait_progress", WaitInput(after=after), result_type=Progress)
            return progress
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise RunnerUnavailable(
                    f"cannot reach Temporal for {wf.id}: {err.message}", path=Path.DURABLE.value, may_have_started=True
                ) from err
        # Closed (or unknown): a closed execution's final snapshot comes from a query, which a worker replays.
        try:
            final: Progress = await wf.query("progress", result_type=Progress, rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise UnknownHandle(f"no workflow {wf.id} (handle {handle})") from err
            raise RunnerUnavailable(
                f"cannot query {wf.id}: {err.message}", path=Path.DURABLE.value, may_have_started=True
            ) from err
        return final

    # -- internals ------------------------------------------------------------------------------------------------

    async def _client(self) -> Client:
        if self._given is not None:
            return self._given
        with self._lock:
            if self._connecting is None or (self._connecting.done() and self._connecting.exception() is not None):
                assert self._settings is not None
                self._connecting = self._loop.submit(connect(self._settings))
            pending = self._connecting
        try:
            return await asyncio.wrap_future(pending)
        except TemporalUnavailable as err:
            raise RunnerUnavailable(str(err), path=Path.DURABLE.value, may_have_started=False) from err
        except ConnectionConfigError as err:
            raise ConfigurationError(str(err)) from err

    async def _start(self, request: OperationRequest, options: RunOptions) -> _Handle:
        client = await self._client()
        options = replace(options, retry_window_seconds=options.retry_window_seconds or self.retry_window_seconds)
        inp = replace(
            to_workflow_input(request, options),
            attempt_timeout_seconds=self._attempt_timeout,
            heartbeat_timeout_seconds=self._heartbeat_timeout,
            max_retry_interval_seconds=self._max_retry_interval,
        )
        started = start_options(request, self.task_queue, options)
        try:
            return await client.start_workflow(
                WORKFLOW_TYPE, inp, result_type=WorkflowResult, rpc_timeout=self._rpc_timeout, **started
            )
        except Exception as err:
            failure = durable_start.classify(err)
            if failure is None:
                raise
            return await self._after_failed_start(client, started["id"], err, failure, request.operation_id)

    async def _after_failed_start(
        self,
        client: Client,
        workflow_id: str,
        err: Exception,
        failure: durable_start.StartFailure,
        operation_id: str,
    ) -> _Handle:
        """Attach when the failed start left an execution under the id; else raise RunnerUnavailable saying whether
        it may have started (`router.durable_start`: only a refused or undelivered start certainly did not).

        A start in doubt (a deadline, a reset mid-call) may still land: one describe attaches when it did, and
        otherwise it is reported `may_have_started=True`, so no caller runs the operation elsewhere.
        """
        handle: _Handle = client.get_workflow_handle(workflow_id, result_type=WorkflowResult)
        if failure is durable_start.StartFailure.EXISTS:  # it ran and closed: attach, never run it again
            return handle
        if failure is durable_start.StartFailure.IN_DOUBT:
            try:
                await handle.describe(rpc_timeout=self._rpc_timeout)
                return handle  # the start did land
            except RPCError:
                pass
        why = err.message if isinstance(err, RPCError) else f"{type(err).__name__}: {err}"
        raise RunnerUnavailable(
            f"could not start workflow {workflow_id} on task queue {self.task_queue}: {why}",
            path=Path.DURABLE.value,
            may_have_started=not failure.certainly_not_started,
            operation_id=operation_id,
        ) from err

    async def _await_result(
        self, wf: _Handle, operation_id: str, decision: RouteDecision | None, submitted: float
    ) -> OperationResult:
        """The workflow's result, pushed by Temporal. A server that goes away while we wait (restarted, a network
        blip) is waited through with backoff, as Orca keeps polling through an unreachable Clouddriver: the
        execution lives on the server, so the wait resumes where it was. Only the result timeout (if any), or an
        error that is not the server's absence, ends the wait early."""
        loop = asyncio.get_running_loop()
        deadline = None if self._result_timeout is None else loop.time() + self._result_timeout
        backoff, gone_since = _RECONNECT_FIRST_S, None
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            asked = loop.time()
            try:
                result = await asyncio.wait_for(wf.result(), left)
                break
            except WorkflowFailureError as err:
                message = f"workflow {wf.id} failed: {err.cause or err}"
                return failed_result(operation_id, wf.id, decision, Timings.since(submitted), message)
            except RPCError as err:
                now = loop.time()
                if gone_since is None or now - asked > _CONNECTED_S:  # a new outage, not the same one again
                    gone_since, backoff = now, _RECONNECT_FIRST_S
                gone = err.status in _SERVER_GONE and now - gone_since < _GIVE_UP_AFTER_S
                if gone and (deadline is None or now + backoff < deadline):
                    log.warning("lost Temporal while waiting for %s (%s): waiting again in %.1fs", wf.id, err, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _RECONNECT_MAX_S)
                    continue
                message = f"lost Temporal ({err}) for {wf.id}; the operation may still finish: poll durable:{wf.id}"
                return failed_result(
                    operation_id, wf.id, decision, Timings.since(submitted), message, kind=ErrorKind.TIMEOUT
                )
            except TimeoutError:
                message = f"stopped waiting for {wf.id}; the operation may still finish: poll durable:{wf.id}"
                return failed_result(
                    operation_id, wf.id, decision, Timings.since(submitted), message, kind=ErrorKind.TIMEOUT
                )
        return to_operation_result(result, wf.id, decision=decision, timings=Timings.since(submitted))

    async def _handle(self, handle: OperationHandle) -> _Handle:
        if handle.path is not Path.DURABLE:
            raise UnknownHandle(f"{str(handle)!r} is not a durable handle (expected 'durable:<workflow id>')")
        client = await self._client()
        return client.get_workflow_handle(handle.run_id, result_type=WorkflowResult)

    async def _describe(self, wf: _Handle, handle: OperationHandle) -> WorkflowExecutionDescription:
        try:
            return await wf.describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise UnknownHandle(f"no workflow {wf.id} (handle {handle})") from err
            raise RunnerUnavailable(
                f"cannot reach Temporal for {wf.id}: {err.message}", path=Path.DURABLE.value, may_have_started=True
            ) from err

    async def _closed_result(self, wf: _Handle, description: WorkflowExecutionDescription) -> OperationResult:
        submitted = description.start_time.timestamp() if description.start_time else time.time()
        finished = description.close_time.timestamp() if description.close_time else time.time()
        decision = await decision_in_memo(description)
        timings = Timings(submitted, finished)
        if description.status is WorkflowExecutionStatus.COMPLETED:
            return to_operation_result(await wf.result(), wf.id, decision=decision, timings=timings)
        status = description.status.name.lower() if description.status else "unknown"
        return failed_result(operation_id_of(wf.id), wf.id, decision, timings, f"workflow {wf.id} ended {status}")
