"""The router's SQL side on SQLite and the real PostgreSQL: schema = migration, ownership, buffered records."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path as FsPath

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from infra import Process, free_port

import migrations
from router.compare import Comparison, ComparisonOutcome, FieldDiff, Observation
from router.contract import OperationRequest, OperationResult, Path, ResultStatus, RouteDecision
from router.errors import OwnershipUnavailable
from router.metrics import RouterMetrics
from router.ownership import SqlOwnership, StartedOperation
from router.records import BufferedRecorder, OutcomeRecord, SqlRecordStore, WriteReport, cap_size, redact
from router.shadow import CandidateRecord, ShadowRecord
from router.tables import metadata, operation_outcomes, shadow_comparisons


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: FsPath) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'router.db'}"
    else:
        server: Process = request.getfixturevalue("postgres_server")
        url = server.extra["url"]
        migrations.downgrade(url, "base")
    migrations.upgrade(url)
    eng = sa.create_engine(url)
    yield eng
    eng.dispose()


def _request(op_id: str = "op-1") -> OperationRequest:
    context = {"credentials": "prod", "password": "hunter2"}
    return OperationRequest(op_id, "resizeServerGroup", "resize", "prod", "myapp", "aws", context)


def test_the_migration_creates_exactly_the_tables_the_code_declares(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    ours = {t.name for t in metadata.sorted_tables}
    relevant = [d for d in diffs if any(name in repr(d) for name in ours)]
    assert relevant == []


def test_ownership_first_claim_wins_and_survives_a_new_connection(engine: sa.Engine) -> None:
    owners = SqlOwnership(engine)
    assert owners.claim("op-1", Path.DURABLE, "stage complete").path is Path.DURABLE
    assert owners.claim("op-1", Path.LEGACY, "flags changed").path is Path.DURABLE
    restarted = SqlOwnership(sa.create_engine(engine.url))
    found = restarted.owner("op-1")
    assert found is not None and found.path is Path.DURABLE and found.reason == "stage complete"
    assert restarted.reassign("op-1", Path.LEGACY, Path.DURABLE, "wrong from") is False
    assert restarted.reassign("op-1", Path.DURABLE, Path.LEGACY, "fell back") is True
    assert owners.owner("op-1").path is Path.LEGACY  # type: ignore[union-attr]
    restarted.engine.dispose()


def test_a_claim_says_whether_it_made_the_owner_and_a_losing_claim_changes_nothing(engine: sa.Engine) -> None:
    owners = SqlOwnership(engine)
    decision = RouteDecision("complete", Path.DURABLE, "stage complete")
    started = StartedOperation(replace(_request(), context={}), decision, datetime.now(UTC))
    first = owners.claim("op-1", Path.DURABLE, "stage complete", started)
    assert first.won and first.path is Path.DURABLE and first.owner.started == started
    again = owners.claim("op-1", Path.LEGACY, "flags changed", replace(started, shadow=Path.LEGACY))
    assert not again.won and again.path is Path.DURABLE
    assert again.owner.reason == "stage complete" and again.owner.started == started  # the first claim's row


def test_concurrent_claims_of_one_operation_make_exactly_one_owner(engine: sa.Engine) -> None:
    owners = SqlOwnership(engine)
    paths = [Path.DURABLE, Path.LEGACY] * 4
    with ThreadPoolExecutor(len(paths)) as pool:
        claims = list(pool.map(lambda path: owners.claim("op-race", path, f"claimed for {path.value}"), paths))
    winners = [c for c in claims if c.won]
    assert len(winners) == 1
    assert {c.path for c in claims} == {winners[0].path}  # every loser was told the winner's path
    found = owners.owner("op-race")
    assert found is not None and found.path is winners[0].path


def test_a_first_claim_is_one_statement_on_the_callers_connection(engine: sa.Engine) -> None:
    """The claim is on every operation's path: one INSERT .. ON CONFLICT DO NOTHING, no read before or after; the
    handle kept after a start is one UPDATE."""
    owners = SqlOwnership(engine)
    owners.claim("op-warm", Path.DURABLE, "warm the pool")
    statements: list[str] = []

    def listener(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        assert owners.claim("op-1", Path.DURABLE, "stage complete").won
        assert len(statements) == 1 and "ON CONFLICT" in statements[0].upper()
        assert not owners.claim("op-1", Path.LEGACY, "flags changed").won
        assert len(statements) == 3 and statements[2].lstrip().upper().startswith("SELECT")  # the loser reads it
        owners.note_handle("op-1", "durable:cloudop-op-1")  # after a start, also on the caller's path
        assert len(statements) == 4 and statements[3].lstrip().upper().startswith("UPDATE")
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    found = SqlOwnership(engine).by_handle("durable:cloudop-op-1")
    assert found is not None and found.operation_id == "op-1" and found.path is Path.DURABLE


def _outcome() -> OutcomeRecord:
    decision = RouteDecision("shadow", Path.LEGACY, "stage shadow", "prop-1", 2)
    result = OperationResult(ResultStatus.SUCCEEDED, Path.LEGACY, "op-1", decision=decision, task_id="t1")
    return OutcomeRecord(_request(), result, "shadow", 1.5)


def _comparison() -> ShadowRecord:
    control = Observation(Path.LEGACY, ResultStatus.SUCCEEDED, plan={"mutations": [], "token": "abc"})
    candidate = Observation(Path.DURABLE, ResultStatus.SUCCEEDED, plan={"mutations": [1]})
    diff = FieldDiff("plan.mutations[0]", None, 1)
    comparison = Comparison(ComparisonOutcome.MISMATCH, (diff,))
    return ShadowRecord(_request(), control, candidate, comparison, datetime.now(UTC))


def test_records_are_written_redacted_in_the_background(engine: sa.Engine) -> None:
    recorder = BufferedRecorder(SqlRecordStore(engine), RouterMetrics())
    try:
        recorder.record_outcome(_outcome())
        recorder.record_comparison(_comparison())
        assert recorder.flush(10)
    finally:
        recorder.close()
    with engine.connect() as conn:
        outcome = conn.execute(sa.select(operation_outcomes)).one()
        comparison = conn.execute(sa.select(shadow_comparisons)).one()
    assert (outcome.path, outcome.stage, outcome.status, outcome.task_id) == ("legacy", "shadow", "succeeded", "t1")
    assert outcome.decision["propertyId"] == "prop-1"
    assert comparison.outcome == "mismatch" and comparison.diffs[0]["path"] == "plan.mutations[0]"
    assert comparison.control["plan"]["token"] == "[redacted]"


class CountingStore(SqlRecordStore):
    """The real store, counting its transactions (one per `write`)."""

    writes: list[int]

    def write(self, records: Sequence[OutcomeRecord | CandidateRecord | ShadowRecord]) -> WriteReport:
        self.writes.append(len(records))
        return super().write(records)


def test_records_that_trickle_in_share_a_transaction_within_the_linger(engine: sa.Engine) -> None:
    """A slow caller's records are batched (the writer's CPU per record falls with the batch), and all are written."""
    store = CountingStore(engine)
    store.writes = []
    recorder = BufferedRecorder(store, RouterMetrics(), linger_s=1.0)
    try:
        for i in range(10):
            recorder.record_outcome(replace(_outcome(), request=_request(f"op-{i}")))
            time.sleep(0.005)
        assert recorder.flush(10)
    finally:
        recorder.close()
    assert sum(store.writes) == 10 and len(store.writes) <= 2, store.writes
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(operation_outcomes)).scalar() == 10


def test_a_store_that_is_down_buffers_records_and_writes_them_when_it_returns(tmp_path: FsPath) -> None:
    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    store = SqlRecordStore(down)
    metrics = RouterMetrics()
    recorder = BufferedRecorder(store, metrics, retry_after_s=0.05)
    try:
        recorder.record_outcome(_outcome())
        assert not recorder.flush(0.5)
        assert metrics.value("cloudops_router_internal_errors_total", {"where": "record_store"}) >= 1
        url = f"sqlite:///{tmp_path / 'back.db'}"
        migrations.upgrade(url)
        store.engine = sa.create_engine(url)
        assert recorder.flush(10)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(operation_outcomes)).scalar() == 1
    finally:
        recorder.close()


def test_a_full_buffer_drops_and_counts_never_raises() -> None:
    down = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    metrics = RouterMetrics()
    recorder = BufferedRecorder(SqlRecordStore(down), metrics, capacity=1, retry_after_s=5)
    try:
        for _ in range(5):
            recorder.record_outcome(_outcome())
        assert metrics.value("cloudops_router_records_dropped_total", {"kind": "outcome"}) >= 3
    finally:
        recorder.close()


def test_redaction_and_size_cap() -> None:
    assert redact({"a": {"apiKey": "k", "userData": "x", "credentials": "prod"}}) == {
        "a": {"apiKey": "[redacted]", "userData": "[redacted]", "credentials": "prod"}
    }
    capped = cap_size({"blob": "x" * 50_000})
    assert capped["truncated"] is True and capped["bytes"] > 50_000


def test_an_unreachable_ownership_store_raises_its_own_error(tmp_path: FsPath) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'owners.db'}")
    down = SqlOwnership(engine)
    for call in (
        lambda: down.owner("op-1"),
        lambda: down.claim("op-1", Path.DURABLE, "stage complete"),
        lambda: down.reassign("op-1", Path.DURABLE, Path.LEGACY, "fallback"),
    ):
        with pytest.raises(OwnershipUnavailable) as raised:
            call()
        assert raised.value.operation_id == "op-1" and isinstance(raised.value.__cause__, sa.exc.SQLAlchemyError)
    engine.dispose()
