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
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from cloud.errors import CloudRejection, error_from_json
from router.contract import (
    ErrorKind,
    OperationError,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    Timings,
    format_handle,
    parse_handle,
)
from router.errors import RunnerUnavailable, UnknownHandle

__all__ = ["RESULT_EXPECTED", "LegacyRunner", "client_request_id", "outputs_from_results"]

RESULT_EXPECTED = frozenset({"createServerGroup", "cloneServerGroup", "upsertLoadBalancer"})
"""Operations for which Orca sets `kato.result.expected`."""

_RESULT_EXPECTED_CLASSES = frozenset(
    {
        "DeployAtomicOperation",
        "CopyLastAsgAtomicOperation",
        "CloneTitusServerGroupAtomicOperation",
        "UpsertAmazonLoadBalancerAtomicOperation",
        "UpsertTitusLoadBalancerAtomicOperation",
    }
)  # the same, recognised from a task's history when polling a handle another runner started
_PLAN_TYPE = "cloudops.plan"
_EXCEPTION_TYPE = "EXCEPTION"
_REQUEUED_STATUSES = frozenset({429, 502, 503, 504})


def client_request_id(operation_id: str, dry_run: bool = False) -> str:
    """Deterministic per operation (and distinct for its dry run), so a retried submit finds the same task."""
    return hashlib.sha256(f"{operation_id}{':dryRun' if dry_run else ''}".encode()).hexdigest()


def outputs_from_results(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The operation's own result objects merged, plus Orca's `deploy.server.groups` ({region: [names]})."""
    outputs: dict[str, Any] = {}
    for r in results:
        if r.get("type") not in (_PLAN_TYPE, _EXCEPTION_TYPE):
            outputs.update(r)
    groups: dict[str, list[str]] = {}
    for r in results:
        for entry in r.get("serverGroupNames") or ():
            region, sep, name = str(entry).partition(":")
            region, name = (region, name) if sep else ("region_missing", region)
            groups.setdefault(region, []).append(name)
    if groups:
        outputs["deploy.server.groups"] = groups
    return outputs


@dataclass(slots=True)
class _Watch:
    """What Orca keeps in the stage context while monitoring one task."""

    task_id: str
    operation_id: str
    expects_result: bool | None  # None: unknown (a handle this runner did not start), judged from the history
    started: float
    submitted_at: float
    not_found: int = 0
    resumes: int = 0
    unreachable: str = ""
    next_delay: float | None = None


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
        self._timeout = timeout_s
        self._submit_attempts = max(1, submit_attempts)
        self._submit_backoff = submit_backoff_s
        self._read_attempts = max(1, read_attempts)
        self._read_backoff = read_backoff_s
        self._not_found_limit = not_found_limit
        self._resume_backoff = resume_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=http_timeout_s)
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}
        # Results of finished tasks, so a repeated poll answers without a request; bounded, oldest dropped first
        # (a dropped one is simply read again from the service).
        self._finished: OrderedDict[str, OperationResult] = OrderedDict()

    def close(self) -> None:
        self._http.close()

    def _remember(self, task_id: str, result: OperationResult) -> None:
        """Keep a finished result (the caller holds the lock)."""
        self._finished[task_id] = result
        while len(self._finished) > _FINISHED_KEPT:
            self._finished.popitem(last=False)

    def __enter__(self) -> LegacyRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -----------------------------------------------------------------------------------------

    def run(self, request: OperationRequest) -> OperationResult:
        handle = self.start(request)
        while True:
            status = self.poll(handle)
            if status.result is not None:
                return status.result
            self._sleep(self._delay(handle))

    async def run_async(self, request: OperationRequest) -> OperationResult:
        # HTTP calls are short and go to a worker thread; the waits between polls are asyncio sleeps.
        handle = await asyncio.to_thread(self.start, request)
        while True:
            status = await asyncio.to_thread(self.poll, handle)
            if status.result is not None:
                return status.result
            await self._async_sleep(self._delay(handle))

    async def dry_run_async(self, request: OperationRequest) -> OperationResult:
        """Plan without executing: the service resolves, validates and returns its plan, mutating nothing.

        A dry run has its own clientRequestId, so the real run of the same operation is never deduplicated into it.
        """
        return await self.run_async(replace(request, context={**request.context, "dryRun": True}))

    def start(self, request: OperationRequest) -> str:
        """Submit; return `legacy:<task id>`. Raises RunnerUnavailable when no attempt got an answer."""
        submitted_at = time.time()
        dry_run = request.context.get("dryRun") is True
        crid = client_request_id(request.operation_id, dry_run)
        answer = self._submit(request, crid, submitted_at)
        if isinstance(answer, OperationResult):
            rejected_id = f"rejected-{crid[:16]}"
            with self._lock:
                self._remember(rejected_id, answer)
            return format_handle(Path.LEGACY, rejected_id)
        with self._lock:
            self._watches[answer] = _Watch(
                task_id=answer,
                operation_id=request.operation_id,
                expects_result=request.operation in RESULT_EXPECTED and not dry_run,
                started=self._clock(),
                submitted_at=submitted_at,
            )
        return format_handle(Path.LEGACY, answer)

    def poll(self, handle: str) -> OperationStatus:
        """One MonitorKatoTask execution. The consecutive-404 count is kept per handle, in this runner's memory."""
        try:
            path, task_id = parse_handle(handle)
        except ValueError as e:
            raise UnknownHandle(str(e)) from e
        if path is not Path.LEGACY:
            raise UnknownHandle(f"{handle!r} is not a legacy handle; ask the runner of its path")
        with self._lock:
            done = self._finished.get(task_id)
            watch = self._watches.get(task_id)
            if done is None and watch is None:
                watch = self._watches[task_id] = _Watch(task_id, "", None, self._clock(), time.time())
        if done is not None:
            return OperationStatus(handle, _state(done), result=done)
        assert watch is not None
        watch.next_delay = None
        verdict = self._check(watch)
        if verdict.result is not None:
            with self._lock:
                self._remember(task_id, verdict.result)
                self._watches.pop(task_id, None)
            return OperationStatus(handle, _state(verdict.result), step=verdict.step, result=verdict.result)
        return OperationStatus(handle, OperationState.RUNNING, step=verdict.step)

    # -- submit -----------------------------------------------------------------------------------------------

    def _submit(self, request: OperationRequest, crid: str, submitted_at: float) -> str | OperationResult:
        context = dict(request.context)
        if "credentials" not in context and (request.account or context.get("account")):
            context["credentials"] = request.account or context.get("account")
        if request.provider:
            context.setdefault("cloudProvider", request.provider)
        url = f"/{request.provider}/ops" if request.provider else "/ops"
        may_have_started = False
        last_error = ""
        for attempt in range(1, self._submit_attempts + 1):
            try:
                response = self._http.post(url, params={"clientRequestId": crid}, json=[{request.operation: context}])
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                last_error = f"{type(e).__name__}: {e}"  # the request never left: certainly not started
            except httpx.TransportError as e:
                may_have_started, last_error = True, f"{type(e).__name__}: {e}"
            else:
                body = _json(response)
                status = response.status_code
                if status == 200 and isinstance(body, dict) and body.get("id"):
                    return str(body["id"])
                if status in (400, 422):
                    return self._rejected(request, status, body, submitted_at)
                if 400 <= status < 500 and status != 429:  # a wrong URL or method: retrying cannot help
                    raise self._unavailable(request, f"HTTP {status}: {_message(body)}", may_have_started)
                may_have_started = may_have_started or status != 429
                last_error = f"HTTP {status}: {_message(body)}"
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

    def _rejected(self, request: OperationRequest, status: int, body: Any, submitted_at: float) -> OperationResult:
        errors: list[OperationError] = []
        prefix = f"[0].{request.operation}"
        if isinstance(body, dict) and isinstance(body.get("fieldErrors"), list):
            for fe in body["fieldErrors"]:
                path = str(fe.get("path", ""))
                field = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else ("" if path == prefix else path)
                errors.append(
                    OperationError(ErrorKind.VALIDATION, str(fe.get("message", "")), str(fe.get("code", "")), field)
                )
        elif isinstance(body, dict) and body.get("errors"):
            errors = [OperationError(ErrorKind.VALIDATION, str(m), f"http_{status}") for m in body["errors"]]
        if not errors:
            errors = [OperationError(ErrorKind.VALIDATION, f"HTTP {status}: {_message(body)}", f"http_{status}")]
        return OperationResult(
            status=ResultStatus.FAILED,
            path=Path.LEGACY,
            operation_id=request.operation_id,
            errors=tuple(errors),
            timings=Timings.since(submitted_at),
        )

    # -- monitor ----------------------------------------------------------------------------------------------

    def _delay(self, handle: str) -> float:
        watch = self._watches.get(parse_handle(handle)[1])
        if watch is not None and watch.next_delay is not None:
            return max(self._poll_interval, watch.next_delay)
        return self._poll_interval

    def _check(self, watch: _Watch) -> _Verdict:
        if self._clock() - watch.started >= self._timeout:
            if watch.unreachable:
                return self._failed(
                    watch,
                    ErrorKind.INFRASTRUCTURE,
                    "service_unreachable",
                    f"the legacy service stayed unreachable until the timeout: {watch.unreachable}",
                )
            return self._failed(
                watch, ErrorKind.TIMEOUT, "timeout", f"task {watch.task_id} did not finish within {self._timeout:g}s"
            )
        response, error = self._read(f"/task/{watch.task_id}")
        if response is None or response.status_code in _REQUEUED_STATUSES:
            watch.unreachable = error or f"HTTP {response.status_code if response else '?'}"
            return _Verdict(step=f"legacy service unreachable: {watch.unreachable}")
        if response.status_code == 404:
            watch.not_found += 1
            if watch.not_found >= self._not_found_limit:
                return self._failed(
                    watch,
                    ErrorKind.INFRASTRUCTURE,
                    "task_not_found",
                    f"task {watch.task_id} not found {watch.not_found} times in a row: it was lost",
                )
            return _Verdict(step=f"task not found ({watch.not_found}/{self._not_found_limit})")
        task = _json(response)
        if response.status_code != 200 or not isinstance(task, dict) or not isinstance(task.get("status"), dict):
            return self._failed(
                watch,
                ErrorKind.INFRASTRUCTURE,
                f"http_{response.status_code}",
                f"reading task {watch.task_id} failed: HTTP {response.status_code}: {_message(task)}",
            )
        watch.not_found, watch.unreachable = 0, ""
        return self._interpret(watch, task)

    def _read(self, url: str) -> tuple[httpx.Response | None, str]:
        """GET with Orca's five quick attempts; (last response, "") on an answer, (5xx response or None, why)."""
        error = ""
        last: httpx.Response | None = None
        for attempt in range(self._read_attempts):
            if attempt:
                self._sleep(self._read_backoff)
            try:
                response = self._http.get(url)
            except httpx.TransportError as e:
                error, last = f"{type(e).__name__}: {e}", None
                continue
            if response.status_code < 500 and response.status_code != 429:
                return response, ""
            error, last = f"HTTP {response.status_code}", response
        return last, error

    def _interpret(self, watch: _Watch, task: dict[str, Any]) -> _Verdict:
        status = task["status"]
        results = [r for r in task.get("resultObjects") or () if isinstance(r, dict)]
        step = f"{status.get('phase', '')}: {status.get('status', '')}"
        if status.get("failed"):
            if status.get("retryable"):
                return self._resume(watch, step)
            return _Verdict(step, self._result(watch, task, results, _failure_errors(results, status)))
        if status.get("completed"):
            expects = watch.expects_result
            if expects is None:
                expects = any(
                    str(h.get("status", "")).removeprefix("Processing op: ") in _RESULT_EXPECTED_CLASSES
                    for h in task.get("history") or ()
                    if isinstance(h, dict)
                )
            if expects and not results:
                return _Verdict(step + " (waiting for result objects)")
            return _Verdict(step, self._result(watch, task, results, ()))
        return _Verdict(step)

    def _resume(self, watch: _Watch, step: str) -> _Verdict:
        try:
            response = self._http.post(f"/task/{watch.task_id}:resume")
        except httpx.TransportError:
            response = None  # swallowed, as Orca does: the next poll tries again
        if response is not None and response.status_code == 404:
            return self._failed(
                watch,
                ErrorKind.INFRASTRUCTURE,
                "resume_not_found",
                f"task {watch.task_id} failed retryably but cannot be resumed: {_message(_json(response))}",
            )
        watch.resumes += 1
        watch.next_delay = self._resume_backoff
        return _Verdict(f"{step} (resumed, retry {watch.resumes})")

    def _result(
        self, watch: _Watch, task: Mapping[str, Any], results: list[dict[str, Any]], errors: Sequence[OperationError]
    ) -> OperationResult:
        plans = [r.get("plan") for r in results if r.get("type") == _PLAN_TYPE and isinstance(r.get("plan"), dict)]
        return OperationResult(
            status=ResultStatus.FAILED if errors else ResultStatus.SUCCEEDED,
            path=Path.LEGACY,
            operation_id=watch.operation_id,
            outputs=outputs_from_results(results) if not errors else {},
            errors=tuple(errors),
            task_id=watch.task_id,
            plan=plans[-1] if plans else None,
            timings=Timings.since(watch.submitted_at),
        )

    def _failed(self, watch: _Watch, kind: ErrorKind, code: str, message: str) -> _Verdict:
        result = OperationResult(
            status=ResultStatus.FAILED,
            path=Path.LEGACY,
            operation_id=watch.operation_id,
            errors=(OperationError(kind, message, code),),
            task_id=watch.task_id,
            timings=Timings.since(watch.submitted_at),
        )
        return _Verdict(message, result)


@dataclass(frozen=True, slots=True)
class _Verdict:
    step: str
    result: OperationResult | None = None


def _state(result: OperationResult) -> OperationState:
    return OperationState.SUCCEEDED if result.succeeded else OperationState.FAILED


def _failure_errors(results: Sequence[Mapping[str, Any]], status: Mapping[str, Any]) -> tuple[OperationError, ...]:
    exception = next((r for r in results if r.get("type") == _EXCEPTION_TYPE), None)
    if exception is None:
        return (OperationError(ErrorKind.INFRASTRUCTURE, f"task failed: {status.get('status', '')}", "task_failed"),)
    details = exception.get("details") or [{}]
    attributes = (details[0] if isinstance(details[0], dict) else {}).get("additionalAttributes") or {}
    code = str(attributes.get("code") or attributes.get("exceptionClass") or "")
    rejected = attributes.get("category") == "rejection" or (
        bool(attributes.get("code")) and isinstance(error_from_json({"code": code}), CloudRejection)
    )
    kind = ErrorKind.BUSINESS if rejected else ErrorKind.INFRASTRUCTURE
    message = f"{exception.get('operation', '')}: {exception.get('message', '')}".strip(": ")
    return (OperationError(kind, message, code),)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return "" if body is None else str(body)[:200]
