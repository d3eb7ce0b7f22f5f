"""What a stage edit would do, said before it is saved: which property it overrides and where, which narrower
ones stay in force, which names nobody knows, and which guarded rollout already drives the scope. Pure: a flag
snapshot, the known names and the active rollouts in, a `Review` out.

Every "where" is found with the evaluator itself (`flags.decide`), never a copy of its precedence: for each
property that could share requests with the new scope, the request both scopes name is decided now; if that
property decides it, the new one takes it over (when it ranks higher, `flags.precedence.outranks`) or leaves it
alone (when it ranks lower). The scopes page shows the review and saves only once the person confirmed it
(`Review.fingerprint` in the form), so a review of yesterday's state cannot confirm today's edit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from console.edits import PropertyEdit
from console.matrix import cell_label
from console.names import KnownNames, UnknownName
from flags import STAGE_KEY, Property, Scope, Snapshot, decide
from flags.precedence import could_both_match, outranks
from rollouts.model import Rollout, RolloutStatus

__all__ = ["Notice", "NoticeKind", "Review", "review_edit"]


class NoticeKind(StrEnum):
    UPDATES = "updates"  # the edit changes the property at exactly this scope
    OVERRIDES = "overrides"  # a new property that takes requests over from another one
    NARROWER_STAYS = "narrower_stays"  # a new, wider property: narrower ones keep their part
    ROLLOUT = "rollout"  # a guarded rollout drives this scope


@dataclass(frozen=True, slots=True)
class Notice:
    kind: NoticeKind
    message: str
    property_id: str | None = None
    rollout_id: str | None = None


@dataclass(frozen=True, slots=True)
class Review:
    """`notices` to read before saving; `unknown` names that are refused unless confirmed as new; `rollout`, a
    running rollout of this scope that the page offers to pause first."""

    scope: Scope
    notices: tuple[Notice, ...]
    unknown: tuple[UnknownName, ...]
    rollout: Rollout | None

    @property
    def needs_confirmation(self) -> bool:
        """Whether saving needs the person to confirm the notices first (an update of the property in force,
        alone, needs no confirmation: the editor showed its current value)."""
        return any(n.kind is not NoticeKind.UPDATES for n in self.notices)

    @property
    def fingerprint(self) -> str:
        """Stands for the notices as shown; a confirmation carries it back, and counts only if it still matches."""
        text = "\n".join(f"{n.kind}:{n.message}" for n in self.notices)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _label(prop: Property) -> str:
    return f"{prop.value} {prop.percent:g}%" if prop.percent is not None else str(prop.value)


def _edit_label(edit: PropertyEdit) -> str:
    return f"{edit.value} {edit.percent:g}%" if edit.percent is not None else str(edit.value)


def _union(a: Scope, b: Scope) -> dict[str, str]:
    return {**b.to_json(), **a.to_json()}


def _where(dims: dict[str, str]) -> str:
    return Scope.of(dims).describe()


def _shared_requests(scope: Scope, snapshot: Snapshot, now: float) -> list[Notice]:
    """For a property that does not exist yet: the requests it would take over, and those it would leave."""
    notices = []
    for prop in snapshot.properties_for(STAGE_KEY):
        if not could_both_match(scope, prop.scope):
            continue
        both = _union(scope, prop.scope)
        decision = decide(snapshot, STAGE_KEY, both, now=now)
        if decision.property_id != prop.id:
            continue  # a third property decides those requests; the new one meets that one instead
        current = cell_label(decision)
        if outranks(scope, prop.scope):
            notices.append(
                Notice(
                    NoticeKind.OVERRIDES,
                    f"this overrides {prop.id} ({prop.scope.describe()}: {current}) for {_where(both)}",
                    property_id=prop.id,
                )
            )
        else:
            notices.append(
                Notice(
                    NoticeKind.NARROWER_STAYS,
                    f"{prop.id} ({prop.scope.describe()}: {current}) is narrower and stays in force for {_where(both)}",
                    property_id=prop.id,
                )
            )
    return notices


def _rollouts(scope: Scope, rollouts: Sequence[Rollout]) -> tuple[list[Notice], Rollout | None]:
    notices, running = [], None
    for rollout in rollouts:
        managed = Scope.of(dict(rollout.plan.scope))
        if managed == scope:
            what = f"rollout {rollout.id} ({rollout.status.value}, at {rollout.phase.label()}) manages this scope"
            tail = ": its next tick sets the stage again; pause it first" if rollout.status.active else ""
        elif could_both_match(managed, scope) and outranks(scope, managed):
            what = f"rollout {rollout.id} ({rollout.status.value}) drives {managed.describe()}, which this narrows"
            tail = ": its gates would judge a scope you changed by hand; pause it first"
        else:
            continue
        notices.append(Notice(NoticeKind.ROLLOUT, what + tail, rollout_id=rollout.id))
        if rollout.status is RolloutStatus.RUNNING and running is None:
            running = rollout
    return notices, running


def review_edit(
    edit: PropertyEdit, snapshot: Snapshot, names: KnownNames, rollouts: Sequence[Rollout], *, now: float
) -> Review:
    """What saving `edit` (a stage edit) would do. Raises flags.InvalidInput for a malformed scope."""
    scope = Scope.of(dict(edit.scope))
    existing = next((p for p in snapshot.properties_for(STAGE_KEY) if p.scope == scope), None)
    if edit.property_id:
        existing = next((p for p in snapshot.properties_for(STAGE_KEY) if p.id == edit.property_id), existing)
    notices: list[Notice] = []
    if existing is not None:
        notices.append(
            Notice(
                NoticeKind.UPDATES,
                f"this changes {existing.id} ({existing.scope.describe()}) from {_label(existing)} to "
                f"{_edit_label(edit)}",
                property_id=existing.id,
            )
        )
    else:
        notices.extend(_shared_requests(scope, snapshot, now))
    rollout_notices, running = _rollouts(scope, rollouts)
    notices.extend(rollout_notices)
    return Review(scope, tuple(notices), tuple(names.unknown(edit.scope)), running)
