"""The pure evaluator: precedence on every dimension, expiry, kill switches, rollouts, failures, explain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flags import (
    STAGE_KEY,
    CandidateOutcome,
    DecisionError,
    FlagTestData,
    JsonValue,
    KillSwitch,
    MigrationStage,
    Property,
    ReasonKind,
    Scope,
    Snapshot,
    decide,
    explain,
)
from flags.bucketing import bucket_fraction

REQUEST = {
    "application": "api",
    "account": "prod",
    "operation": "createServerGroup",
    "stage_type": "deploy",
    "provider": "aws",
}
ORDER = ["application", "account", "operation", "stage_type", "provider"]


def _prop(pid: str, value: JsonValue, *, key: str = STAGE_KEY, **options: Any) -> Property:
    scope = {k: v for k, v in options.items() if k not in ("percent", "expires_at", "bucket_by")}
    return Property(
        id=pid,
        key=key,
        value=value,
        scope=Scope.of(scope),
        version=3,
        percent=options.get("percent"),
        expires_at=options.get("expires_at"),
        bucket_by=options.get("bucket_by"),
    )


def test_no_property_gives_the_keys_default_without_an_error() -> None:
    d = decide(Snapshot.of(1), STAGE_KEY, REQUEST)
    assert (d.value, d.stage, d.default_used, d.error, d.reason_kind) == (
        "legacy",
        MigrationStage.LEGACY,
        True,
        None,
        ReasonKind.NO_MATCH,
    )


@pytest.mark.parametrize("index", range(5))
def test_a_property_naming_a_dimension_beats_all_that_name_only_later_ones(index: int) -> None:
    name = ORDER[index]
    later = {n: REQUEST[n] for n in ORDER[index + 1 :]}
    props = [_prop("p-one", "durable", **{name: REQUEST[name]}), _prop("p-global", "shadow")]
    if later:
        props.append(_prop("p-later", "complete", **later))
    d = decide(Snapshot.of(1, props), STAGE_KEY, REQUEST)
    assert d.property_id == "p-one" and d.value == "durable" and d.property_version == 3
    assert d.reason_kind is ReasonKind.MATCH and not d.default_used


@pytest.mark.parametrize("index", range(5))
def test_a_property_that_does_not_match_on_a_dimension_is_skipped(index: int) -> None:
    name = ORDER[index]
    props = [_prop("p-other", "durable", **{name: "something-else"}), _prop("p-global", "shadow")]
    d = decide(Snapshot.of(1, props), STAGE_KEY, REQUEST)
    assert d.property_id == "p-global"


def test_ties_on_a_dimension_go_to_the_next_one() -> None:
    props = [
        _prop("p-app-provider", "complete", application="api", provider="aws"),
        _prop("p-app-account", "durable", application="api", account="prod"),
        _prop("p-app", "shadow", application="api"),
    ]
    assert decide(Snapshot.of(1, props), STAGE_KEY, REQUEST).property_id == "p-app-account"
    request = {**REQUEST, "account": "test"}
    assert decide(Snapshot.of(1, props), STAGE_KEY, request).property_id == "p-app-provider"


def test_a_request_missing_a_dimension_does_not_match_properties_naming_it() -> None:
    props = [_prop("p-acct", "durable", account="prod"), _prop("p-global", "shadow")]
    assert decide(Snapshot.of(1, props), STAGE_KEY, {"application": "api", "account": ""}).property_id == "p-global"


def test_an_expired_property_no_longer_applies_and_the_next_one_does() -> None:
    soon = datetime(2030, 1, 1, tzinfo=UTC)
    props = [_prop("p-app", "durable", expires_at=soon, application="api"), _prop("p-global", "shadow")]
    snapshot = Snapshot.of(1, props)
    assert decide(snapshot, STAGE_KEY, REQUEST, now=soon.timestamp() - 1).property_id == "p-app"
    assert decide(snapshot, STAGE_KEY, REQUEST, now=soon.timestamp()).property_id == "p-global"
    found = explain(snapshot, STAGE_KEY, REQUEST, now=soon.timestamp() + 5)
    assert [c.outcome for c in found.candidates] == [CandidateOutcome.EXPIRED, CandidateOutcome.WON]


def test_the_global_kill_switch_comes_first_and_forces_legacy() -> None:
    switch = KillSwitch(target="*", engaged=True, updated_by="oncall", reason="incident 7")
    snapshot = Snapshot.of(1, [_prop("p-app", "complete", application="api")], [switch])
    d = decide(snapshot, STAGE_KEY, REQUEST)
    assert (d.value, d.stage, d.kill_switch, d.reason_kind) == (
        "legacy",
        MigrationStage.LEGACY,
        True,
        ReasonKind.KILL_SWITCH,
    )
    assert "incident 7" in d.reason and "oncall" in d.reason
    assert explain(snapshot, STAGE_KEY, REQUEST).candidates[0].outcome is CandidateOutcome.OVERRIDDEN


def test_a_released_kill_switch_does_nothing() -> None:
    snapshot = Snapshot.of(1, [_prop("p-app", "complete", application="api")], [KillSwitch(target="*", engaged=False)])
    assert decide(snapshot, STAGE_KEY, REQUEST).value == "complete"


def test_a_key_off_switch_gives_that_keys_default_and_leaves_other_keys_alone() -> None:
    props = [_prop("p-stage", "durable"), _prop("p-sample", 50, key="cloudops.shadow.sample_percent")]
    snapshot = Snapshot.of(1, props, [KillSwitch(target=STAGE_KEY, engaged=True)])
    off = decide(snapshot, STAGE_KEY, REQUEST)
    assert (off.value, off.kill_switch, off.reason_kind) == ("legacy", True, ReasonKind.KEY_OFF)
    assert decide(snapshot, "cloudops.shadow.sample_percent", REQUEST).value == 50


def test_a_canary_buckets_stickily_by_operation_id_like_launchdarkly() -> None:
    snapshot = Snapshot.of(1, [_prop("p-canary", "canary", percent=30, application="api")])
    inside = 0
    for i in range(1000):
        attrs = {"operation_id": f"op-{i}"}
        d = decide(snapshot, STAGE_KEY, REQUEST, attrs)
        expected = bucket_fraction(STAGE_KEY, STAGE_KEY, f"op-{i}")
        assert d.bucket == expected * 100  # exactly LaunchDarkly's number
        assert d.in_rollout == (expected < 0.30)
        assert d == decide(snapshot, STAGE_KEY, REQUEST, attrs)  # sticky
        assert (d.stage, d.percent, d.bucket_by, d.property_id) == (
            MigrationStage.CANARY,
            30,
            "operation_id",
            "p-canary",
        )
        inside += d.in_rollout
    assert 250 < inside < 350


def test_bucket_by_may_name_a_dimension_or_another_attribute() -> None:
    by_account = Snapshot.of(1, [_prop("p", "canary", percent=50, bucket_by="account")])
    d = decide(by_account, STAGE_KEY, REQUEST, {"operation_id": "ignored"})
    assert d.bucket == pytest.approx(bucket_fraction(STAGE_KEY, STAGE_KEY, "prod") * 100)
    by_execution = Snapshot.of(1, [_prop("p", "canary", percent=50, bucket_by="execution_id")])
    d = decide(by_execution, STAGE_KEY, REQUEST, {"execution_id": "exec-9"})
    assert d.bucket == pytest.approx(bucket_fraction(STAGE_KEY, STAGE_KEY, "exec-9") * 100)


def test_a_canary_without_its_bucketing_attribute_stays_outside() -> None:
    d = decide(Snapshot.of(1, [_prop("p", "canary", percent=100)]), STAGE_KEY, REQUEST)
    assert (d.value, d.in_rollout, d.bucket, d.default_used) == ("canary", False, None, False)
    assert "no operation_id" in d.reason


def test_an_unknown_key_gives_a_counted_error_default() -> None:
    d = decide(Snapshot.of(1), "payments.new-checkout", REQUEST)
    assert (d.value, d.default_used, d.error, d.reason_kind) == (
        None,
        True,
        DecisionError.UNKNOWN_KEY,
        ReasonKind.ERROR,
    )
    assert decide(Snapshot.of(1), "payments.new-checkout", REQUEST, default=False).value is False


def test_an_unknown_dimension_in_the_request_gives_the_default() -> None:
    d = decide(Snapshot.of(1, [_prop("p", "durable")]), STAGE_KEY, {**REQUEST, "region": "us-east-1"})
    assert (d.value, d.error) == ("legacy", DecisionError.UNKNOWN_DIMENSION)
    assert "region" in d.reason


def test_a_malformed_stored_property_gives_the_default_not_a_less_specific_one() -> None:
    props = [_prop("p-bad", "turbo", application="api"), _prop("p-global", "durable")]
    d = decide(Snapshot.of(1, props), STAGE_KEY, REQUEST)
    assert (d.value, d.error, d.property_id) == ("legacy", DecisionError.MALFORMED_PROPERTY, "p-bad")
    assert explain(Snapshot.of(1, props), STAGE_KEY, REQUEST).candidates[0].outcome is CandidateOutcome.MALFORMED


def test_other_keys_hold_any_json_value() -> None:
    value: JsonValue = {"regions": ["us-east-1"], "limit": 3}
    d = decide(
        Snapshot.of(1, [_prop("p", value, key="payments.config", application="api")]), "payments.config", REQUEST
    )
    assert d.value == value and d.stage is None


def test_explain_lists_every_candidate_most_specific_first_with_why() -> None:
    td = (
        FlagTestData()
        .stage("shadow")
        .stage("durable", application="api")
        .stage("complete", application="web")
        .stage("canary", percent=10, application="api", account="prod")
    )
    found = explain(td.snapshot(), STAGE_KEY, REQUEST, {"operation_id": "op-1"})
    outcomes = [(c.property.scope.describe(), c.outcome) for c in found.candidates]
    assert outcomes == [
        ("application=api, account=prod", CandidateOutcome.WON),
        ("application=web", CandidateOutcome.NO_MATCH),
        ("application=api", CandidateOutcome.LOST),
        ("global", CandidateOutcome.LOST),
    ]
    assert "wants application=web, the request has api" in found.candidates[1].detail
    assert found.decision.property_id == found.candidates[0].property.id
    assert found.to_json()["decision"]["inRollout"] == found.decision.in_rollout


def test_the_snapshot_refuses_two_properties_that_tie() -> None:
    with pytest.raises(ValueError, match="tie"):
        Snapshot.of(1, [_prop("p1", "durable", application="api"), _prop("p2", "shadow", application="api")])


def test_decisions_and_snapshots_round_trip_through_json() -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    snapshot = Snapshot.of(
        4,
        [_prop("p", "canary", percent=5, expires_at=later, application="api")],
        [KillSwitch(target=STAGE_KEY, engaged=False)],
    )
    again = Snapshot.from_json(snapshot.to_json())
    assert again == snapshot
    d = decide(again, STAGE_KEY, REQUEST, {"operation_id": "x"})
    assert d.to_json()["stage"] == "canary" and d.to_json()["inRollout"] == d.in_rollout


def test_a_newer_snapshot_reuses_the_compiled_form_of_unchanged_properties() -> None:
    old = Snapshot.of(1, [_prop("p1", "durable", application="api"), _prop("p2", "shadow", application="web")])
    new = old.changed(2, [_prop("p2", "complete", application="web")], [], [])
    assert new.index[STAGE_KEY].entries["p1"] is old.index[STAGE_KEY].entries["p1"]
    assert new.index[STAGE_KEY].entries["p2"] is not old.index[STAGE_KEY].entries["p2"]
    assert decide(new, STAGE_KEY, {"application": "web"}).value == "complete"
    assert new.index["cloudops.shadow.sample_percent"] is old.index["cloudops.shadow.sample_percent"]
    gone = new.changed(3, [], ["p1"], [KillSwitch(target="*", engaged=True)])
    assert decide(gone, STAGE_KEY, {"application": "api"}).kill_switch
    assert gone.changed(4, [], [], []) == Snapshot.of(4, [_prop("p2", "complete", application="web")])
