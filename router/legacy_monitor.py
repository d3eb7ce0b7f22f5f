"""The legacy path's monitor as a pure state machine: what Orca's MonitorKatoTask decides, with no IO in it.

`LegacyRunner` does the IO around it: it reads `GET /task/{id}` (Orca's five quick attempts) and hands the answer
to `judge`; when the verdict says so it posts `:resume` and hands that answer to `resumed`; before reading at all
it asks `expired`. Each function takes the watch (what Orca keeps in the stage context while it monitors one task)
and one observation, and returns a `Verdict`: the next watch, the step to report, and either nothing more (still
running), a resume to send, or the finished outcome.

The rules: a 404 counts towards `not_found_limit` consecutive ones (a successful read resets the count), then the
task is lost; no answer, or 429/502/503/504, keeps it running ("unreachable"); any other unexpected answer fails
it; a failed task fails the operation unless it is retryable, when it is resumed (a 404 to the resume fails it);
a completed task without result objects is still running for operations that expect results (Orca's guard
against Redis's write order); past `timeout_s` the operation times out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cloud.errors import CloudRejection, error_from_json
from clouddriver_wire.errors import error_message
from clouddriver_wire.results import exception_attributes, exception_of
from router.contract import ErrorKind, OperationError

__all__ = [
    "RESULT_EXPECTED",
    "Finished",
    "MonitorSettings",
    "TaskRead",
    "Verdict",
    "Watch",
    "expired",
    "judge",
    "message_of",
    "resumed",
]

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
_REQUEUED_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """Orca's numbers: one hour, 30 consecutive 404s, two minutes before the poll after a resume."""

    timeout_s: float = 3600.0
    not_found_limit: int = 30
    resume_backoff_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Watch:
    """What Orca keeps in the stage context while monitoring one task. `started` is on the monitor's clock."""

    task_id: str
    operation_id: str
    expects_result: bool | None  # None: unknown (a handle this runner did not start), judged from the history
    started: float
    submitted_at: float
    not_found: int = 0
    resumes: int = 0
    unreachable: str = ""
    next_delay: float | None = None  # set after a resume: the next poll waits at least this long


@dataclass(frozen=True, slots=True)
class TaskRead:
    """One read of `GET /task/{id}` after its quick retries: the status code (None: no answer) and the body."""

    status_code: int | None
    body: Any = None
    error: str = ""  # why the read failed, when it did (a transport error, or the last 5xx)


@dataclass(frozen=True, slots=True)
class Finished:
    """The operation's outcome: no errors means it succeeded with `results` (the task's result objects)."""

    errors: tuple[OperationError, ...]
    results: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The monitor's answer to one observation: the watch to keep, the step to report, and what happens next."""

    watch: Watch
    step: str
    finished: Finished | None = None
    resume: bool = False  # post `:resume` now and hand its answer to `resumed`


def expired(watch: Watch, now: float, settings: MonitorSettings) -> Verdict | None:
    """The timeout verdict once `settings.timeout_s` has passed since the watch started, else None (read on)."""
    if now - watch.started < settings.timeout_s:
        return None
    if watch.unreachable:
        why = f"the legacy service stayed unreachable until the timeout: {watch.unreachable}"
        return _failed(watch, ErrorKind.INFRASTRUCTURE, "service_unreachable", why)
    why = f"task {watch.task_id} did not finish within {settings.timeout_s:g}s"
    return _failed(watch, ErrorKind.TIMEOUT, "timeout", why)


def judge(watch: Watch, read: TaskRead, settings: MonitorSettings) -> Verdict:
    """What one read of the task means (MonitorKatoTask.execute)."""
    watch = replace(watch, next_delay=None)
    code = read.status_code
    if code is None or code in _REQUEUED_STATUSES:
        unreachable = read.error or f"HTTP {code if code is not None else '?'}"
        return Verdict(replace(watch, unreachable=unreachable), f"legacy service unreachable: {unreachable}")
    if code == 404:
        watch = replace(watch, not_found=watch.not_found + 1)
        if watch.not_found >= settings.not_found_limit:
            why = f"task {watch.task_id} not found {watch.not_found} times in a row: it was lost"
            return _failed(watch, ErrorKind.INFRASTRUCTURE, "task_not_found", why)
        return Verdict(watch, f"task not found ({watch.not_found}/{settings.not_found_limit})")
    task = read.body
    if code != 200 or not isinstance(task, dict) or not isinstance(task.get("status"), dict):
        why = f"reading task {watch.task_id} failed: HTTP {code}: {message_of(task)}"
        return _failed(watch, ErrorKind.INFRASTRUCTURE, f"http_{code}", why)
    return _interpret(replace(watch, not_found=0, unreachable=""), task)


def resumed(asked: Verdict, answer: TaskRead, settings: MonitorSettings) -> Verdict:
    """What the answer to the `POST /task/{id}:resume` that verdict `asked` for means: a 404 loses the task;
    anything else (no answer included: Orca swallows it and tries again on the next poll) counts as resumed, and
    the next poll waits `resume_backoff_s`."""
    watch = asked.watch
    if answer.status_code == 404:
        why = f"task {watch.task_id} failed retryably but cannot be resumed: {message_of(answer.body)}"
        return _failed(watch, ErrorKind.INFRASTRUCTURE, "resume_not_found", why)
    watch = replace(watch, resumes=watch.resumes + 1, next_delay=settings.resume_backoff_s)
    return Verdict(watch, f"{asked.step} (resumed, retry {watch.resumes})")


def _interpret(watch: Watch, task: Mapping[str, Any]) -> Verdict:
    status = task["status"]
    results = tuple(r for r in task.get("resultObjects") or () if isinstance(r, dict))
    step = f"{status.get('phase', '')}: {status.get('status', '')}"
    if status.get("failed"):
        if status.get("retryable"):
            return Verdict(watch, step, resume=True)
        return Verdict(watch, step, Finished(_failure_errors(results, status), results))
    if status.get("completed"):
        expects = watch.expects_result
        if expects is None:
            expects = any(
                str(h.get("status", "")).removeprefix("Processing op: ") in _RESULT_EXPECTED_CLASSES
                for h in task.get("history") or ()
                if isinstance(h, dict)
            )
        if expects and not results:
            return Verdict(watch, step + " (waiting for result objects)")
        return Verdict(watch, step, Finished((), results))
    return Verdict(watch, step)


def _failed(watch: Watch, kind: ErrorKind, code: str, message: str) -> Verdict:
    return Verdict(watch, message, Finished((OperationError(kind, message, code),)))


def _failure_errors(results: Sequence[Mapping[str, Any]], status: Mapping[str, Any]) -> tuple[OperationError, ...]:
    exception = exception_of(results)
    if exception is None:
        return (OperationError(ErrorKind.INFRASTRUCTURE, f"task failed: {status.get('status', '')}", "task_failed"),)
    attributes = exception_attributes(exception)
    code = str(attributes.get("code") or attributes.get("exceptionClass") or "")
    rejected = attributes.get("category") == "rejection" or (
        bool(attributes.get("code")) and isinstance(error_from_json({"code": code}), CloudRejection)
    )
    kind = ErrorKind.BUSINESS if rejected else ErrorKind.INFRASTRUCTURE
    message = f"{exception.get('operation', '')}: {exception.get('message', '')}".strip(": ")
    return (OperationError(kind, message, code),)


def message_of(body: Any) -> str:
    """The human part of an answer's body, for error messages: Spring's error message, else the body itself."""
    return error_message(body) or ("" if body is None else str(body)[:200])
