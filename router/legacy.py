"""`LegacyRunner`: the CloudOperationRunner that drives the legacy path exactly as Orca does.

Submit (Orca's KatoService): `POST /{provider}/ops?clientRequestId=<sha256 of the operation id>`, body
`[{operation: context}]`, three attempts one second apart, none after a 4xx; the deterministic clientRequestId
makes a retried submit return the same task. Monitor (MonitorKatoTask): `GET /task/{id}` every 5 s, each read up
to five attempts 100 ms apart; a 404 counts towards 30 consecutive ones, then the operation fails; network errors
and 429/502/503/504 keep it running; a task completed without result objects is still running for operations
that expect results (Orca's guard against Redis's write order); a FAILED_RETRYABLE task gets `POST :resume` and
the next poll waits 2 minutes; after one hour the operation times out.

Outcomes map to `OperationResult`: validation 400 -> VALIDATION (one error per field); a cloud rejection ->
BUSINESS; exhausted transient retries, a lost task (404s), an unreachable service -> INFRASTRUCTURE; the hour ->
TIMEOUT. The legacy path is reached over HTTP only; nothing of legacy_clouddriver is imported.

The decisions are pure and live apart: the monitor's in `router.legacy_monitor`, the request and answer shapes in
`router.legacy_wire`; this module does the HTTP calls, the waits and the bookkeeping around them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import httpx

from clouddriver_wire.results import last_plan
from router import legacy_monitor as monitor
from router.contract import (
    DEFAULT_OPTIONS,
    OperationError,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    RunOptions,
    Timings,
)
from router.errors import RunnerUnavailable, UnknownHandle
from router.legacy_monitor import RESULT_EXPECTED, MonitorSettings, TaskRead, Watch
from router.legacy_wire import (
    client_request_id,
    context_dry_run_error,
    description,
    json_of,
    outputs_from_results,
    rejection_errors,
)
from router.tracing import TracingTransport

__all__ = ["RESULT_EXPECTED", "LegacyRunner", "client_request_id", "outputs_from_results"]

_FINISHED_KEPT = 10_000


class LegacyRunner:
    """Runs operations on a Clouddriver-compatible service at `base_url`; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        poll_interval_s: float = 5.0,
        timeout_s: float = 3600.0,
        submit_attempts: int = 3,
        submit_backoff_s: float = 1.0,
        http_timeout_s: float = 10.0,
        read_attempts: int = 5,
        read_backoff_s: float = 0.1,
        not_found_limit: int = 30,
        resume_backoff_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._poll_interval = poll_interval_s
        self._monitor = MonitorSettings(timeout_s, not_found_limit, resume_backoff_s)
        self._submit_attempts = max(1, submit_attempts)
        self._submit_backoff = submit_backoff_s
        self._read_attempts = max(1, read_attempts)
        self._read_backoff = read_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        # Each call is a client span carrying `traceparent`, so the legacy service continues the operation's trace.
        self._http = httpx.Client(base_url=self.base_url, timeout=http_timeout_s, transport=TracingTransport())
        self._lock = threading.Lock()
        self._watches: dict[str, Watch] = {}
        # Results of finished tasks, so a repeated poll answers without a request; bounded, oldest dropped first
        # (a dropped one is simply read again from the service).
        self._finished: OrderedDict[str, OperationResult] = OrderedDict()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LegacyRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -----------------------------------------------------------------------------------------

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        return self.result(self.start(request, options))

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        return await self.result_async(await asyncio.to_thread(self.start, request, options))

    def result(self, handle: OperationHandle) -> OperationResult:
        """Poll a started task, at Orca's pace, until it finishes; its result."""
        while True:
            status = self.poll(handle)
            if status.result is not None:
                return status.result
            self._sleep(self._delay(handle))

    async def result_async(self, handle: OperationHandle) -> OperationResult:
        # HTTP calls are short and go to a worker thread; the waits between polls are asyncio sleeps.
        while True:
            status = await asyncio.to_thread(self.poll, handle)
            if status.result is not None:
                return status.result
            await self._async_sleep(self._delay(handle))

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        """Submit; return `legacy:<task id>`. Raises RunnerUnavailable when no attempt got an answer.

        A dry run (`options.dry_run`) has its own clientRequestId, so the real run of the same operation is
        never deduplicated into it; the service resolves, validates and plans it, mutating nothing.
        """
        submitted_at = time.time()
        crid = client_request_id(request.operation_id, options.dry_run)
        refused = context_dry_run_error(request, options)
        answer: str | OperationResult
        if refused is not None:
            answer = self._rejected(request, (refused,), submitted_at)
        else:
            answer = self._submit(request, options, crid, submitted_at)
        if isinstance(answer, OperationResult):
            rejected_id = f"rejected-{crid[:16]}"
            with self._lock:
                self._remember(rejected_id, answer)
            return OperationHandle(Path.LEGACY, rejected_id)
        with self._lock:
            self._watches[answer] = Watch(
                task_id=answer,
                operation_id=request.operation_id,
                expects_result=request.operation in RESULT_EXPECTED and not options.dry_run,
                started=self._clock(),
                submitted_at=submitted_at,
            )
        return OperationHandle(Path.LEGACY, answer)

    def poll(self, handle: OperationHandle) -> OperationStatus:
        """One MonitorKatoTask execution. The consecutive-404 count is kept per handle, in this runner's memory."""
        if handle.path is not Path.LEGACY:
            raise UnknownHandle(f"{str(handle)!r} is not a legacy handle; ask the runner of its path")
        task_id = handle.run_id
        with self._lock:
            done = self._finished.get(task_id)
            watch = self._watches.get(task_id)
            if done is None and watch is None:
                watch = self._watches[task_id] = Watch(task_id, "", None, self._clock(), time.time())
        if done is not None:
            return OperationStatus(handle, _state(done), result=done)
        assert watch is not None
        verdict = self._check(watch)
        if verdict.finished is None:
            with self._lock:
                if task_id in self._watches:
                    self._watches[task_id] = verdict.watch
            return OperationStatus(handle, OperationState.RUNNING, step=verdict.step)
        result = self._result(verdict.watch, verdict.finished)
        with self._lock:
            self._remember(task_id, result)
            self._watches.pop(task_id, None)
        return OperationStatus(handle, _state(result), step=verdict.step, result=result)

    def forget(self, handle: OperationHandle) -> None:
        """Drop the watch of a task polled here that another process finished (the reconciler's polls)."""
        with self._lock:
            self._watches.pop(handle.run_id, None)

    # -- submit -----------------------------------------------------------------------------------------------

    def _submit(
        self, request: OperationRequest, options: RunOptions, crid: str, submitted_at: float
    ) -> str | OperationResult:
        body = [{request.operation: description(request, options)}]
        url = f"/{request.provider}/ops" if request.provider else "/ops"
        may_have_started = False
        last_error = ""
        for attempt in range(1, self._submit_attempts + 1):
            try:
                response = self._http.post(url, params={"clientRequestId": crid}, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                last_error = f"{type(e).__name__}: {e}"  # the request never left: certainly not started
            except httpx.TransportError as e:
                may_have_started, last_error = True, f"{type(e).__name__}: {e}"
            else:
                answer = json_of(response)
                status = response.status_code
                if status == 200 and isinstance(answer, dict) and answer.get("id"):
                    return str(answer["id"])
                if status in (400, 422):
                    return self._rejected(request, rejection_errors(request.operation, status, answer), submitted_at)
                if 400 <= status < 500 and status != 429:  # a wrong URL or method: retrying cannot help
                    raise self._unavailable(request, f"HTTP {status}: {monitor.message_of(answer)}", may_have_started)
                may_have_started = may_have_started or status != 429
                last_error = f"HTTP {status}: {monitor.message_of(answer)}"
            if attempt < self._submit_attempts:
                self._sleep(self._submit_backoff)
        raise self._unavailable(request, f"{self._submit_attempts} attempts; last: {last_error}", may_have_started)

    def _unavailable(self, request: OperationRequest, why: str, may_have_started: bool) -> RunnerUnavailable:
        return RunnerUnavailable(
            f"the legacy path at {self.base_url} did not take operation {request.operation_id}: {why}",
            path=Path.LEGACY.value,
            may_have_started=may_have_started,
            operation_id=request.operation_id,
        )

    def _rejected(
        self, request: OperationRequest, errors: tuple[OperationError, ...], submitted_at: float
    ) -> OperationResult:
        return OperationResult(
            status=ResultStatus.FAILED,
            path=Path.LEGACY,
            operation_id=request.operation_id,
            errors=errors,
            timings=Timings.since(submitted_at),
        )

    # -- monitor ----------------------------------------------------------------------------------------------

    def _delay(self, handle: OperationHandle) -> float:
        watch = self._watches.get(handle.run_id)
        if watch is not None and watch.next_delay is not None:
            return max(self._poll_interval, watch.next_delay)
        return self._poll_interval

    def _check(self, watch: Watch) -> monitor.Verdict:
        """The IO around the pure monitor: the deadline, then a read, then a resume if the read asks for one."""
        timed_out = monitor.expired(watch, self._clock(), self._monitor)
        if timed_out is not None:
            return timed_out
        verdict = monitor.judge(watch, self._read(f"/task/{watch.task_id}"), self._monitor)
        if verdict.resume:
            verdict = monitor.resumed(verdict, self._post_resume(watch.task_id), self._monitor)
        return verdict

    def _read(self, url: str) -> TaskRead:
        """GET with Orca's five quick attempts: the first answer below 500 (but 429), else the last failure."""
        read = TaskRead(None)
        for attempt in range(self._read_attempts):
            if attempt:
                self._sleep(self._read_backoff)
            try:
                response = self._http.get(url)
            except httpx.TransportError as e:
                read = TaskRead(None, error=f"{type(e).__name__}: {e}")
                continue
            if response.status_code < 500 and response.status_code != 429:
                return TaskRead(response.status_code, json_of(response))
            read = TaskRead(response.status_code, json_of(response), f"HTTP {response.status_code}")
        return read

    def _post_resume(self, task_id: str) -> TaskRead:
        try:
            response = self._http.post(f"/task/{task_id}:resume")
        except httpx.TransportError as e:
            return TaskRead(None, error=f"{type(e).__name__}: {e}")
        return TaskRead(response.status_code, json_of(response))

    def _remember(self, task_id: str, result: OperationResult) -> None:
        """Keep a finished result (the caller holds the lock)."""
        self._finished[task_id] = result
        while len(self._finished) > _FINISHED_KEPT:
            self._finished.popitem(last=False)

    def _result(self, watch: Watch, finished: monitor.Finished) -> OperationResult:
        return OperationResult(
            status=ResultStatus.FAILED if finished.errors else ResultStatus.SUCCEEDED,
            path=Path.LEGACY,
            operation_id=watch.operation_id,
            outputs=outputs_from_results(finished.results) if not finished.errors else {},
            errors=finished.errors,
            task_id=watch.task_id,
            plan=last_plan(finished.results),
            timings=Timings.since(watch.submitted_at),
        )


def _state(result: OperationResult) -> OperationState:
    return OperationState.SUCCEEDED if result.succeeded else OperationState.FAILED
