"""`DurableRunner`: the Temporal path of the `CloudOperationRunner` protocol.

`start` starts `UntypedCloudOperationRunner` under the workflow id `cloudop-<operation_id>` with conflict policy
USE_EXISTING and reuse policy REJECT_DUPLICATE, so a repeated start attaches to the running execution and, once
it has closed, to its result: an operation never runs twice. Results arrive by push (Temporal's long-poll of the
workflow result), never by a polling loop of ours. The handle, `durable:<workflow id>`, is all a restarted caller
needs to `poll` or `result` again.

`RunnerUnavailable(may_have_started=False)` is raised only when the execution certainly does not exist (the
client never connected, the server refused the request, or a describe proved it absent), because only then may a
caller run the operation on the legacy path instead.

The sync methods run the async ones on a background event loop owned by the runner, so they work from plain
threads and from the thread of a running event loop alike, without deadlock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from durable_runner.client import ConnectionSettings, connect
from durable_runner.contract import (
    DEFAULT_RETRY_WINDOW_SECONDS,
    DEFAULT_TASK_QUEUE,
    WORKFLOW_TYPE,
    Progress,
    WaitInput,
    WorkflowInput,
    WorkflowResult,
    workflow_id_for,
)
from durable_runner.errors import ConnectionConfigError, TemporalUnavailable
from durable_runner.loop import BackgroundLoop
from durable_runner.search_attributes import typed_attributes
from router.contract import (
    DECISION_CONTEXT_KEY,
    RETRY_WINDOW_CONTEXT_KEY,
    ErrorKind,
    OperationError,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    RouteDecision,
    Timings,
    format_handle,
    parse_handle,
)
from router.errors import ConfigurationError, RunnerUnavailable, UnknownHandle

__all__ = ["DurableRunner", "start_options", "to_operation_result", "to_workflow_input"]

T = TypeVar("T")

# Server answers that prove the start was refused, so nothing was created.
_REFUSED = {
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.PERMISSION_DENIED,
    RPCStatusCode.UNAUTHENTICATED,
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.UNIMPLEMENTED,
}


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
        self._given = client if isinstance(client, Client) else None
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

    def run(
        self,
        request: OperationRequest,
        *,
        dry_run: bool = False,
        decision: RouteDecision | None = None,
        retry_window_seconds: int | None = None,
    ) -> OperationResult:
        """Start (or attach to) the operation and block until its result."""
        return self._loop.run(
            self.run_async(request, dry_run=dry_run, decision=decision, retry_window_seconds=retry_window_seconds)
        )

    def start(
        self,
        request: OperationRequest,
        *,
        dry_run: bool = False,
        decision: RouteDecision | None = None,
        retry_window_seconds: int | None = None,
    ) -> str:
        """Start (or attach to) the operation; return its handle `durable:<workflow id>`."""
        return self._loop.run(
            self.start_async(request, dry_run=dry_run, decision=decision, retry_window_seconds=retry_window_seconds)
        )

    def poll(self, handle: str) -> OperationStatus:
        """Where the operation is: its current step while running, its result once closed."""
        return self._loop.run(self.poll_async(handle))

    def result(self, handle: str) -> OperationResult:
        """Re-attach to a started operation and block until its result (pushed by Temporal)."""
        return self._loop.run(self.result_async(handle))

    def wait_progress(self, handle: str, after: int = 0) -> Progress:
        """Block until more than `after` steps have completed (a durable long poll); the final snapshot if done."""
        return self._loop.run(self.wait_progress_async(handle, after))

    def has_started(self, operation_id: str) -> bool:
        """Whether the operation was ever started on this path (its workflow exists, open or closed).

        When Temporal cannot answer, True: an unknown state must never let the operation run on another path.
        """
        return self._loop.run(self.has_started_async(operation_id))

    def close(self) -> None:
        """Stop the background loop. The runner must not be used afterwards."""
        self._loop.close()

    # -- async ----------------------------------------------------------------------------------------------------

    async def run_async(
        self,
        request: OperationRequest,
        *,
        dry_run: bool = False,
        decision: RouteDecision | None = None,
        retry_window_seconds: int | None = None,
    ) -> OperationResult:
        submitted = time.time()
        handle = await self._start(request, dry_run, decision, retry_window_seconds)
        return await self._await_result(handle, request.operation_id, decision, submitted)

    async def start_async(
        self,
        request: OperationRequest,
        *,
        dry_run: bool = False,
        decision: RouteDecision | None = None,
        retry_window_seconds: int | None = None,
    ) -> str:
        handle = await self._start(request, dry_run, decision, retry_window_seconds)
        return format_handle(Path.DURABLE, handle.id)

    async def dry_run_async(
        self, request: OperationRequest, *, decision: RouteDecision | None = None
    ) -> OperationResult:
        """Plan the operation without mutating anything (its own workflow id: `cloudop-<id>-dry-run`)."""
        return await self.run_async(request, dry_run=True, decision=decision)

    async def has_started_async(self, operation_id: str) -> bool:
        try:
            client = await self._client()
            await client.get_workflow_handle(workflow_id_for(operation_id)).describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            return err.status is not RPCStatusCode.NOT_FOUND
        except RunnerUnavailable:
            return True
        return True

    async def poll_async(self, handle: str) -> OperationStatus:
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

    async def result_async(self, handle: str) -> OperationResult:
        wf = await self._handle(handle)
        description = await self._describe(wf, handle)
        submitted = description.start_time.timestamp() if description.start_time else time.time()
        operation_id = _operation_id(wf.id)
        return await self._await_result(wf, operation_id, await _decision(description), submitted)

    async def wait_progress_async(self, handle: str, after: int = 0) -> Progress:
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

    async def _start(
        self,
        request: OperationRequest,
        dry_run: bool,
        decision: RouteDecision | None,
        retry_window_seconds: int | None,
    ) -> WorkflowHandle[Any, WorkflowResult]:
        client = await self._client()
        # A RoutingRunner passes its decision and the flag-read retry window in the context (see router.contract).
        decision = decision or _context_decision(request)
        window = retry_window_seconds or _context_window(request) or self.retry_window_seconds
        inp = replace(
            to_workflow_input(request, dry_run=dry_run, decision=decision, retry_window_seconds=window),
            attempt_timeout_seconds=self._attempt_timeout,
            heartbeat_timeout_seconds=self._heartbeat_timeout,
            max_retry_interval_seconds=self._max_retry_interval,
        )
        workflow_id = workflow_id_for(request.operation_id, dry_run=dry_run)
        try:
            return await client.start_workflow(
                WORKFLOW_TYPE,
                inp,
                result_type=WorkflowResult,
                rpc_timeout=self._rpc_timeout,
                **start_options(request, self.task_queue, decision, dry_run=dry_run),
            )
        except WorkflowAlreadyStartedError:  # it ran and closed: attach to its result, never run it again
            return client.get_workflow_handle(workflow_id, result_type=WorkflowResult)
        except RPCError as err:
            return await self._after_failed_start(client, workflow_id, err, request.operation_id)

    async def _after_failed_start(
        self, client: Client, workflow_id: str, err: RPCError, operation_id: str
    ) -> WorkflowHandle[Any, WorkflowResult]:
        """Decide whether a failed start may have created the execution; attach if it did.

        Only a refusal by the server or a connection that never opened proves nothing was created. Otherwise (a
        deadline, a reset mid-call) the start may still land: a describe that finds it attaches, anything else
        reports `may_have_started=True`, so no caller runs the operation elsewhere.
        """
        text = str(err).lower()
        refused = err.status in _REFUSED or (
            err.status is RPCStatusCode.UNAVAILABLE and ("connect" in text or "refused" in text)
        )
        if not refused:
            handle = client.get_workflow_handle(workflow_id, result_type=WorkflowResult)
            try:
                await handle.describe(rpc_timeout=self._rpc_timeout)
                return handle  # the start did land
            except RPCError:
                pass
        raise RunnerUnavailable(
            f"could not start workflow {workflow_id} on task queue {self.task_queue}: {err.message}",
            path=Path.DURABLE.value,
            may_have_started=not refused,
            operation_id=operation_id,
        ) from err

    async def _await_result(
        self,
        wf: WorkflowHandle[Any, WorkflowResult],
        operation_id: str,
        decision: RouteDecision | None,
        submitted: float,
    ) -> OperationResult:
        try:
            result = await asyncio.wait_for(wf.result(), self._result_timeout)
        except WorkflowFailureError as err:
            return _failed(operation_id, wf.id, decision, submitted, f"workflow {wf.id} failed: {err.cause or err}")
        except (TimeoutError, RPCError) as err:
            why = "stopped waiting" if isinstance(err, TimeoutError) else f"lost Temporal ({err})"
            return _failed(
                operation_id,
                wf.id,
                decision,
                submitted,
                f"{why} for {wf.id}; the operation may still finish: poll durable:{wf.id}",
                kind=ErrorKind.TIMEOUT,
            )
        return to_operation_result(result, wf.id, decision=decision, timings=Timings.since(submitted))

    async def _handle(self, handle: str) -> WorkflowHandle[Any, WorkflowResult]:
        try:
            path, workflow_id = parse_handle(handle)
        except ValueError as err:
            raise UnknownHandle(str(err)) from err
        if path is not Path.DURABLE:
            raise UnknownHandle(f"{handle!r} is not a durable handle (expected 'durable:<workflow id>')")
        client = await self._client()
        return client.get_workflow_handle(workflow_id, result_type=WorkflowResult)

    async def _describe(self, wf: WorkflowHandle[Any, WorkflowResult], handle: str) -> WorkflowExecutionDescription:
        try:
            return await wf.describe(rpc_timeout=self._rpc_timeout)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise UnknownHandle(f"no workflow {wf.id} (handle {handle})") from err
            raise RunnerUnavailable(
                f"cannot reach Temporal for {wf.id}: {err.message}", path=Path.DURABLE.value, may_have_started=True
            ) from err

    async def _closed_result(
        self, wf: WorkflowHandle[Any, WorkflowResult], description: WorkflowExecutionDescription
    ) -> OperationResult:
        submitted = description.start_time.timestamp() if description.start_time else time.time()
        finished = description.close_time.timestamp() if description.close_time else time.time()
        decision = await _decision(description)
        operation_id = _operation_id(wf.id)
        if description.status is WorkflowExecutionStatus.COMPLETED:
            result = await wf.result()
            return to_operation_result(result, wf.id, decision=decision, timings=Timings(submitted, finished))
        status = description.status.name.lower() if description.status else "unknown"
        failed = _failed(operation_id, wf.id, decision, submitted, f"workflow {wf.id} ended {status}")
        return replace(failed, timings=Timings(submitted, finished))


def start_options(
    request: OperationRequest, task_queue: str, decision: RouteDecision | None, *, dry_run: bool = False
) -> dict[str, Any]:
    """How DurableRunner starts an operation's workflow, beyond its input: the id (from the operation id), attach
    to a running execution and never rerun a closed one, the search attributes, the decision in the memo, and a
    summary for Temporal's UI. `cloudops bench throughput` starts its raw-client baseline with the same."""
    return {
        "id": workflow_id_for(request.operation_id, dry_run=dry_run),
        "task_queue": task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": typed_attributes(request.dimensions()),
        "memo": {"decision": decision.to_json()} if decision is not None else None,
        "static_summary": f"{request.operation} {request.application} {request.account}".strip(),
    }


def _context_decision(request: OperationRequest) -> RouteDecision | None:
    raw = request.context.get(DECISION_CONTEXT_KEY)
    try:
        return RouteDecision.from_json(raw) if isinstance(raw, dict) else None
    except (KeyError, ValueError):
        return None


def _context_window(request: OperationRequest) -> int | None:
    raw = request.context.get(RETRY_WINDOW_CONTEXT_KEY)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else None


def to_workflow_input(
    request: OperationRequest,
    *,
    dry_run: bool = False,
    decision: RouteDecision | None = None,
    retry_window_seconds: int = DEFAULT_RETRY_WINDOW_SECONDS,
) -> WorkflowInput:
    """The workflow's input for a request (the decision was made outside the workflow, so replays agree)."""
    return WorkflowInput(
        operation_id=request.operation_id,
        operation=request.operation,
        stage_context=dict(request.context),
        provider=request.provider,
        application=request.application,
        stage_type=request.stage_type,
        dry_run=dry_run,
        decision=decision.to_json() if decision is not None else None,
        retry_window_seconds=retry_window_seconds,
    )


def to_operation_result(
    result: WorkflowResult,
    workflow_id: str,
    *,
    decision: RouteDecision | None = None,
    timings: Timings | None = None,
) -> OperationResult:
    """The router's result for a workflow result: same outputs, plan and errors, kinds mapped one to one."""
    return OperationResult(
        status=ResultStatus.SUCCEEDED if result.ok else ResultStatus.FAILED,
        path=Path.DURABLE,
        operation_id=result.operation_id or _operation_id(workflow_id),
        outputs=dict(result.outputs),
        errors=tuple(
            OperationError(kind=ErrorKind(e.kind.value), message=e.message, code=e.code, field=e.field)
            for e in result.errors
        ),
        decision=decision,
        workflow_id=workflow_id,
        plan=result.plan,
        timings=timings,
    )


_CODES = {ErrorKind.INFRASTRUCTURE: "WorkflowFailed", ErrorKind.TIMEOUT: "ResultTimeout"}


def _failed(
    operation_id: str,
    workflow_id: str,
    decision: RouteDecision | None,
    submitted: float,
    message: str,
    *,
    kind: ErrorKind = ErrorKind.INFRASTRUCTURE,
) -> OperationResult:
    return OperationResult(
        status=ResultStatus.FAILED,
        path=Path.DURABLE,
        operation_id=operation_id,
        errors=(OperationError(kind=kind, message=message, code=_CODES[kind]),),
        decision=decision,
        workflow_id=workflow_id,
        timings=Timings.since(submitted),
    )


async def _decision(description: WorkflowExecutionDescription) -> RouteDecision | None:
    """The routing decision kept in the memo, if the starter put one there."""
    try:
        raw = await description.memo_value("decision", None)
        return RouteDecision.from_json(raw) if isinstance(raw, dict) else None
    except (KeyError, ValueError, TypeError):  # a memo some other starter wrote in another shape
        return None


def _operation_id(workflow_id: str) -> str:
    """Back from `cloudop-<operation_id>[-dry-run]` to the operation id."""
    body = workflow_id.removeprefix("cloudop-")
    return body.removesuffix("-dry-run")
