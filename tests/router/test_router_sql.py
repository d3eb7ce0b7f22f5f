"""The router's SQL side on SQLite and the real PostgreSQL: schema = migration, ownership, buffered records."""

from __future__ import annotations

from collections.abc import Iterator
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
from router.ownership import SqlOwnership
from router.records import BufferedRecorder, OutcomeRecord, SqlRecordStore, cap_size, redact
from router.shadow import ShadowRecord
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
