"""Fuzzing the flag evaluator: random snapshots (built through the real write rules) and random requests.

`flags.decide` is on every operation's path: whatever the snapshot and the request, it must answer, never raise,
and fall back to the key's default whenever it cannot decide (an unknown key, a dimension nobody defined). The
FlagClient must hold even for values of the wrong type, which a pure evaluator is not asked to accept.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from flags import (
    DIMENSIONS,
    KNOWN_KEYS,
    RETRY_WINDOW_KEY,
    SHADOW_SAMPLE_KEY,
    STAGE_KEY,
    DecisionError,
    FlagError,
    FlagTestData,
    MigrationStage,
    decide,
)

NAMES = [d.value for d in DIMENSIONS]
SMALL = st.sampled_from(["api", "edge", "prod", "test", "aws", "titus", "deploy", "createServerGroup", ""])
WEIRD = st.text(max_size=8)
STAGES = [s.value for s in MigrationStage]

property_values = {
    STAGE_KEY: st.sampled_from(STAGES) | st.text(max_size=6) | st.integers(),
    SHADOW_SAMPLE_KEY: st.integers(-10, 120) | st.floats(allow_nan=True) | st.text(max_size=3),
    RETRY_WINDOW_KEY: st.integers(-5, 10**6) | st.booleans() | st.none(),
}


@st.composite
def flag_data(draw: st.DrawFn) -> FlagTestData:
    """Properties and switches, each write going through the store's validation (refused writes are skipped)."""
    data = FlagTestData()
    for _ in range(draw(st.integers(0, 8))):
        key = draw(st.sampled_from(sorted(property_values)))
        scope: dict[str, Any] = draw(st.dictionaries(st.sampled_from(NAMES), SMALL.filter(bool), max_size=3))
        percent = draw(st.none() | st.floats(-5, 105, allow_nan=False))
        try:
            data.set(key, draw(property_values[key]), percent=percent, **scope)
        except FlagError:
            pass  # the store refused it (a bad value, a tie): a snapshot never holds what a store refuses
    if draw(st.integers(0, 9)) == 0:
        data.force_legacy()
    if draw(st.integers(0, 9)) == 0:
        data.key_off(draw(st.sampled_from(sorted(property_values))))
    return data


requests = st.dictionaries(st.sampled_from(NAMES), SMALL | WEIRD, max_size=5)
attributes = st.dictionaries(st.sampled_from(["operation_id", "execution_id"]) | WEIRD, WEIRD, max_size=2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag_data(), requests, attributes)
def test_decide_always_answers_and_a_stage_is_always_a_stage(
    data: FlagTestData, dimensions: dict[str, str], attrs: dict[str, str]
) -> None:
    snapshot = data.snapshot()
    for key in sorted(KNOWN_KEYS):
        decision = decide(snapshot, key, dimensions, attrs)
        assert decision.key == key
        assert decision == decide(snapshot, key, dimensions, attrs), "a decision must be sticky"
        if decision.default_used:
            assert decision.value == KNOWN_KEYS[key].default
        if decision.in_rollout:
            assert decision.percent is not None and decision.bucket is not None
            assert decision.bucket < decision.percent
    stage = decide(snapshot, STAGE_KEY, dimensions, attrs)
    assert stage.stage is not None and stage.value in STAGES


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag_data(), requests, st.text(min_size=1, max_size=8).filter(lambda n: n not in NAMES), WEIRD)
def test_an_unknown_dimension_gives_the_default(
    data: FlagTestData, dimensions: dict[str, str], unknown: str, value: str
) -> None:
    snapshot = data.snapshot()
    for key in sorted(KNOWN_KEYS):
        decision = decide(snapshot, key, {**dimensions, unknown: value})
        assert decision.default_used and decision.value == KNOWN_KEYS[key].default
        assert decision.error in (DecisionError.UNKNOWN_DIMENSION, None)  # None: a kill or off switch came first


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flag_data(), st.text(max_size=30).filter(lambda k: k not in KNOWN_KEYS), requests)
def test_an_unknown_key_gives_its_default_with_the_reason(
    data: FlagTestData, key: str, dimensions: dict[str, str]
) -> None:
    decision = decide(data.snapshot(), key, dimensions)
    assert decision.default_used and decision.error is DecisionError.UNKNOWN_KEY
    assert repr(key) in decision.reason


json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    flag_data(),
    st.dictionaries(st.sampled_from(NAMES) | WEIRD, json_junk, max_size=5),
    st.dictionaries(WEIRD, json_junk, max_size=2),
)
def test_the_client_never_raises_even_for_values_of_the_wrong_type(
    data: FlagTestData, dimensions: dict[str, Any], attrs: dict[str, Any]
) -> None:
    client = data.client()
    for key in [*sorted(KNOWN_KEYS), "no.such.key"]:
        decision = client.decide(key, dimensions, attrs)
        if decision.error is DecisionError.EVALUATION_FAILED:
            assert decision.default_used
    assert client.decide(STAGE_KEY, dimensions, attrs).value in STAGES
