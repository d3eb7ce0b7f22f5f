"""OpenFeature both ways (issue 19, item 1): `CloudopsProvider` serves our properties to any OpenFeature client, and
`OpenFeatureFlagSource` routes from any OpenFeature provider, with our sticky buckets and fail-safe rules.

Tested with the SDK's own InMemoryProvider, with our provider on both ends, through a RoutingRunner, and with a
change pushed over a real Redis. Each test binds its provider to a domain of its own, so the SDK's global registry
is never shared between tests.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import pytest
from infra import Process, wait_until
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

import migrations
from flags import (
    SHADOW_SAMPLE_KEY,
    STAGE_KEY,
    CloudopsProvider,
    DecisionError,
    FlagClient,
    FlagTestData,
    MigrationStage,
    OpenFeatureFlagSource,
    ReasonKind,
    RedisChangeBus,
    SqlFlagStore,
)
from flags.openfeature_context import context_for, request_of
from router.contract import OperationRequest, Path
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.testing import ScriptedRunner, succeed_with_plan

BILLING = {"application": "billing", "account": "prod", "operation": "resizeServerGroup", "provider": "aws"}


def _domain() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def _bound(provider: Any) -> OpenFeatureClient:
    domain = _domain()
    api.set_provider_and_wait(provider, domain=domain)
    return api.get_client(domain)


@pytest.fixture
def data() -> FlagTestData:
    data = FlagTestData()
    data.stage("canary", percent=25, application="billing")
    data.stage("shadow", account="test")
    data.set(SHADOW_SAMPLE_KEY, 40, application="billing")
    return data


# -- our provider, asked by an OpenFeature client -------------------------------------------------------------------


def test_the_provider_answers_as_the_flag_client_decides(data: FlagTestData) -> None:
    flags = data.client()
    client = _bound(CloudopsProvider(flags))
    inside = 0
    for i in range(400):
        attrs = {"operation_id": f"op-{i}"}
        details = client.get_string_details(STAGE_KEY, "legacy", context_for(BILLING, attrs))
        decision = flags.decide(STAGE_KEY, BILLING, attrs)
        assert (details.value, details.variant, details.reason) == ("canary", "canary", Reason.SPLIT)
        meta = details.flag_metadata
        assert meta["propertyId"] == decision.property_id and meta["propertyVersion"] == decision.property_version
        assert (meta["percent"], meta["bucket"], meta["inRollout"]) == (25.0, decision.bucket, decision.in_rollout)
        inside += bool(meta["inRollout"])
    assert 60 <= inside <= 140  # about 25% of 400, sticky per operation id


def test_reasons_defaults_and_errors(data: FlagTestData) -> None:
    client = _bound(CloudopsProvider(data.client()))
    test = context_for({**BILLING, "application": "search", "account": "test"}, {"operation_id": "op-1"})
    shadow = client.get_string_details(STAGE_KEY, "legacy", test)
    assert (shadow.value, shadow.reason) == ("shadow", Reason.TARGETING_MATCH)
    nothing = client.get_string_details(STAGE_KEY, "legacy", context_for({**BILLING, "application": "x"}, {}))
    assert (nothing.value, nothing.reason) == ("legacy", Reason.DEFAULT)
    sample = client.get_float_details(SHADOW_SAMPLE_KEY, 0.0, context_for(BILLING, {}))
    assert sample.value == 40 and sample.reason == Reason.TARGETING_MATCH
    wrong_type = client.get_integer_details(STAGE_KEY, 7, context_for(BILLING, {}))
    assert (wrong_type.value, wrong_type.error_code) == (7, ErrorCode.TYPE_MISMATCH)
    unknown = client.get_string_details("cloudops.nope", "fallback", context_for(BILLING, {}))
    assert (unknown.value, unknown.error_code, unknown.reason) == ("fallback", ErrorCode.FLAG_NOT_FOUND, Reason.ERROR)
    data.force_legacy()
    killed = client.get_string_details(STAGE_KEY, "legacy", context_for(BILLING, {"operation_id": "op-1"}))
    assert (killed.value, killed.reason, killed.flag_metadata["killSwitch"]) == ("legacy", Reason.DISABLED, True)


def test_the_context_mapping_round_trips() -> None:
    context = context_for(BILLING, {"operation_id": "op-9", "cell": "c1"})
    assert context.targeting_key == "op-9" and context.attributes["application"] == "billing"
    assert request_of(context) == (BILLING, {"cell": "c1", "operation_id": "op-9"})
    assert request_of(EvaluationContext(attributes={"application": "a", "weight": 3})) == ({"application": "a"}, {})


@pytest.mark.redis
def test_a_change_pushed_over_redis_emits_configuration_changed(redis_server: Process, tmp_path: FsPath) -> None:
    url, redis_url = f"sqlite:///{tmp_path}/flags.db", f"redis://127.0.0.1:{redis_server.port}/0"
    migrations.upgrade(url)
    channel = f"of:{os.getpid()}:{time.monotonic_ns()}"
    writer = SqlFlagStore(url, notifier=RedisChangeBus(redis_url, channel=channel))
    seen: list[EventDetails] = []
    got = threading.Event()
    flags = FlagClient.from_url(url, redis_url=redis_url, channel=channel, poll_interval=60, safety_poll_interval=60)
    try:
        client = _bound(CloudopsProvider(flags))

        def changed(details: EventDetails) -> None:
            seen.append(details)
            got.set()

        client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changed)
        wait_until(lambda: flags.status().push_connected, what="the subscription")
        writer.set_property(STAGE_KEY, "durable", {"application": "billing"}, actor="alice", reason="test")
        assert got.wait(15), "no PROVIDER_CONFIGURATION_CHANGED after a pushed change"
        assert STAGE_KEY in (seen[-1].flags_changed or [])
        details = client.get_string_details(STAGE_KEY, "legacy", context_for(BILLING, {}))
        assert details.value == "durable"
    finally:
        flags.close()
        writer.close()


# -- routing from any OpenFeature provider ------------------------------------------------------------------------


def _memory(flags: dict[str, InMemoryFlag[Any]]) -> OpenFeatureFlagSource:
    return OpenFeatureFlagSource(_bound(InMemoryProvider(flags)))


def test_the_sdks_in_memory_provider_routes_with_our_sticky_buckets(data: FlagTestData) -> None:
    ours = data.client()
    source = _memory({STAGE_KEY: InMemoryFlag("canary", {"canary": "canary"}, flag_metadata={"percent": 25})})
    for i in range(300):
        attrs = {"operation_id": f"op-{i}"}
        theirs, mine = source.decide(STAGE_KEY, BILLING, attrs), ours.decide(STAGE_KEY, BILLING, attrs)
        assert theirs.stage is MigrationStage.CANARY and theirs.reason_kind is ReasonKind.MATCH
        assert (theirs.in_rollout, theirs.bucket) == (mine.in_rollout, mine.bucket)  # the same cohort
    static = _memory({STAGE_KEY: InMemoryFlag("shadow", {"shadow": "shadow", "durable": "durable"})})
    decision = static.decide(STAGE_KEY, BILLING, {"operation_id": "op-1"})
    assert decision.stage is MigrationStage.SHADOW and "variant shadow" in decision.reason


def test_provider_errors_and_bad_values_route_to_legacy_with_their_reason() -> None:
    missing = _memory({}).decide(STAGE_KEY, BILLING, {"operation_id": "op-1"})
    assert (missing.stage, missing.error) == (MigrationStage.LEGACY, DecisionError.UNKNOWN_KEY)
    assert "FLAG_NOT_FOUND" in missing.reason
    banana = _memory({STAGE_KEY: InMemoryFlag("b", {"b": "banana"})}).decide(STAGE_KEY, BILLING, {})
    assert (banana.stage, banana.error) == (MigrationStage.LEGACY, DecisionError.MALFORMED_PROPERTY)
    # A provider that reports the flag switched off (this SDK's InMemoryProvider ignores its own `state`).
    off = InMemoryFlag(
        "durable",
        {"durable": "durable"},
        context_evaluator=lambda flag, ctx: FlagResolutionDetails(value="durable", reason=Reason.DISABLED),
    )
    disabled = _memory({STAGE_KEY: off}).decide(STAGE_KEY, BILLING, {})
    assert disabled.stage is MigrationStage.LEGACY and disabled.kill_switch
    switch = InMemoryFlag("on", {"on": True, "off": False})
    durable = InMemoryFlag("durable", {"durable": "durable"})
    killed = _memory({"cloudops.force-legacy": switch, STAGE_KEY: durable}).decide(STAGE_KEY, BILLING, {})
    assert (killed.stage, killed.reason_kind) == (MigrationStage.LEGACY, ReasonKind.KILL_SWITCH)
    broken = OpenFeatureFlagSource(_bound(_Exploding()))
    decision = broken.decide(STAGE_KEY, BILLING, {})
    assert decision.stage is MigrationStage.LEGACY and decision.error is DecisionError.EVALUATION_FAILED
    assert broken.counters()["error.evaluation_failed"] == 1


class _Exploding(AbstractProvider):
    """A provider whose every evaluation raises: what a backend outage inside a vendor SDK looks like."""

    def get_metadata(self) -> Metadata:
        return Metadata(name="exploding")

    def _boom(self, *args: Any, **kwargs: Any) -> FlagResolutionDetails[Any]:
        raise ConnectionError("flag backend unreachable")

    resolve_boolean_details = resolve_string_details = resolve_integer_details = _boom
    resolve_float_details = resolve_object_details = _boom


def test_our_provider_on_both_ends_decides_as_the_flag_client(data: FlagTestData) -> None:
    ours = data.client()
    source = OpenFeatureFlagSource(_bound(CloudopsProvider(data.client())))
    scopes = [BILLING, {**BILLING, "account": "test", "application": "web"}, {**BILLING, "application": "none"}]
    for i in range(150):
        dims, attrs = scopes[i % 3], {"operation_id": f"op-{i}"}
        a, b = source.decide(STAGE_KEY, dims, attrs), ours.decide(STAGE_KEY, dims, attrs)
        assert (a.stage, a.in_rollout, a.property_id, a.property_version) == (
            b.stage,
            b.in_rollout,
            b.property_id,
            b.property_version,
        )


@pytest.fixture
def shadows() -> Iterator[ShadowExecutor]:
    executor = ShadowExecutor(ShadowSettings(timeout_s=5), publish=lambda record: None, metrics=RouterMetrics())
    yield executor
    executor.close()


def test_a_routing_runner_routes_from_an_openfeature_provider(shadows: ShadowExecutor) -> None:
    plan: dict[str, Any] = {"mutations": []}
    legacy, durable = (
        ScriptedRunner(Path.LEGACY, succeed_with_plan(plan)),
        ScriptedRunner(Path.DURABLE, succeed_with_plan(plan)),
    )
    provider = InMemoryProvider({STAGE_KEY: InMemoryFlag("durable", {"durable": "durable"})})
    source = OpenFeatureFlagSource(_bound(provider))
    metrics = RouterMetrics()
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=source,
        owners=InMemoryOwnership(),
        records=_NoRecords(),
        shadows=shadows,
        metrics=metrics,
    )
    request = OperationRequest("op-of-1", "resizeServerGroup", "resizeServerGroup", "prod", "billing", "aws", {})
    assert router.run(request).path is Path.DURABLE
    failing = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=OpenFeatureFlagSource(_bound(_Exploding())),
        owners=InMemoryOwnership(),
        records=_NoRecords(),
        shadows=shadows,
        metrics=metrics,
    )
    result = failing.run(
        OperationRequest("op-of-2", "resizeServerGroup", "resizeServerGroup", "prod", "billing", "aws", {})
    )
    assert result.path is Path.LEGACY and result.decision is not None
    assert "OpenFeature provider exploding could not evaluate" in result.decision.reason
    assert "flag backend unreachable" in result.decision.reason
    assert (
        metrics.value("cloudops_router_decisions_total", {"stage": "legacy", "path": "legacy", "basis": "default"}) == 1
    )


class _NoRecords:
    def record_outcome(self, record: object) -> None: ...
    def record_comparison(self, record: object) -> None: ...
