"""The routing table: stage -> authoritative path and shadow, kill switch, defaults, ownership, sampling."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from router.contract import Path
from router.policy import DEFAULT_SHADOW_SAMPLE_PERCENT, route, sample_bucket, shadow_sample_percent


@dataclass(frozen=True)
class FakeDecision:
    value: object = "legacy"
    percent: float | None = None
    bucket: float | None = None
    in_rollout: bool = False
    property_id: str | None = "p1"
    property_version: int | None = 1
    reason: str = "matched"
    default_used: bool = False
    kill_switch: bool = False


ALL = dict(shadow_sample_percent=100.0, shadow_bucket=0.0)


@pytest.mark.parametrize(
    ("stage", "primary", "shadow"),
    [
        ("legacy", Path.LEGACY, None),
        ("shadow", Path.LEGACY, Path.DURABLE),
        ("durable", Path.DURABLE, Path.LEGACY),
        ("complete", Path.DURABLE, None),
    ],
)
def test_each_stage_routes_as_the_architecture_table_says(stage: str, primary: Path, shadow: Path | None) -> None:
    result = route(FakeDecision(value=stage), **ALL)
    assert (result.primary, result.shadow) == (primary, shadow)
    assert result.decision.stage == stage
    assert result.decision.property_id == "p1"


def test_canary_sends_the_bucket_inside_the_percent_to_durable_and_shadows_the_other_path() -> None:
    inside = route(FakeDecision(value="canary", percent=10, bucket=3.2, in_rollout=True), **ALL)
    outside = route(FakeDecision(value="canary", percent=10, bucket=55.0, in_rollout=False), **ALL)
    assert (inside.primary, inside.shadow) == (Path.DURABLE, Path.LEGACY)
    assert (outside.primary, outside.shadow) == (Path.LEGACY, Path.DURABLE)
    assert "inside" in inside.decision.reason and "outside" in outside.decision.reason


def test_the_kill_switch_forces_legacy_without_shadow_whatever_the_stage() -> None:
    result = route(FakeDecision(value="complete", kill_switch=True, reason="global force-legacy"), **ALL)
    assert (result.primary, result.shadow) == (Path.LEGACY, None)
    assert result.decision.reason.startswith("kill switch")


@pytest.mark.parametrize("decision", [FakeDecision(value="durable", default_used=True), FakeDecision(value="bogus")])
def test_a_decision_that_cannot_be_trusted_routes_to_legacy(decision: FakeDecision) -> None:
    result = route(decision, **ALL)
    assert (result.primary, result.shadow) == (Path.LEGACY, None)
    assert "legacy by default" in result.decision.reason


def test_an_owned_operation_stays_on_its_path_when_the_flags_change() -> None:
    result = route(FakeDecision(value="complete"), owner=Path.LEGACY, **ALL)
    assert result.primary is Path.LEGACY
    assert "owned by the legacy path" in result.decision.reason
    assert result.shadow is None or result.shadow is not Path.LEGACY


def test_shadows_are_sampled_by_a_sticky_bucket() -> None:
    assert route(FakeDecision(value="shadow"), shadow_sample_percent=10, shadow_bucket=50.0).shadow is None
    assert route(FakeDecision(value="shadow"), shadow_sample_percent=10, shadow_bucket=5.0).shadow is Path.DURABLE
    assert sample_bucket("op-1") == sample_bucket("op-1")
    buckets = [sample_bucket(f"op-{i}") for i in range(2000)]
    assert all(0 <= b < 100 for b in buckets)
    share = sum(b < 25 for b in buckets) / len(buckets)
    assert 0.2 < share < 0.3


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (FakeDecision(value=0, default_used=True), 7.0),
        (FakeDecision(value=30), 30.0),
        (FakeDecision(value=30.5), 30.5),
        (FakeDecision(value=150), 100.0),
        (FakeDecision(value=-5), 0.0),
        (FakeDecision(value="40"), 40.0),
        (FakeDecision(value="lots"), 7.0),
        (FakeDecision(value=None), 7.0),
    ],
)
def test_the_shadow_sample_percent_comes_from_the_decision_or_the_default(
    sample: FakeDecision, expected: float
) -> None:
    assert shadow_sample_percent(sample, 7.0) == expected
    assert shadow_sample_percent(FakeDecision(value=0, default_used=True)) == DEFAULT_SHADOW_SAMPLE_PERCENT == 100.0
