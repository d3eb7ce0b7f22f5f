"""Our bucketing is LaunchDarkly's, checked against the SDK's own function on the same inputs."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st
from ldclient import Context
from ldclient.impl.evaluator_common import _bucket_context
from ldclient.impl.model.attribute_ref import AttributeRef

from flags import STAGE_KEY, FlagTestData
from flags.bucketing import Bucketer, bucket_fraction, hash_fraction, in_rollout, rollout_weight
from router.policy import sample_bucket


def _ld_bucket(key: str, salt: str, value: str, bucket_by: str | None = None) -> float:
    if bucket_by is None:
        context = Context.create(value)
        return _bucket_context(None, context, None, key, salt, None)
    context = Context.builder("someone").set(bucket_by, value).build()
    return _bucket_context(None, context, None, key, salt, AttributeRef.from_literal(bucket_by))


def test_golden_vector_from_the_launchdarkly_sdk_tests() -> None:
    assert bucket_fraction("hashKey", "saltyA", "userKeyA") == pytest.approx(0.42157587, abs=1e-7)
    assert bucket_fraction("hashKey", "saltyA", "userKeyB") == pytest.approx(0.6708485, abs=1e-7)
    assert bucket_fraction("hashKey", "saltyA", "userKeyC") == pytest.approx(0.10343106, abs=1e-7)


def test_agrees_with_ldclient_on_many_random_inputs() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        key = f"flag-{rng.getrandbits(20):x}"
        value = f"op-{rng.getrandbits(64):x}"
        assert bucket_fraction(key, key, value) == _ld_bucket(key, key, value)


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(min_size=1, max_size=30),
    salt=st.text(max_size=20),
    value=st.text(min_size=1, max_size=40),
)
def test_agrees_with_ldclient_on_arbitrary_text(key: str, salt: str, value: str) -> None:
    assert bucket_fraction(key, salt, value) == _ld_bucket(key, salt, value)


def test_agrees_with_ldclient_when_bucketing_by_an_attribute() -> None:
    for i in range(200):
        value = f"exec-{i}"
        assert bucket_fraction("k", "s", value) == _ld_bucket("k", "s", value, bucket_by="execution_id")


def test_rollout_membership_walks_weights_like_launchdarkly() -> None:
    assert rollout_weight(12.5) == 12500
    assert in_rollout(0.0999999, 10) and not in_rollout(0.1, 10)
    assert not in_rollout(0.0, 0) and in_rollout(0.9999999, 100)


def test_a_rollout_of_p_percent_takes_about_p_percent_and_grows_monotonically() -> None:
    fractions = [
        bucket_fraction("cloudops.migration.stage", "cloudops.migration.stage", f"op-{i}") for i in range(4000)
    ]
    share = sum(in_rollout(f, 25) for f in fractions) / len(fractions)
    assert 0.22 < share < 0.28
    inside_10 = {i for i, f in enumerate(fractions) if in_rollout(f, 10)}
    inside_20 = {i for i, f in enumerate(fractions) if in_rollout(f, 20)}
    assert inside_10 < inside_20  # ramping up keeps everyone already in


def test_the_evaluator_and_the_router_bucket_through_this_one_implementation() -> None:
    # The three SHA-1 call sites: bucket_fraction, the evaluator's index (a Bucketer per property) and the router's
    # shadow sampling (hash_fraction of `cloudops.shadow.<operation id>`), all LaunchDarkly's bucket.
    client = FlagTestData().stage("canary", percent=50).client()
    bucketer = Bucketer(STAGE_KEY, STAGE_KEY)
    for i in range(500):
        op = f"op-{i:x}"
        expected = bucket_fraction(STAGE_KEY, STAGE_KEY, op)
        assert expected == bucketer(op) == hash_fraction(f"{STAGE_KEY}.{STAGE_KEY}.{op}")
        assert expected == _ld_bucket(STAGE_KEY, STAGE_KEY, op)
        decision = client.decide(STAGE_KEY, {}, {"operation_id": op})
        assert decision.bucket == expected * 100.0 and decision.in_rollout is in_rollout(expected, 50)
        shadow = hash_fraction(f"cloudops.shadow.{op}")
        assert sample_bucket(op) == shadow * 100 and shadow == _ld_bucket("cloudops", "shadow", op)
