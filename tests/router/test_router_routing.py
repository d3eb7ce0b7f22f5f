"""RoutingRunner's logic over scripted paths: stages, ownership, fallback, shadows, records.

The paths here are `router.testing.ScriptedRunner` fakes: this file tests the router's own decisions, which do
not depend on how a real path behaves. The real services are exercised in test_router_e2e.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from flags import RETRY_WINDOW_KEY, FlagTestData
from router.compare import ComparisonOutcome
from router.contract import (
    ErrorKind,
    OperationHandle,
    OperationRequest,
    OperationState,
    Path,
    ResultStatus,
    RouteDecision,
    RunOptions,
)
from router.errors import OwnershipUnavailable, RunnerUnavailable
from router.metrics import RouterMetrics
from router.ownership import Claim, InMemoryOwnership, Ownership, OwnershipStore, StartedOperation
from router.records import OutcomeRecord
from router.routing import FallbackPolicy, RoutingRunner
from router.shadow import ShadowExecutor, ShadowRecord, ShadowSettings
from router.testing import ScriptedRunner, succeed_with_plan

PLAN = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}


class ListSink:
    def __init__(self) -> None:
        self.outcomes: list[OutcomeRecord] = []
        self.comparisons: list[ShadowRecord] = []

    def record_outcome(self, record: OutcomeRecord) -> None:
        self.outcomes.append(record)

    def record_comparison(self, record: ShadowRecord) -> None:
        self.comparisons.append(record)


@dataclass
class Harness:
    router: RoutingRunner
    legacy: ScriptedRunner
    durable: ScriptedRunner
    flags: FlagTestData
    sink: ListSink
    shadows: ShadowExecutor


def _build(fallback: FallbackPolicy = FallbackPolicy.LEGACY, owners: OwnershipStore | None = None) -> Harness:
    legacy = ScriptedRunner(Path.LEGACY, succeed_with_plan(PLAN))
    durable = ScriptedRunner(Path.DURABLE, succeed_with_plan(PLAN))
    flags, sink, metrics = FlagTestData(), ListSink(), RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=sink.record_comparison, metrics=metrics)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags.client(),
        owners=owners or InMemoryOwnership(),
        records=sink,
        shadows=shadows,
        metrics=metrics,
        fallback=fallback,
    )
    return Harness(router, legacy, durable, flags, sink, shadows)


@pytest.fixture
def h() -> Iterator[Harness]:
    harness = _build()
    yield harness
    harness.shadows.close()


def _request(op_id: str = "op-1") -> OperationRequest:
    return OperationRequest(op_id, "resizeServerGroup", "resizeServerGroup", "prod", "myapp", "aws", {"x": 1})


def test_legacy_stage_runs_legacy_only(h: Harness) -> None:
    result = h.router.run(_request())
    assert result.path is Path.LEGACY and result.succeeded
    assert (len(h.legacy.executed), len(h.durable.executed), len(h.durable.dry_runs)) == (1, 0, 0)
    assert result.decision is not None and result.decision.property_id is None  # no property: the default


def test_shadow_stage_executes_legacy_and_plans_durable_and_records_a_match(h: Harness) -> None:
    h.flags.stage("shadow")
    result = h.router.run(_request())
    assert h.shadows.drain(5)
    assert result.path is Path.LEGACY
    assert (len(h.legacy.executed), len(h.durable.executed), len(h.durable.dry_runs)) == (1, 0, 1)
    (comparison,) = h.sink.comparisons
    assert comparison.comparison.outcome is ComparisonOutcome.MATCH


def test_canary_inside_the_rollout_executes_durable_and_shadows_legacy(h: Harness) -> None:
    h.flags.stage("canary", percent=100)
    result = h.router.run(_request())
    assert h.shadows.drain(5)
    assert result.path is Path.DURABLE
    assert (len(h.durable.executed), len(h.legacy.executed), len(h.legacy.dry_runs)) == (1, 0, 1)


def test_the_decision_travels_in_the_run_options_and_the_result(h: Harness) -> None:
    h.flags.stage("complete")
    result = h.router.run(_request())
    assert h.durable.executed[0].context == {"x": 1}  # the context goes as the caller gave it
    sent = h.durable.executed_options[0].decision
    assert sent is not None and sent.stage == "complete"
    assert result.decision is not None and result.decision.stage == "complete"
    assert result.decision.property_id is not None
    assert sent.property_id == result.decision.property_id


def test_a_flag_flipped_between_attempts_never_moves_a_started_operation(h: Harness) -> None:
    first = h.router.run(_request("op-flip"))
    h.flags.stage("complete")
    second = h.router.run(_request("op-flip"))
    assert first.path is second.path is Path.LEGACY
    assert len(h.durable.executed) == 0 and len(h.legacy.executed) == 1
    assert second.decision is not None and "owned by the legacy path" in second.decision.reason


def test_durable_certainly_not_started_falls_back_to_legacy_and_is_counted(h: Harness) -> None:
    h.flags.stage("complete")
    h.durable.unavailable = RunnerUnavailable("connection refused", path="durable", may_have_started=False)
    result = h.router.run(_request())
    assert result.path is Path.LEGACY and result.succeeded
    assert h.router.metrics.value("cloudops_router_fallbacks_total", {"operation": "resizeServerGroup"}) == 1
    assert h.sink.outcomes[0].fallback is True
    # once fallen back, the operation belongs to legacy: durable is never tried for it again
    h.durable.unavailable = None
    assert h.router.run(_request()).path is Path.LEGACY
    assert h.durable.executed == []


def test_durable_that_may_have_started_never_falls_back(h: Harness) -> None:
    h.flags.stage("complete")
    h.durable.unavailable = RunnerUnavailable("deadline exceeded", path="durable", may_have_started=True)
    result = h.router.run(_request())
    assert result.status is ResultStatus.FAILED and result.path is Path.DURABLE
    assert result.errors[0].kind is ErrorKind.INFRASTRUCTURE
    assert h.legacy.executed == []


def test_fallback_can_be_turned_off() -> None:
    h = _build(FallbackPolicy.FAIL)
    try:
        h.flags.stage("complete")
        h.durable.unavailable = RunnerUnavailable("refused", path="durable", may_have_started=False)
        result = h.router.run(_request())
        assert result.status is ResultStatus.FAILED and h.legacy.executed == []
    finally:
        h.shadows.close()


def test_the_kill_switch_forces_legacy_without_shadows(h: Harness) -> None:
    h.flags.stage("durable").force_legacy()
    result = h.router.run(_request())
    assert result.path is Path.LEGACY and h.durable.dry_runs == [] and h.durable.executed == []


def test_start_and_poll_finish_the_shadow_and_the_record(h: Harness) -> None:
    h.flags.stage("shadow")
    handle = h.router.start(_request("op-poll"))
    assert handle == OperationHandle(Path.LEGACY, "op-poll") and str(handle) == "legacy:op-poll"
    status = h.router.poll(handle)
    assert status.state is OperationState.SUCCEEDED
    assert status.result is not None and status.result.decision is not None
    assert h.shadows.drain(5)
    assert len(h.sink.outcomes) == 1 and len(h.sink.comparisons) == 1


async def test_run_async_routes_like_run(h: Harness) -> None:
    h.flags.stage("durable")
    result = await h.router.run_async(_request("op-async"))
    assert h.shadows.drain(5)
    assert result.path is Path.DURABLE and len(h.legacy.dry_runs) == 1


def test_a_failing_record_sink_never_reaches_the_caller(h: Harness) -> None:
    def explode(record: OutcomeRecord) -> None:
        raise RuntimeError("db down")

    h.sink.record_outcome = explode  # type: ignore[method-assign]
    assert h.router.run(_request()).succeeded
    assert h.router.metrics.value("cloudops_router_internal_errors_total", {"where": "record_outcome"}) == 1


def test_a_retry_never_falls_back_once_an_earlier_attempt_may_have_started_the_workflow(h: Harness) -> None:
    h.flags.stage("complete")
    h.durable.unavailable = RunnerUnavailable("deadline exceeded", path="durable", may_have_started=True)
    assert h.router.run(_request("op-retry")).status is ResultStatus.FAILED
    # The retry's own start is certainly refused, but the first attempt's workflow may exist: no fallback.
    h.durable.unavailable = RunnerUnavailable("connection refused", path="durable", may_have_started=False)
    second = h.router.run(_request("op-retry"))
    assert second.status is ResultStatus.FAILED and second.path is Path.DURABLE
    assert h.legacy.executed == []


class DownOwnership:
    """An ownership store whose database is down (SqlOwnership raises the same: tests/router/test_router_sql.py)."""

    def owner(self, operation_id: str) -> None:
        raise OwnershipUnavailable("select: connection refused", operation_id=operation_id)

    def claim(self, operation_id: str, path: Path, reason: str, started: StartedOperation | None = None) -> Claim:
        raise OwnershipUnavailable("insert: connection refused", operation_id=operation_id)

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        raise OwnershipUnavailable("update: connection refused", operation_id=operation_id)

    def note_handle(self, operation_id: str, handle: str) -> None:
        raise OwnershipUnavailable("update: connection refused", operation_id=operation_id)

    def by_handle(self, handle: str) -> None:
        raise OwnershipUnavailable("select: connection refused", operation_id=handle)

    def unfinished(self, claimed_before: object, after: str = "", limit: int = 100) -> list[object]:
        raise OwnershipUnavailable("select: connection refused")


def test_with_the_ownership_store_down_the_durable_path_says_who_owns_an_operation() -> None:
    h = _build(owners=DownOwnership())  # type: ignore[arg-type]
    h.flags.stage("complete")
    fresh = h.router.run(_request("never-started"))
    assert fresh.path is Path.LEGACY
    assert fresh.decision is not None and "no workflow exists" in fresh.decision.reason
    h.durable.run(_request("already-durable"))
    known = h.router.run(_request("already-durable"))
    assert known.path is Path.DURABLE and "has this operation's workflow" in known.decision.reason  # type: ignore[union-attr]
    labels = {"stage": "complete", "path": "legacy", "basis": "ownership_unavailable"}
    assert h.router.metrics.value("cloudops_router_decisions_total", labels) == 1
    assert len(h.sink.outcomes) == 2  # no row to claim: recorded by the starter all the same
    h.shadows.close()


def test_shadows_of_operations_never_polled_are_abandoned_on_close_and_on_a_repeated_start(h: Harness) -> None:
    h.flags.stage("shadow")
    handle = h.router.start(_request("op-left"))
    assert h.router.start(_request("op-left")) == handle  # the repeat's shadow is abandoned at once
    h.router.close()  # the first one's, which no poll will ever complete, on close
    assert h.shadows.drain(2)
    assert h.sink.comparisons == [] and len(h.durable.dry_runs) == 2


def test_a_dry_run_through_the_router_plans_on_its_path_and_claims_or_records_nothing(h: Harness) -> None:
    h.flags.stage("shadow")
    planned = h.router.run(_request("op-dry"), RunOptions(dry_run=True))
    assert planned.succeeded and planned.decision is not None and planned.path is Path.LEGACY
    assert h.legacy.executed == [] and len(h.legacy.dry_runs) == 1 and h.durable.dry_runs == []  # no shadow
    assert h.sink.outcomes == [] and h.router._owners.owner("op-dry") is None
    assert h.legacy.dry_run_options[0].decision == planned.decision


def test_the_router_makes_the_decision_and_a_caller_retry_window_wins_over_the_flags(h: Harness) -> None:
    with pytest.raises(ValueError, match="decision"):
        h.router.run(_request(), RunOptions(decision=RouteDecision("durable", Path.DURABLE, "mine")))
    h.flags.stage("complete").set(RETRY_WINDOW_KEY, 600)
    h.router.run(_request("op-flags"))
    h.router.run(_request("op-window"), RunOptions(retry_window_seconds=90))
    assert [o.retry_window_seconds for o in h.durable.executed_options] == [600, 90]


def test_decide_says_the_route_without_running_or_counting_a_decision(h: Harness) -> None:
    """The gateway asks `decide` for every list it judges, then runs the ones it takes: only the run counts."""
    h.flags.stage("durable")
    chosen = h.router.decide(_request("op-decided"))
    assert chosen.primary is Path.DURABLE and chosen.shadow is Path.LEGACY
    labels = {"stage": "durable", "path": "durable", "basis": "matched"}
    assert h.router.metrics.value("cloudops_router_decisions_total", labels) == 0
    assert h.durable.executed == [] and h.legacy.executed == []
    h.router.run(_request("op-decided"))
    assert h.router.metrics.value("cloudops_router_decisions_total", labels) == 1


class CountingOwnership(InMemoryOwnership):
    """The in-memory store, counting the calls the router makes on an operation's path (logic unchanged)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def owner(self, operation_id: str) -> Ownership | None:
        self.calls.append("owner")
        return super().owner(operation_id)

    def claim(self, operation_id: str, path: Path, reason: str, started: StartedOperation | None = None) -> Claim:
        self.calls.append("claim")
        return super().claim(operation_id, path, reason, started)


def test_an_operation_is_claimed_without_reading_its_owner_first_and_a_found_owner_still_wins() -> None:
    owners = CountingOwnership()
    h = _build(owners=owners)
    try:
        h.flags.stage("complete")
        assert h.router.run(_request("op-once")).path is Path.DURABLE
        assert owners.calls == ["claim"]  # one call to the store on the caller's path, not a read then a claim
        owners.claim("op-legacy", Path.LEGACY, "an earlier attempt, under stage legacy")
        owners.calls.clear()
        second = h.router.run(_request("op-legacy"))
        assert owners.calls == ["claim"] and second.path is Path.LEGACY and len(h.durable.executed) == 1
        assert second.decision is not None and "owned by the legacy path" in second.decision.reason
        labels = {"stage": "complete", "path": "legacy", "basis": "owned"}
        assert h.router.metrics.value("cloudops_router_decisions_total", labels) == 1
    finally:
        h.router.close()


def test_a_retry_owned_by_durable_never_falls_back_though_the_flags_still_say_durable() -> None:
    """A claim that finds an owner is a later attempt even when the owner is the path the flags give: rule 4."""
    owners = CountingOwnership()
    h = _build(owners=owners)
    try:
        h.flags.stage("complete")
        owners.claim("op-again", Path.DURABLE, "stage complete")
        h.durable.unavailable = RunnerUnavailable("connection refused", path="durable", may_have_started=False)
        result = h.router.run(_request("op-again"))
        assert result.status is ResultStatus.FAILED and result.path is Path.DURABLE and h.legacy.executed == []
        assert owners.owner("op-again").path is Path.DURABLE  # type: ignore[union-attr]
    finally:
        h.router.close()
