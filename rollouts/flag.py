"""The one flag a rollout drives: `cloudops.migration.stage` at the rollout's scope, read and written through the
flags store API (audited: actor `rollout:<id>`, the transition's reason as the change's reason).

A rollout records the flag value it wants (`target`) and the property version it expects to find before writing
(`flag_base_version`). `decide_sync` is the pure rule applied to what the store holds now:

- the property is still at the base version: write the target (with `expected_version`, so a concurrent writer
  makes the write fail instead of being overwritten);
- the property moved on and holds the target, written by this rollout: a concurrent sync already wrote it;
- the property moved on otherwise: someone changed the flag outside the rollout (an override). A running rollout
  pauses on an override: it never fights a person.

`moved` and `override` are the pure changes a rollout makes to its record of the flag (a tick uses them on the
flag value it read); `FlagKeeper` reads the flag, applies the rule, writes, and records what it did on the rollout
(compare-and-set, like every change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from flags import (
    STAGE_KEY,
    ConcurrentModification,
    FlagError,
    FlagStore,
    FlagStoreUnavailable,
    MigrationStage as Stage,
    Property,
)
from rollouts.errors import RolloutStoreUnavailable
from rollouts.model import EventKind, Phase, Rollout, RolloutEvent, RolloutStatus
from rollouts.store import RolloutStore

__all__ = ["FlagKeeper", "Override", "SyncAction", "decide_sync", "holds", "moved", "override", "phase_of"]

log = logging.getLogger(__name__)

_MAX_REASON = 1990


class SyncAction(StrEnum):
    NONE = "none"  # nothing to write: synced already, or no target
    WRITE = "write"
    ALREADY_WRITTEN = "already_written"
    OVERRIDDEN = "overridden"


def holds(prop: Property | None, phase: Phase) -> bool:
    """Whether the property gives exactly this phase (stage and percent)."""
    return prop is not None and prop.value == phase.stage.value and prop.percent == phase.percent


def phase_of(prop: Property | None) -> Phase | None:
    """The phase a property gives, None when there is none or its value is not a stage."""
    if prop is None:
        return None
    try:
        return Phase(Stage(str(prop.value)), prop.percent)
    except ValueError:
        return None


def decide_sync(rollout: Rollout, prop: Property | None) -> SyncAction:
    if rollout.target is None or rollout.flag_synced:
        return SyncAction.NONE
    current = prop.version if prop else None
    if current == rollout.flag_base_version:
        return SyncAction.WRITE
    if prop is not None and holds(prop, rollout.target) and prop.updated_by == rollout.actor:
        return SyncAction.ALREADY_WRITTEN
    return SyncAction.OVERRIDDEN


def moved(r: Rollout, prop: Property | None, now: datetime, target: Phase, **changes: Any) -> Rollout:
    """`r` one version on, holding the scope at `target`: still to write, unless `prop` (the flag as it is now)
    already holds it and the rollout had written it."""
    current = prop.version if prop else None
    unchanged = r.flag_synced and current == r.flag_base_version and holds(prop, target)
    return replace(
        r,
        version=r.version + 1,
        updated_at=now,
        target=target,
        flag_synced=unchanged,
        flag_base_version=current,
        **changes,
    )


def override(r: Rollout, prop: Property | None, now: datetime) -> tuple[Rollout, RolloutEvent, str]:
    """Someone changed the flag outside the rollout (it is now `prop`): the rollout one version on (a running one
    paused), the timeline entry that says so, and the explanation."""
    who = f"by {prop.updated_by} (now {prop.describe()}: {prop.reason})" if prop else "(the property was deleted)"
    pausing = r.status is RolloutStatus.RUNNING
    new = replace(
        r,
        status=RolloutStatus.PAUSED if pausing else r.status,
        version=r.version + 1,
        updated_at=now,
        flag_synced=True,
        flag_base_version=prop.version if prop else None,
    )
    wanted = r.target.label() if r.target else "nothing"
    text = f"the stage flag of {r.plan.describe_scope()} was changed outside the rollout {who}"
    text += f"; the rollout holds it at {wanted}"
    if pausing:
        text += (
            f": paused; resume it to re-apply {wanted} (Resume on its console page, or `cloudops rollout resume "
            f"{r.id}`), or abort it"
        )
    kind = EventKind.PAUSED if pausing else EventKind.FLAG_OVERRIDDEN
    evidence = {"flag": prop.to_json() if prop else None}
    event = RolloutEvent(r.id, new.version, now, kind, r.actor, text, r.target, phase_of(prop), evidence)
    return new, event, text


@dataclass(frozen=True, slots=True)
class Override:
    """What `FlagKeeper.overridden` did: the rollout as it now is, whether that was saved (False: another writer
    moved it first), whether it paused, and the explanation."""

    rollout: Rollout
    saved: bool
    paused: bool
    text: str


class FlagKeeper:
    """Reads and writes a rollout's stage flag, and keeps the rollout's record of it (`target`, `flag_*`)."""

    def __init__(self, store: RolloutStore, flags: FlagStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._flags = flags
        self._clock = clock

    def read(self, scope: Mapping[str, str]) -> Property | None:
        try:
            return self._flags.find_property(STAGE_KEY, dict(scope))
        except FlagError as exc:
            url = exc.url if isinstance(exc, FlagStoreUnavailable) else ""
            raise RolloutStoreUnavailable(f"cannot read the stage flag: {exc.message}", url=url) from exc

    def moved(self, r: Rollout, now: datetime, target: Phase, **changes: Any) -> Rollout:
        """`moved` on the flag as the store holds it now."""
        return moved(r, self.read(r.plan.scope), now, target, **changes)

    def sync(self, r: Rollout, reason: str | None = None) -> tuple[Rollout, str]:
        """Write the rollout's target if it is not written yet; returns the rollout as it now is, and a note."""
        try:
            prop = self.read(r.plan.scope)
        except RolloutStoreUnavailable as exc:
            return r, f"flag not written yet (retried on the next tick): {exc.message}"
        action = decide_sync(r, prop)
        if action is SyncAction.NONE:
            return r, ""
        if action is SyncAction.ALREADY_WRITTEN:
            assert prop is not None
            return self._mark_synced(r, prop.version), ""
        if action is SyncAction.OVERRIDDEN:
            override = self.overridden(r, prop, self._clock())
            return override.rollout, override.text
        if reason is None:
            last = self._store.last_event(r.id)
            reason = f"retrying the write of {last.kind.value}: {last.reason}" if last else "retrying a flag write"
        try:
            written = self._write(r, reason)
        except ConcurrentModification:
            return self.sync(self._store.get(r.id))  # someone wrote meanwhile: judge on what the store holds now
        except FlagError as exc:
            log.warning("rollout %s could not write its flag: %s", r.id, exc.message)
            return r, f"flag not written yet (retried on the next tick): {exc.message}"
        return self._mark_synced(r, written.version), ""

    def overridden(self, r: Rollout, prop: Property | None, now: datetime) -> Override:
        """Record `override` (compare-and-set): a running rollout pauses; either way the timeline says so."""
        new, event, text = override(r, prop, now)
        if not self._store.save(r.version, new, event):
            return Override(self._store.get(r.id), saved=False, paused=False, text=text)
        return Override(new, saved=True, paused=new.status is not r.status, text=text)

    def _write(self, r: Rollout, reason: str) -> Property:
        assert r.target is not None
        text = f"rollout {r.id}: {reason}"
        return self._flags.set_property(
            STAGE_KEY,
            r.target.stage.value,
            dict(r.plan.scope),
            actor=r.actor,
            reason=text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "...",
            percent=r.target.percent,
            expected_version=r.flag_base_version,
        )

    def _mark_synced(self, r: Rollout, prop_version: int) -> Rollout:
        new = replace(r, version=r.version + 1, flag_synced=True, flag_base_version=prop_version)
        return new if self._store.save(r.version, new) else self._store.get(r.id)
