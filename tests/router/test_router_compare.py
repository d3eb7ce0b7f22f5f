"""Shadow comparison: normalisation, outcomes, per-operation comparators and ignore rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.plan import Mutation, MutationKind, Plan
from router.compare import ComparisonOutcome, IgnoreRule, Observation, compare, diff_values
from router.contract import ErrorKind, OperationError, Path, ResultStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _create_plan(sequence: int, existing: list[str], *, desired: int = 2, token: str = "t") -> dict[str, Any]:
    name = f"myapp-main-v{sequence:03d}"
    spec = {
        "name": name,
        "capacity": {"min": 1, "max": 4, "desired": desired},
        "image": "ami-1",
        "securityGroups": ["b", "a"] if token == "t" else ["a", "b"],
        "token": token,
    }
    mutation = Mutation(0, MutationKind.CREATE_SERVER_GROUP, "prod", "us-east-1", name, {"spec": spec}, True)
    return Plan("createServerGroup", (mutation,), facts={"existingServerGroups": {"us-east-1": existing}}).to_json()


def _ok(path: Path, plan: dict[str, Any]) -> Observation:
    return Observation(path, ResultStatus.SUCCEEDED, plan=plan)


def test_identical_plans_match_despite_tokens_and_list_order() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"], token="t"))
    candidate = _ok(Path.DURABLE, _create_plan(3, ["myapp-main-v002"], token="u"))
    assert compare("createServerGroup", control, candidate, now=NOW).outcome is ComparisonOutcome.MATCH


def test_shadow_that_saw_the_new_group_picks_the_next_sequence_and_still_matches() -> None:
    # The candidate planned after the control created v003, so it saw v003 and chose v004: the same behaviour.
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"]))
    candidate = _ok(Path.DURABLE, _create_plan(4, ["myapp-main-v002", "myapp-main-v003"]))
    assert compare("createServerGroup", control, candidate, now=NOW).outcome is ComparisonOutcome.MATCH


def test_a_wrong_sequence_choice_is_a_mismatch() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"]))
    candidate = _ok(Path.DURABLE, _create_plan(5, ["myapp-main-v002"]))
    result = compare("createServerGroup", control, candidate, now=NOW)
    assert result.outcome is ComparisonOutcome.MISMATCH
    assert [d.path for d in result.diffs] == ["plan.sequence.candidate"]


def test_a_different_capacity_is_a_field_level_mismatch() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"], desired=2))
    candidate = _ok(Path.DURABLE, _create_plan(3, ["myapp-main-v002"], desired=3))
    result = compare("createServerGroup", control, candidate, now=NOW)
    assert result.outcome is ComparisonOutcome.MISMATCH
    (diff,) = result.diffs
    assert diff.path == "plan.mutations[0].params.spec.capacity.desired"
    assert (diff.control, diff.candidate) == (2, 3)


def test_an_active_ignore_rule_makes_it_ignored_not_matched_and_an_expired_one_does_not() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"], desired=2))
    candidate = _ok(Path.DURABLE, _create_plan(3, ["myapp-main-v002"], desired=3))
    rule = IgnoreRule("plan.mutations[0].params.spec.capacity", "known rounding bug", NOW + timedelta(days=1))
    result = compare("createServerGroup", control, candidate, now=NOW, rules=[rule])
    assert result.outcome is ComparisonOutcome.IGNORED
    assert result.diffs[0].ignored_by == "known rounding bug"
    later = compare("createServerGroup", control, candidate, now=NOW + timedelta(days=2), rules=[rule])
    assert later.outcome is ComparisonOutcome.MISMATCH


def test_a_rule_for_another_operation_does_not_apply() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"], desired=2))
    candidate = _ok(Path.DURABLE, _create_plan(3, ["myapp-main-v002"], desired=3))
    rule = IgnoreRule("plan", "resize noise", NOW + timedelta(days=1), operation="resizeServerGroup")
    assert compare("createServerGroup", control, candidate, now=NOW, rules=[rule]).outcome == "mismatch"


def test_both_paths_rejecting_the_same_bad_input_is_a_match() -> None:
    errors = (OperationError(ErrorKind.VALIDATION, "min must be <= desired", "range", "capacity.min"),)
    worded_differently = (OperationError(ErrorKind.VALIDATION, "capacity.min too large", "range", "capacity.min"),)
    control = Observation(Path.LEGACY, ResultStatus.FAILED, errors)
    candidate = Observation(Path.DURABLE, ResultStatus.FAILED, worded_differently)
    assert compare("resizeServerGroup", control, candidate, now=NOW).outcome is ComparisonOutcome.MATCH


def test_one_path_rejecting_what_the_other_accepts_is_a_mismatch() -> None:
    errors = (OperationError(ErrorKind.BUSINESS, "no such account", "unknown_account", "credentials"),)
    control = Observation(Path.LEGACY, ResultStatus.FAILED, errors)
    candidate = _ok(Path.DURABLE, _create_plan(3, ["myapp-main-v002"]))
    result = compare("createServerGroup", control, candidate, now=NOW)
    assert result.outcome is ComparisonOutcome.MISMATCH
    assert {d.path for d in result.diffs} >= {"plan", "rejected"}


def test_candidate_failures_and_control_infrastructure_failures_are_named() -> None:
    control = _ok(Path.LEGACY, _create_plan(3, ["myapp-main-v002"]))
    timed_out = Observation(Path.DURABLE, None, timed_out=True)
    raised = Observation(Path.DURABLE, None, exception="ConnectError: refused")
    infra = (OperationError(ErrorKind.INFRASTRUCTURE, "task lost"),)
    assert compare("x", control, timed_out, now=NOW).outcome is ComparisonOutcome.CANDIDATE_TIMEOUT
    assert compare("x", control, raised, now=NOW).outcome is ComparisonOutcome.CANDIDATE_ERROR
    broken = Observation(Path.DURABLE, ResultStatus.FAILED, infra)
    assert compare("x", control, broken, now=NOW).outcome is ComparisonOutcome.CANDIDATE_ERROR
    lost_control = Observation(Path.LEGACY, ResultStatus.FAILED, infra)
    assert compare("x", lost_control, control, now=NOW).outcome is ComparisonOutcome.CONTROL_ERROR


def test_diff_values_reports_paths_into_lists_and_missing_keys() -> None:
    diffs = diff_values({"a": [1, {"b": 2}], "c": 1}, {"a": [1, {"b": 3}, 4]})
    assert [(d.path, d.control, d.candidate) for d in diffs] == [
        ("a[1].b", 2, 3),
        ("a[2]", None, 4),
        ("c", 1, None),
    ]


def test_a_removal_the_shadow_found_already_gone_is_ignored_as_a_race_not_a_mismatch() -> None:
    destroy = Mutation(0, MutationKind.DESTROY_SERVER_GROUP, "prod", "us-east-1", "myapp-main-v002")
    plan = Plan("destroyServerGroup", (destroy,)).to_json()
    control = _ok(Path.LEGACY, plan)
    gone = (OperationError(ErrorKind.BUSINESS, "no server group myapp-main-v002", "NotFound"),)
    candidate = Observation(Path.DURABLE, ResultStatus.FAILED, gone)
    result = compare("destroyServerGroup", control, candidate, now=NOW)
    assert result.outcome is ComparisonOutcome.IGNORED
    assert "state race" in result.notes[0]
    # The same rejection for an operation that creates is a real disagreement.
    assert compare("resizeServerGroup", control, candidate, now=NOW).outcome is ComparisonOutcome.MISMATCH


def test_a_destroy_whose_shadow_skipped_the_group_already_gone_is_ignored_as_a_race() -> None:
    """A destroy's dry run beside the real one finds the group gone and skips it, as Clouddriver's
    DestroyAsgAtomicOperation does: a race of the two, never a mismatch."""
    destroy = Mutation(0, MutationKind.DESTROY_SERVER_GROUP, "prod", "us-east-1", "myapp-main-v002")
    control = _ok(Path.LEGACY, Plan("destroyServerGroup", (destroy,)).to_json())
    skipped = {"skipped": [{"region": "us-east-1", "serverGroupName": "myapp-main-v002", "reason": "not found"}]}
    candidate = _ok(Path.DURABLE, Plan("destroyServerGroup", (), False, skipped).to_json())
    result = compare("destroyServerGroup", control, candidate, now=NOW)
    assert result.outcome is ComparisonOutcome.IGNORED and "skipped it (state race)" in result.notes[0]
    # A shadow that skipped another group than the one the control removed is a real disagreement.
    other = {"skipped": [{"region": "us-east-1", "serverGroupName": "myapp-main-v001", "reason": "not found"}]}
    elsewhere = _ok(Path.DURABLE, Plan("destroyServerGroup", (), False, other).to_json())
    assert compare("destroyServerGroup", control, elsewhere, now=NOW).outcome is ComparisonOutcome.MISMATCH
