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
    OperationRequest,
    OperationResult,
    OperationState,
    OperationStatus,
    Path,
    ResultStatus,
    format_handle,
    parse_handle,
)
from router.errors import RunnerUnavailable, UnknownHandle

__all__ = ["ScriptedRunner", "succeed_with_plan"]


def succeed_with_plan(plan: Mapping[str, Any]) -> Callable[[OperationRequest, Path], OperationResult]:
    """A script that succeeds with `plan` (as executed, or as planned in a dry run)."""

    def script(request: OperationRequest, path: Path) -> OperationResult:
        return OperationResult(ResultStatus.SUCCEEDED, path, request.operation_id, plan=dict(plan))

    return script


@dataclass
class ScriptedRunner:
    """A PathRunner whose answers come from `script`; set `unavailable` to make it refuse work."""

    path: Path
    script: Callable[[OperationRequest, Path], OperationResult]
    unavailable: RunnerUnavailable | None = None
    executed: list[OperationRequest] = field(default_factory=list)
    dry_runs: list[OperationRequest] = field(default_factory=list)
    _results: dict[str, OperationResult] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _execute(self, request: OperationRequest) -> OperationResult:
        if self.unavailable is not None:
            raise self.unavailable
        with self._lock:
            previous = self._results.get(request.operation_id)
            if previous is not None:  # idempotent on the operation id, as both real paths are
                return previous
            self.executed.append(request)
        result = self.script(request, self.path)
        with self._lock:
            self._results[request.operation_id] = result
        return result

    def run(self, request: OperationRequest) -> OperationResult:
        return self._execute(request)

    async def run_async(self, request: OperationRequest) -> OperationResult:
        return self._execute(request)

    def start(self, request: OperationRequest) -> str:
        self._execute(request)
        return format_handle(self.path, request.operation_id)

    def poll(self, handle: str) -> OperationStatus:
        path, run_id = parse_handle(handle)
        result = self._results.get(run_id)
        if path is not self.path or result is None:
            raise UnknownHandle(f"no operation behind {handle}")
        state = OperationState.SUCCEEDED if result.succeeded else OperationState.FAILED
        return OperationStatus(handle, state, result=result)

    async def dry_run_async(self, request: OperationRequest) -> OperationResult:
        with self._lock:
            self.dry_runs.append(request)
        return self.script(request, self.path)

    def has_started(self, operation_id: str) -> bool:
        return operation_id in self._results
