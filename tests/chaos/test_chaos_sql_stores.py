"""Chaos: the PostgreSQL behind the flags and the router's records goes down, then comes back.

- Flag store down: a FlagClient that had loaded keeps deciding from its last good snapshot; a client that starts
  during the outage (a router restarted meanwhile) has none, so every scope is `legacy`, counted, with the reason;
  when the database is back, both catch up.
- SQL store down under RoutingRunner: operations still run and return normally; ownership falls back as the
  router's docs say; outcome and comparison records wait in the BufferedRecorder's bounded queue (what does not
  fit is dropped and counted), never an exception to the caller; when the database is back the queue drains.

Our own PostgreSQL (not the shared fixture, which these tests stop), fast-shutdown with SIGINT and restarted on
its data directory and port. The paths are ScriptedRunner fakes: what is under test is the stores, not the paths.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from infra import Process, _postgres_user, start_postgres, start_process, wait_until

import migrations
from flags import STAGE_KEY, DecisionError, FlagClient, FlagTestData, SqlFlagStore
from router.contract import OperationRequest, Path, ResultStatus
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership, OwnershipStore, SqlOwnership
from router.records import BufferedRecorder, OutcomeRecord, SqlRecordStore
from router.routing import RecordSink, RoutingRunner
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings
from router.tables import operation_outcomes, shadow_comparisons
from router.testing import ScriptedRunner, succeed_with_plan

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PLAN = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}
DIMENSIONS = {
    "application": "api",
    "account": "prod",
    "operation": "resizeServerGroup",
    "stage_type": "resizeServerGroup",
    "provider": "aws",
}


class Postgres:
    """A PostgreSQL this module may stop and start again, on the same data directory and port."""

    def __init__(self) -> None:
        self.process: Process = start_postgres()
        self.url = self.process.extra["url"]

    def down(self) -> None:
        self.process.popen.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected at once
        self.process.popen.wait(timeout=30)

    def up(self) -> None:
        args = self.process.popen.args  # the argv start_postgres used: the same data directory and port
        assert isinstance(args, list)
        argv = [str(a) for a in args]
        user = _postgres_user()
        self.process = start_process(argv, self.process.port, name="postgres", timeout=30, user=user)
        self.process.extra["url"] = self.url
        engine = sa.create_engine(self.url)

        def accepting() -> bool:
            with engine.connect():
                return True

        try:
            wait_until(accepting, timeout=30, what="postgres accepting connections")
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    server = Postgres()
    migrations.upgrade(server.url)
    yield server
    server.process.stop()


def _request(i: int) -> OperationRequest:
    return OperationRequest(
        f"sql-chaos-{i}",
        "resizeServerGroup",
        "resizeServerGroup",
        "prod",
        "api",
        "aws",
        {"serverGroupName": "api-main-v001", "region": "us-east-1"},
    )


def _router(flags: FlagClient, owners: OwnershipStore, records: RecordSink, metrics: RouterMetrics) -> RoutingRunner:
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=records.record_comparison, metrics=metrics)
    return RoutingRunner(
        legacy=ScriptedRunner(Path.LEGACY, succeed_with_plan(PLAN)),
        durable=ScriptedRunner(Path.DURABLE, succeed_with_plan(PLAN)),
        flags=flags,
        owners=owners,
        records=records,
        shadows=shadows,
        metrics=metrics,
        resources=(shadows,),
    )


class _Sink:
    def record_outcome(self, record: OutcomeRecord) -> None:
        pass

    def record_comparison(self, record: ShadowRecord) -> None:
        pass


def test_flag_store_down_keeps_the_last_good_snapshot_and_a_cold_client_decides_legacy(pg: Postgres) -> None:
    store = SqlFlagStore(pg.url)
    store.set_property(STAGE_KEY, "durable", {"application": "api"}, actor="chaos", reason="store outage test")
    store.close()
    warm = FlagClient.from_url(pg.url, poll_interval=0.1)
    cold: FlagClient | None = None
    try:
        before = warm.decide(STAGE_KEY, DIMENSIONS)
        assert before.value == "durable" and not before.default_used

        pg.down()
        wait_until(lambda: warm.status().stale, timeout=10, what="the client noticing the outage")
        during = warm.decide(STAGE_KEY, DIMENSIONS)
        assert (during.value, during.property_id) == ("durable", before.property_id)  # the last good snapshot
        assert "unavailable" in (warm.status().last_error or "")

        cold = FlagClient.from_url(pg.url, poll_interval=0.1)  # e.g. a router restarted during the outage
        first = cold.decide(STAGE_KEY, DIMENSIONS)
        assert first.value == "legacy" and first.default_used and first.error is DecisionError.STORE_UNAVAILABLE
        assert cold.counters().get("refresh_error", 0) >= 1
        router = _router(cold, InMemoryOwnership(), _Sink(), RouterMetrics())
        try:
            routed = router.run(_request(0))
        finally:
            router.close()
        assert routed.path is Path.LEGACY and routed.status is ResultStatus.SUCCEEDED
        assert routed.decision is not None and routed.decision.stage == "legacy"
        assert (
            router.metrics.value(
                "cloudops_router_decisions_total", {"stage": "legacy", "path": "legacy", "basis": "default"}
            )
            == 1
        )

        pg.up()
        wait_until(lambda: cold.decide(STAGE_KEY, DIMENSIONS).value == "durable", timeout=15, what="cold catch-up")
        wait_until(lambda: not warm.status().stale, timeout=15, what="warm client fresh again")
    finally:
        warm.close()
        if cold is not None:
            cold.close()
        if pg.process.popen.poll() is not None:
            pg.up()


def test_sql_store_down_under_the_router_buffers_or_drops_records_and_never_raises(pg: Postgres) -> None:
    engine = sa.create_engine(pg.url, pool_pre_ping=True)
    metrics = RouterMetrics()
    recorder = BufferedRecorder(SqlRecordStore(engine), metrics, capacity=3, retry_after_s=0.1)
    router = _router(FlagTestData().stage("shadow").client(), SqlOwnership(engine), recorder, metrics)

    def rows() -> int:
        with engine.connect() as conn:
            outcomes = conn.execute(sa.select(sa.func.count()).select_from(operation_outcomes)).scalar_one()
            comparisons = conn.execute(sa.select(sa.func.count()).select_from(shadow_comparisons)).scalar_one()
        return int(outcomes) + int(comparisons)

    try:
        start = rows()
        for i in range(1, 3):
            assert router.run(_request(i)).status is ResultStatus.SUCCEEDED
        assert router._shadows.drain(10) and recorder.flush(10)
        assert rows() == start + 4  # an outcome and a comparison per operation

        pg.down()
        during = [router.run(_request(i)) for i in range(3, 8)]  # never an exception to the caller
        assert all(r.status is ResultStatus.SUCCEEDED and r.path is Path.LEGACY for r in during)
        assert router._shadows.drain(10)
        wait_until(
            lambda: metrics.value("cloudops_router_internal_errors_total", {"where": "record_store"}) >= 1,
            timeout=10,
            what="a failed record write",
        )
        assert metrics.value("cloudops_router_internal_errors_total", {"where": "ownership_store"}) >= 5
        dropped = sum(
            metrics.value("cloudops_router_records_dropped_total", {"kind": k}) for k in ("outcome", "comparison")
        )
        assert dropped >= 1 and recorder.backlog <= 3  # 10 records, 3 queued and 1 in the writer's hands

        pg.up()
        assert recorder.flush(20)
        assert rows() == start + 4 + 10 - dropped  # everything kept was written once the database came back
    finally:
        router.close()
        recorder.close()
        engine.dispose()
        if pg.process.popen.poll() is not None:
            pg.up()
