"""Outcome and comparison records: redacted, size-capped rows, written off the caller's path.

`BufferedRecorder` takes records on a bounded in-memory queue and writes them from one background thread; when
the store is down it keeps them and retries, and when the buffer is full it drops the newest and counts it.
A record is never worth an exception to the caller: the operation already happened.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from router.contract import OperationRequest, OperationResult
from router.metrics import RouterMetrics
from router.shadow import ShadowRecord
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["BufferedRecorder", "OutcomeRecord", "SqlRecordStore", "cap_size", "redact"]

log = logging.getLogger(__name__)

_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|user[_-]?data)"
)
MAX_JSON_BYTES = 16 * 1024


def redact(value: Any) -> Any:
    """The value with every field whose name looks secret replaced by "[redacted]", recursively."""
    if isinstance(value, Mapping):
        return {k: "[redacted]" if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def cap_size(value: Any, limit: int = MAX_JSON_BYTES) -> Any:
    """The value itself when its JSON fits in `limit` bytes, else a marker with a preview."""
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text.encode()) <= limit:
        return value
    return {"truncated": True, "bytes": len(text.encode()), "preview": text[: limit // 8]}


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One finished operation as the router saw it."""

    request: OperationRequest
    result: OperationResult
    stage: str
    duration_s: float
    fallback: bool = False


def _dimensions(request: OperationRequest) -> dict[str, str]:
    return {k: v or "" for k, v in request.dimensions().items()}


class SqlRecordStore:
    """Writes records to the router's tables (created by `cloudops db upgrade`), a batch per transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def write(self, records: Sequence[OutcomeRecord | ShadowRecord]) -> None:
        outcomes = [_outcome_row(r) for r in records if isinstance(r, OutcomeRecord)]
        comparisons = [_comparison_row(r) for r in records if isinstance(r, ShadowRecord)]
        with self.engine.begin() as conn:
            if outcomes:
                conn.execute(operation_outcomes.insert(), outcomes)
            if comparisons:
                conn.execute(shadow_comparisons.insert(), comparisons)

    def write_outcome(self, record: OutcomeRecord) -> None:
        self.write([record])

    def write_comparison(self, record: ShadowRecord) -> None:
        self.write([record])


def _outcome_row(record: OutcomeRecord) -> dict[str, Any]:
    result = record.result
    return {
        "operation_id": record.request.operation_id,
        **_dimensions(record.request),
        "path": result.path.value,
        "stage": record.stage,
        "status": result.status.value,
        "error_kind": result.errors[0].kind.value if result.errors else None,
        "errors": cap_size(redact([e.to_json() for e in result.errors])),
        "decision": result.decision.to_json() if result.decision else {},
        "task_id": result.task_id,
        "workflow_id": result.workflow_id,
        "fallback": record.fallback,
        "duration_s": record.duration_s,
        "finished_at": datetime.now(UTC),
    }


def _comparison_row(record: ShadowRecord) -> dict[str, Any]:
    return {
        "operation_id": record.request.operation_id,
        **_dimensions(record.request),
        "control_path": record.control.path.value,
        "candidate_path": record.candidate.path.value,
        "outcome": record.comparison.outcome.value,
        "diffs": cap_size(redact([d.to_json() for d in record.comparison.diffs])),
        "control": cap_size(redact(record.control.to_json())),
        "candidate": cap_size(redact(record.candidate.to_json())),
        "control_duration_s": record.control.duration_s,
        "candidate_duration_s": record.candidate.duration_s,
        "compared_at": record.compared_at,
    }


class BufferedRecorder:
    """Queues records and writes them in the background, in batches; never raises into the caller."""

    def __init__(
        self,
        store: SqlRecordStore,
        metrics: RouterMetrics,
        *,
        capacity: int = 10_000,
        retry_after_s: float = 1.0,
        batch_size: int = 200,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._queue: queue.Queue[OutcomeRecord | ShadowRecord] = queue.Queue(maxsize=capacity)
        self._retry_after_s = retry_after_s
        self._batch_size = batch_size
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudops-records", daemon=True)
        self._thread.start()

    def record_outcome(self, record: OutcomeRecord) -> None:
        self._offer(record, "outcome")

    def record_comparison(self, record: ShadowRecord) -> None:
        self._offer(record, "comparison")

    def _offer(self, record: OutcomeRecord | ShadowRecord, kind: str) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._metrics.records_dropped.labels(kind).inc()

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = [self._queue.get(timeout=0.1)]
            except queue.Empty:
                continue
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            while not self._write(batch):
                if self._stopping.wait(self._retry_after_s):
                    return
            for _ in batch:
                self._queue.task_done()

    def _write(self, batch: list[OutcomeRecord | ShadowRecord]) -> bool:
        try:
            self._store.write(batch)
            return True
        except sa.exc.SQLAlchemyError as exc:
            # The store is down: keep the batch (the queue bounds memory) and retry after a pause.
            self._metrics.internal_errors.labels("record_store").inc()
            log.warning("record store unavailable, will retry: %s", exc.__class__.__name__)
            return False
        except Exception:
            self._metrics.records_dropped.labels("unwritable").inc(len(batch))
            log.exception("dropping %d records that cannot be written", len(batch))
            return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued has been written (or dropped as unwritable); False on timeout."""
        deadline = time.monotonic() + timeout_s
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                done.wait(remaining)
        return True

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
