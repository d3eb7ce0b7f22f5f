"""First-class fakes for testing code that uses the router, as httpx ships MockTransport.

`ScriptedRunner` is a path whose behaviour a test scripts: what a real run returns, what a dry run plans, whether
the path is reachable. It counts real executions and dry runs apart, so a test can prove that a shadow never
executed and that an operation ran on exactly one path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.contract import (
    DEFAULT_OPTIONS,
    OperationHandle,
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    RunOptions,
)
from router.errors import RunnerUnavailable, UnknownHandle

__all__ = ["ScriptedRunner", "succeed_with_plan"]

_DRY_RUN_SUFFIX = "-dry-run"


def succeed_with_plan(plan: Mapping[str, Any]) -> Callable[[OperationRequest, Path], OperationResult]:
    """A script that succeeds with `plan` (as executed, or as planned in a dry run)."""

    def script(request: OperationRequest, path: Path) -> OperationResult:
        return OperationResult(ResultStatus.SUCCEEDED, path, request.operation_id, plan=dict(plan))

    return script


@dataclass
class ScriptedRunner:
    """A PathRunner whose answers come from `script`; set `unavailable` to make it refuse work.

    Real runs are idempotent on the operation id, as both real paths are, and listed in `executed` (with the
    options each got in `executed_options`); dry runs (`RunOptions(dry_run=True)`) are listed in `dry_runs` and
    `dry_run_options`, run the script every time and never count as the operation having started.
    """

    path: Path
    script: Callable[[OperationRequest, Path], OperationResult]
    unavailable: RunnerUnavailable | None = None
    executed: list[OperationRequest] = field(default_factory=list)
    executed_options: list[RunOptions] = field(default_factory=list)
    dry_runs: list[OperationRequest] = field(default_factory=list)
    dry_run_options: list[RunOptions] = field(default_factory=list)
    closed: bool = False
    _results: dict[str, OperationResult] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _execute(self, request: OperationRequest, options: RunOptions) -> tuple[str, OperationResult]:
        if options.dry_run:
            with self._lock:
                self.dry_runs.append(request)
                self.dry_run_options.append(options)
            result = self.script(request, self.path)
            run_id = request.operation_id + _DRY_RUN_SUFFIX
            with self._lock:
                self._results[run_id] = result
            return run_id, result
        if self.unavailable is not None:
            raise self.unavailable
        with self._lock:
            previous = self._results.get(request.operation_id)
            if previous is not None:  # idempotent on the operation id, as both real paths are
                return request.operation_id, previous
            self.executed.append(request)
            self.executed_options.append(options)
        result = self.script(request, self.path)
        with self._lock:
            self._results[request.operation_id] = result
        return request.operation_id, result

    def run(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        return self._execute(request, options)[1]

    async def run_async(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationResult:
        return self._execute(request, options)[1]

    def start(self, request: OperationRequest, options: RunOptions = DEFAULT_OPTIONS) -> OperationHandle:
        return OperationHandle(self.path, self._execute(request, options)[0])

    def poll(self, handle: OperationHandle) -> OperationStatus:
        result = self._results.get(handle.run_id)
        if handle.path is not self.path or result is None:
            raise UnknownHandle(f"no operation behind {handle}")
        state = OperationState.SUCCEEDED if result.succeeded else OperationState.FAILED
        return OperationStatus(handle, state, result=result)

    def has_started(self, operation_id: str) -> bool:
        return operation_id in self._results

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> ScriptedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
