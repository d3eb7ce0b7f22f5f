"""Outcome and comparison records: redacted, size-capped rows, written off the caller's path, each exactly once.

`BufferedRecorder` takes records on a bounded in-memory queue and writes them from one background thread, in
batches gathered for up to `linger_s` after the first record; when the store is down it keeps them and retries,
and when the buffer is full it drops the newest and counts it.
A record is never worth an exception to the caller: the operation already happened.

`SqlRecordStore` writes each outcome and each comparison under a claim on the operation's ownership row, in the
same transaction as the row it inserts (router/claims.py): whichever process hands it the outcome first records
it, and the others' copies are skipped (counted as deduplicated). It also keeps a shadow's candidate half on that
row and pairs the two halves of a comparison when the second one arrives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from router import claims
from router.compare import IgnoreRule, Observation, compare
from router.contract import OperationRequest, OperationResult
from router.metrics import RouterMetrics
from router.ownership import ownership_of
from router.redaction import MAX_JSON_BYTES, cap_size, redact
from router.shadow import CandidateRecord, ShadowRecord
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["MAX_JSON_BYTES", "BufferedRecorder", "OutcomeRecord", "SqlRecordStore", "WriteReport", "cap_size", "redact"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One finished operation as the router saw it. `control` is the authoritative observation, kept with the
    operation's row for a shadow whose candidate was observed elsewhere; None when no shadow ran or this process
    compares the two in memory."""

    request: OperationRequest
    result: OperationResult
    stage: str
    duration_s: float
    fallback: bool = False
    control: Observation | None = None


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What one write did beyond inserting: copies skipped because another writer recorded them first (by kind),
    and the comparisons this writer paired from the halves kept on the rows."""

    skipped: Counter[str] = field(default_factory=Counter)
    paired: tuple[ShadowRecord, ...] = ()


def _dimensions(request: OperationRequest) -> dict[str, str]:
    return {k: v or "" for k, v in request.dimensions().items()}


class SqlRecordStore:
    """Writes records to the router's tables (created by `cloudops db upgrade`), a batch per transaction.

    `ignore_rules` are the ones the shadow executor compares with, for the comparisons paired here."""

    def __init__(self, engine: sa.Engine, ignore_rules: Callable[[], Sequence[IgnoreRule]] = tuple) -> None:
        self.engine = engine
        self._ignore_rules = ignore_rules

    def write(self, records: Sequence[OutcomeRecord | CandidateRecord | ShadowRecord]) -> WriteReport:
        """One transaction: claim and insert the outcomes, keep the shadows' halves, claim and insert the
        comparisons made in memory, pairing halves wherever a second one arrives (router/claims.py)."""
        skipped: Counter[str] = Counter()
        paired: list[ShadowRecord] = []
        now = datetime.now(UTC)
        outcomes = [r for r in records if isinstance(r, OutcomeRecord)]
        halves = [r for r in records if isinstance(r, CandidateRecord)]
        compared = [r for r in records if isinstance(r, ShadowRecord)]
        with self.engine.begin() as conn:
            if outcomes:
                winners = claims.claim_outcomes(conn, [r.request.operation_id for r in outcomes], now)
                rows = []
                for outcome in outcomes:
                    operation_id = outcome.request.operation_id
                    if operation_id not in winners:
                        skipped["outcome"] += 1
                        continue
                    winners.discard(operation_id)  # a second copy in the same batch is a duplicate too
                    rows.append(_outcome_row(outcome, now))
                    if outcome.control is not None and claims.keep_control(conn, operation_id, outcome.control):
                        paired += self._pair(conn, operation_id, now)
                if rows:
                    conn.execute(operation_outcomes.insert(), rows)
            for half in halves:
                if claims.keep_candidate(conn, half.request.operation_id, half.candidate, now):
                    paired += self._pair(conn, half.request.operation_id, now)
            if compared:
                winners = claims.claim_comparisons(conn, [r.request.operation_id for r in compared], now)
                rows = []
                for record in compared:
                    if record.request.operation_id not in winners:
                        skipped["comparison"] += 1
                        continue
                    winners.discard(record.request.operation_id)
                    rows.append(_comparison_row(record))
                if rows:
                    conn.execute(shadow_comparisons.insert(), rows)
        return WriteReport(skipped, tuple(paired))

    def _pair(self, conn: sa.Connection, operation_id: str, now: datetime) -> list[ShadowRecord]:
        claimed = claims.claim_pair(conn, operation_id, now)
        if claimed is None:
            return []
        row, control, candidate = claimed
        started = ownership_of(row).started
        request = started.request if started is not None else OperationRequest(operation_id, "", "", "", "", "", {})
        comparison = compare(request.operation, control, candidate, now=now, rules=self._ignore_rules())
        record = ShadowRecord(request, control, candidate, comparison, now)
        conn.execute(shadow_comparisons.insert(), [_comparison_row(record)])
        return [record]

    def write_outcome(self, record: OutcomeRecord) -> None:
        self.write([record])

    def write_comparison(self, record: ShadowRecord) -> None:
        self.write([record])


def _outcome_row(record: OutcomeRecord, now: datetime) -> dict[str, Any]:
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
        "finished_at": now,
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
        linger_s: float = 0.05,
    ) -> None:
        """`linger_s`: how long a first record waits for others to share its transaction. Without it a router
        whose operations trickle in writes one record per transaction, at several times the CPU per record, and
        that CPU is taken from the callers' threads (the interpreter lock) whenever they wait on the network."""
        self._store = store
        self._metrics = metrics
        self._queue: queue.Queue[OutcomeRecord | CandidateRecord | ShadowRecord] = queue.Queue(maxsize=capacity)
        self._retry_after_s = retry_after_s
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudops-records", daemon=True)
        self._thread.start()

    def record_outcome(self, record: OutcomeRecord) -> None:
        self._offer(record, "outcome")

    def record_comparison(self, record: ShadowRecord) -> None:
        self._offer(record, "comparison")

    def record_candidate(self, record: CandidateRecord) -> None:
        """A shadow's half of a comparison whose control may finish in another process."""
        self._offer(record, "candidate")

    def _offer(self, record: OutcomeRecord | CandidateRecord | ShadowRecord, kind: str) -> None:
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
            if self._linger_s > 0 and self._queue.qsize() < self._batch_size - 1:
                self._stopping.wait(self._linger_s)  # one wake-up per batch, not one per record
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

    def _write(self, batch: list[OutcomeRecord | CandidateRecord | ShadowRecord]) -> bool:
        try:
            report = self._store.write(batch)
        except sa.exc.SQLAlchemyError as exc:
            # The store is down: keep the batch (the queue bounds memory) and retry after a pause.
            self._metrics.internal_errors.labels("record_store").inc()
            log.warning("record store unavailable, will retry: %s", exc.__class__.__name__)
            return False
        except Exception:
            self._metrics.records_dropped.labels("unwritable").inc(len(batch))
            log.exception("dropping %d records that cannot be written", len(batch))
            return True
        for kind, count in report.skipped.items():
            self._metrics.records_deduplicated.labels(kind).inc(count)
        for paired in report.paired:
            self._metrics.comparisons.labels(paired.request.operation, paired.comparison.outcome.value).inc()
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
