"""The LaunchDarkly backend, with no network: the SDK's Files data source (percentage rollouts included) fed by
our export, and TestData. The same requests get the same stages and the same canary cohorts on both backends."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ldclient import Config, LDClient
from ldclient.integrations import Files
from ldclient.integrations.test_data import TestData

from flags import STAGE_KEY, DecisionError, FlagTestData, LaunchDarklyFlagSource, ReasonKind, to_launchdarkly_data
from flags.launchdarkly import FORCE_LEGACY_FLAG, context_for

APPS, ACCOUNTS, OPS = ("api", "web", "batch"), ("prod", "test"), ("createServerGroup", "resizeServerGroup")


def _ld(data_source: Any) -> LDClient:
    return LDClient(Config("sdk-key", update_processor_class=data_source, send_events=False, diagnostic_opt_out=True))


@pytest.fixture
def files_source(tmp_path: Path) -> Iterator[Any]:
    clients: list[LDClient] = []

    def make(td: FlagTestData) -> LaunchDarklyFlagSource:
        path = tmp_path / f"flags-{len(clients)}.json"
        path.write_text(json.dumps(to_launchdarkly_data(td.snapshot())))
        client = _ld(Files.new_data_source([str(path)]))
        assert client.is_initialized()
        clients.append(client)
        return LaunchDarklyFlagSource(client)

    yield make
    for client in clients:
        client.close()  # type: ignore[no-untyped-call]


def _rich_test_data() -> FlagTestData:
    return (
        FlagTestData()
        .stage("shadow")
        .stage("canary", percent=25, application="api")
        .stage("canary", percent=60, bucket_by="execution_id", application="api", account="prod")
        .stage("canary", percent=40, bucket_by="account", application="web", operation="resizeServerGroup")
        .stage("durable", account="test")
        .stage("complete", application="batch", account="test", provider="aws")
        .set("cloudops.shadow.sample_percent", 30, account="prod")
    )


def _requests(count: int) -> list[tuple[dict[str, str], dict[str, str]]]:
    rng = random.Random(3)
    found = []
    for i, (app, account, op) in zip(range(count), itertools.cycle(itertools.product(APPS, ACCOUNTS, OPS))):
        dims = {"application": app, "account": account, "operation": op, "stage_type": "deploy", "provider": "aws"}
        found.append((dims, {"operation_id": f"op-{i}", "execution_id": f"exec-{rng.getrandbits(32)}"}))
    return found


def test_our_export_gives_launchdarkly_the_same_stages_and_cohorts(files_source: Any) -> None:
    td = _rich_test_data()
    ours, theirs = td.client(), files_source(td)
    global_prop = td.store.find_property(STAGE_KEY)
    assert global_prop is not None
    global_id = global_prop.id
    inside = 0
    for dims, attrs in _requests(1200):
        a, b = ours.decide(STAGE_KEY, dims, attrs), theirs.decide(STAGE_KEY, dims, attrs)
        assert (a.value, a.stage, a.in_rollout, a.percent) == (b.value, b.stage, b.in_rollout, b.percent), (dims, attrs)
        if b.property_id == "fallthrough":  # our global property is LaunchDarkly's fallthrough
            assert a.property_id == global_id
        else:
            assert (a.property_id, a.property_version) == (b.property_id, b.property_version)
        assert b.reason_kind is ReasonKind.MATCH and not b.default_used and b.bucket is None
        inside += a.in_rollout
        sample = (
            ours.decide("cloudops.shadow.sample_percent", dims),
            theirs.decide("cloudops.shadow.sample_percent", dims),
        )
        assert sample[0].value == sample[1].value
    assert 100 < inside < 1100  # the canaries really split their scopes


def test_switches_reach_launchdarkly_through_the_export(files_source: Any) -> None:
    off = files_source(_rich_test_data().key_off(STAGE_KEY))
    d = off.decide(STAGE_KEY, {"application": "api"}, {"operation_id": "x"})
    assert (d.value, d.kill_switch, d.reason_kind) == ("legacy", True, ReasonKind.KEY_OFF)
    forced = files_source(_rich_test_data().force_legacy())
    d = forced.decide(STAGE_KEY, {"application": "batch", "account": "test", "provider": "aws"})
    assert (d.value, d.kill_switch, d.reason_kind) == ("legacy", True, ReasonKind.KILL_SWITCH)
    assert forced.counters()["kill_switch"] == 1


@pytest.fixture
def test_data() -> Iterator[tuple[Any, LaunchDarklyFlagSource]]:
    td = TestData.data_source()
    client = _ld(td)
    yield td, LaunchDarklyFlagSource(client)
    client.close()  # type: ignore[no-untyped-call]


def test_testdata_rules_map_onto_decisions(test_data: tuple[Any, LaunchDarklyFlagSource]) -> None:
    td, source = test_data
    td.update(
        td.flag(STAGE_KEY)
        .variations("legacy", "shadow", "durable")
        .variation_for_all(1)
        .if_match_context("account", "key", "prod")
        .and_match_context("application", "key", "api")
        .then_return(2)
    )
    d = source.decide(STAGE_KEY, {"application": "api", "account": "prod", "operation": "createServerGroup"})
    assert (d.value, d.stage.value if d.stage else None, d.property_id, d.reason_kind) == (
        "durable",
        "durable",
        "rule0",
        ReasonKind.MATCH,
    )
    fallthrough = source.decide(STAGE_KEY, {"application": "web", "account": "prod"})
    assert (fallthrough.value, fallthrough.property_id) == ("shadow", "fallthrough")
    td.update(td.flag(STAGE_KEY).on(False))
    off = source.decide(STAGE_KEY, {"application": "api", "account": "prod"})
    assert (off.value, off.kill_switch, off.reason_kind) == ("legacy", True, ReasonKind.KEY_OFF)


def test_failures_give_counted_defaults(test_data: tuple[Any, LaunchDarklyFlagSource]) -> None:
    td, source = test_data
    missing = source.decide(STAGE_KEY, {"application": "api"})
    assert (missing.value, missing.error, missing.default_used) == ("legacy", DecisionError.UNKNOWN_KEY, True)
    td.update(td.flag(STAGE_KEY).variations("turbo").variation_for_all(0))
    bad = source.decide(STAGE_KEY, {"application": "api"})
    assert (bad.value, bad.error) == ("legacy", DecisionError.MALFORMED_PROPERTY)
    td.update(td.flag(STAGE_KEY).variations({"stage": "canary"}).variation_for_all(0))  # a canary needs a percent
    assert source.decide(STAGE_KEY, {"application": "api"}).error is DecisionError.MALFORMED_PROPERTY
    assert source.decide(STAGE_KEY, {"region": "x"}).error is DecisionError.UNKNOWN_DIMENSION
    assert source.decide(STAGE_KEY, {}).error is DecisionError.UNKNOWN_DIMENSION
    assert source.decide("free.key", {"application": "api"}, default=3).value == 3
    counts = source.counters()
    assert counts["error"] == 6 and counts["error.malformed_property"] == 2


def test_the_kill_switch_flag_is_checked_first(test_data: tuple[Any, LaunchDarklyFlagSource]) -> None:
    td, source = test_data
    td.update(td.flag(STAGE_KEY).variations("legacy", "complete").variation_for_all(1))
    assert source.decide(STAGE_KEY, {"application": "api"}).value == "complete"
    td.update(td.flag(FORCE_LEGACY_FLAG).variation_for_all(True))
    d = source.decide(STAGE_KEY, {"application": "api"})
    assert (d.value, d.kill_switch) == ("legacy", True)


def test_contexts_have_one_kind_per_dimension_with_the_attributes() -> None:
    context = context_for({"application": "api", "stage_type": "deploy", "account": ""}, {"operation_id": "op-1"})
    assert context.valid and context.multiple
    kinds = {context.get_individual_context(i).kind for i in range(context.individual_context_count)}  # type: ignore[union-attr]
    assert kinds == {"application", "stage_type"}
    assert context.get_individual_context("stage_type").get("operation_id") == "op-1"  # type: ignore[union-attr]
