"""Shadow comparison: the authoritative path's observation against the candidate's, as a pure function.

The authoritative path executed its plan; the candidate ran in dry run and returned the plan it would have
executed. `compare` normalises both (see `router.normalise`), diffs them field by field, applies per-operation
comparators and ignore rules, and names one outcome:

- match: the same plan, or the same rejection (both paths refusing the same bad input is a match);
- mismatch: at least one difference that no active ignore rule covers;
- ignored: every difference is covered by an active ignore rule (counted apart, never as a match);
- candidate_error / candidate_timeout: the candidate raised, failed in infrastructure, or did not answer in time;
- control_error: the authoritative path failed in infrastructure, so there is nothing trustworthy to compare.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from router.contract import ErrorKind, OperationError, OperationResult, Path, ResultStatus
from router.normalise import normalise_plan, sequence_consistent

__all__ = [
    "Comparator",
    "Comparison",
    "ComparisonOutcome",
    "FieldDiff",
    "IgnoreRule",
    "Observation",
    "compare",
    "diff_values",
]


class ComparisonOutcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    IGNORED = "ignored"
    CANDIDATE_ERROR = "candidate_error"
    CANDIDATE_TIMEOUT = "candidate_timeout"
    CONTROL_ERROR = "control_error"


_INFRA = frozenset({ErrorKind.INFRASTRUCTURE, ErrorKind.TIMEOUT})


@dataclass(frozen=True, slots=True)
class Observation:
    """What one path did with one operation. `exception` / `timed_out` describe a candidate that never answered."""

    path: Path
    status: ResultStatus | None
    errors: tuple[OperationError, ...] = ()
    plan: Mapping[str, Any] | None = None
    duration_s: float = 0.0
    exception: str | None = None
    timed_out: bool = False

    @classmethod
    def of(cls, result: OperationResult, duration_s: float) -> Observation:
        return cls(result.path, result.status, result.errors, result.plan, duration_s)

    @property
    def failed_in_infrastructure(self) -> bool:
        return self.status is ResultStatus.FAILED and any(e.kind in _INFRA for e in self.errors)

    def comparable(self) -> dict[str, Any]:
        """The view two paths are compared on: the normalised plan when there is one, else the rejection."""
        if self.plan is not None:
            return {"plan": normalise_plan(self.plan)}
        rejections = sorted({(e.kind.value, e.code, e.field) for e in self.errors})
        return {"rejected": [{"kind": k, "code": c, "field": f} for k, c, f in rejections]}

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path.value,
            "status": self.status.value if self.status else None,
            "errors": [e.to_json() for e in self.errors],
            "plan": dict(self.plan) if self.plan is not None else None,
            "durationS": self.duration_s,
            "exception": self.exception,
            "timedOut": self.timed_out,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        """Back from `to_json` (a half of a comparison kept in the database until the other half arrives)."""
        status = data.get("status")
        plan = data.get("plan")
        return cls(
            path=Path(data["path"]),
            status=ResultStatus(status) if status else None,
            errors=tuple(OperationError.from_json(e) for e in data.get("errors") or ()),
            plan=dict(plan) if isinstance(plan, Mapping) else None,
            duration_s=float(data.get("durationS") or 0.0),
            exception=data.get("exception"),
            timed_out=bool(data.get("timedOut")),
        )


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One difference at `path` ("plan.mutations[0].params.capacity.desired"); `ignored_by` names the rule's reason."""

    path: str
    control: Any
    candidate: Any
    ignored_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "control": self.control, "candidate": self.candidate, "ignoredBy": self.ignored_by}


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """Differences under `path_prefix` (for `operation`, or every operation) are known noise until `expires_at`.

    A rule always carries why it exists and when it stops applying, so that ignoring never becomes permanent
    by accident.
    """

    path_prefix: str
    reason: str
    expires_at: datetime
    operation: str | None = None

    def covers(self, operation: str, path: str, now: datetime) -> bool:
        if now >= self.expires_at or (self.operation is not None and self.operation != operation):
            return False
        prefix = self.path_prefix
        return path == prefix or path.startswith((prefix + ".", prefix + "["))


@dataclass(frozen=True, slots=True)
class Comparison:
    outcome: ComparisonOutcome
    diffs: tuple[FieldDiff, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "diffs": [d.to_json() for d in self.diffs], "notes": list(self.notes)}


Comparator = Callable[[Observation, Observation], list[FieldDiff]]
"""A per-operation check that adds differences the generic diff cannot see."""


def _sequence_comparator(control: Observation, candidate: Observation) -> list[FieldDiff]:
    diffs = []
    for name, obs in (("control", control), ("candidate", candidate)):
        if obs.plan is not None:
            for problem in sequence_consistent(obs.plan):
                diffs.append(FieldDiff(f"plan.sequence.{name}", problem, None))
    return diffs


DEFAULT_COMPARATORS: Mapping[str, Sequence[Comparator]] = {
    "createServerGroup": (_sequence_comparator,),
    "cloneServerGroup": (_sequence_comparator,),
}


def diff_values(control: Any, candidate: Any, path: str = "") -> list[FieldDiff]:
    """Field-level differences between two JSON values, with paths like `a.b[2].c`."""
    if isinstance(control, Mapping) and isinstance(candidate, Mapping):
        diffs: list[FieldDiff] = []
        for key in sorted(set(control) | set(candidate)):
            sub = f"{path}.{key}" if path else str(key)
            diffs += diff_values(control.get(key), candidate.get(key), sub)
        return diffs
    if isinstance(control, list) and isinstance(candidate, list):
        diffs = []
        for index in range(max(len(control), len(candidate))):
            left = control[index] if index < len(control) else None
            right = candidate[index] if index < len(candidate) else None
            diffs += diff_values(left, right, f"{path}[{index}]")
        return diffs
    return [] if control == candidate else [FieldDiff(path, control, candidate)]


def compare(
    operation: str,
    control: Observation,
    candidate: Observation,
    *,
    now: datetime,
    rules: Sequence[IgnoreRule] = (),
    comparators: Mapping[str, Sequence[Comparator]] = DEFAULT_COMPARATORS,
) -> Comparison:
    """Compare one operation's authoritative observation with its candidate's (see the module docstring)."""
    if candidate.timed_out:
        return Comparison(ComparisonOutcome.CANDIDATE_TIMEOUT, notes=("the candidate did not answer in time",))
    if candidate.exception is not None:
        return Comparison(ComparisonOutcome.CANDIDATE_ERROR, notes=(candidate.exception,))
    if control.failed_in_infrastructure:
        return Comparison(ComparisonOutcome.CONTROL_ERROR, notes=tuple(e.message for e in control.errors))
    if candidate.failed_in_infrastructure:
        return Comparison(ComparisonOutcome.CANDIDATE_ERROR, notes=tuple(e.message for e in candidate.errors))

    race = _removed_before_the_shadow_looked(operation, control, candidate)
    if race is not None:
        return Comparison(
            ComparisonOutcome.IGNORED, (FieldDiff("rejected", None, "NotFound", ignored_by=race),), (race,)
        )

    diffs = diff_values(control.comparable(), candidate.comparable())
    for comparator in comparators.get(operation, ()):
        diffs += comparator(control, candidate)
    diffs = [_apply_rules(operation, d, rules, now) for d in diffs]
    if not diffs:
        return Comparison(ComparisonOutcome.MATCH)
    if all(d.ignored_by is not None for d in diffs):
        return Comparison(ComparisonOutcome.IGNORED, tuple(diffs))
    return Comparison(ComparisonOutcome.MISMATCH, tuple(diffs))


_REMOVALS = frozenset({"destroyServerGroup", "deleteLoadBalancer", "terminateInstances"})


def _removed_before_the_shadow_looked(operation: str, control: Observation, candidate: Observation) -> str | None:
    """A removal the control executed and the shadow then found gone: a race of the two, not a disagreement.

    The shadow plans beside the authoritative call; when the control has already destroyed the target, the dry run
    can only say NotFound. That is counted as ignored, with this reason, never as a match or a mismatch.
    """
    if operation not in _REMOVALS or control.plan is None or control.status is not ResultStatus.SUCCEEDED:
        return None
    codes = {e.code for e in candidate.errors}
    if candidate.plan is None and candidate.errors and codes == {"NotFound"}:
        return "the control removed the target before the shadow planned (state race)"
    if _skipped_what_the_control_removed(control.plan, candidate.plan):
        return "the control removed the target before the shadow planned, which skipped it (state race)"
    return None


def _skipped_what_the_control_removed(control: Mapping[str, Any], candidate: Mapping[str, Any] | None) -> bool:
    """A shadow plan that skipped, as missing, every group the control's plan removed (and removes nothing itself):
    a destroy skips a group that is already gone, as Clouddriver does (cloud.catalogue.server_groups)."""
    if not candidate or candidate.get("mutations"):
        return False
    skipped = {(s.get("region"), s.get("serverGroupName")) for s in (candidate.get("facts") or {}).get("skipped", ())}
    removed = {(m.get("region"), m.get("target")) for m in control.get("mutations", ())}
    return bool(removed) and removed <= skipped


def _apply_rules(operation: str, diff: FieldDiff, rules: Sequence[IgnoreRule], now: datetime) -> FieldDiff:
    for rule in rules:
        if rule.covers(operation, diff.path, now):
            return replace(diff, ignored_by=rule.reason)
    return diff
