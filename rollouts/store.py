"""Rollouts in SQL: create, read, and compare-and-set a rollout together with its timeline event.

Every change goes through `save(expected_version, new, event)`: one transaction that updates the rollout row only
if it is still at `expected_version` and inserts the event. The loser of a race gets False and writes nothing, so
two tickers (or a ticker and a person pausing) can never both move a rollout.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from flags import MigrationStage as Stage
from flags.model import utc
from rollouts.errors import RolloutConflict, RolloutNotFound, RolloutStoreUnavailable
from rollouts.gates import Thresholds
from rollouts.model import EventKind, Phase, Rollout, RolloutEvent, RolloutPlan, RolloutStatus
from rollouts.tables import rollout_events, rollouts

__all__ = ["RolloutStore"]

_UNDEFINED_TABLE = "42P01"


def _public(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


class RolloutStore:
    """The rollout tables behind one engine. Raises RolloutStoreUnavailable when the database fails."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() if write else self.engine.connect() as conn:
                yield conn
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None)
            text = str(orig or exc).strip()
            url = _public(self.engine)
            if getattr(orig, "sqlstate", None) == _UNDEFINED_TABLE or "no such table" in text:
                raise RolloutStoreUnavailable(
                    f"the database {url} has no rollout tables: run `cloudops db upgrade`", url=url
                ) from exc
            first = text.splitlines()[0] if text else type(exc).__name__
            raise RolloutStoreUnavailable(f"the rollout store at {url} failed: {first}", url=url) from exc

    def create(self, rollout: Rollout, event: RolloutEvent) -> None:
        """Insert a new rollout and its first event; RolloutConflict when its scope already has an active one."""
        try:
            with self._connect(write=True) as conn:
                conn.execute(rollouts.insert().values(**_row(rollout)))
                conn.execute(rollout_events.insert().values(**_event_row(event)))
        except sa.exc.IntegrityError as exc:
            other = self.active_for(rollout.plan.scope_key)
            where = rollout.plan.describe_scope()
            if other is None:  # not the scope: the id was taken (a one in four billion draw); nothing was written
                raise RolloutConflict(
                    f"could not create rollout {rollout.id} on {where}: its id is taken; try again",
                    rollout_id=rollout.id,
                ) from exc
            raise RolloutConflict(
                f"rollout {other.id} is already active on {where}: abort it or let it finish first",
                rollout_id=rollout.id,
                other_id=other.id,
            ) from exc

    def find(self, rollout_id: str) -> Rollout | None:
        with self._connect() as conn:
            row = conn.execute(sa.select(rollouts).where(rollouts.c.id == rollout_id)).mappings().first()
        return _rollout(row) if row else None

    def get(self, rollout_id: str) -> Rollout:
        found = self.find(rollout_id)
        if found is None:
            raise RolloutNotFound(
                f"no rollout {rollout_id!r}: `cloudops rollout list` shows the rollouts", rollout_id=rollout_id
            )
        return found

    def active_for(self, scope_key: str) -> Rollout | None:
        with self._connect() as conn:
            row = conn.execute(sa.select(rollouts).where(rollouts.c.active_scope == scope_key)).mappings().first()
        return _rollout(row) if row else None

    def list(
        self, statuses: Sequence[RolloutStatus] = (), *, since: datetime | None = None, limit: int = 100
    ) -> builtins.list[Rollout]:
        """Rollouts, newest first; only those in `statuses` (if given) and updated since `since` (if given)."""
        query = sa.select(rollouts).order_by(rollouts.c.started_at.desc(), rollouts.c.id).limit(limit)
        if statuses:
            query = query.where(rollouts.c.status.in_([s.value for s in statuses]))
        if since is not None:
            query = query.where(rollouts.c.updated_at >= since)
        with self._connect() as conn:
            return [_rollout(r) for r in conn.execute(query).mappings()]

    def save(self, expected_version: int, new: Rollout, event: RolloutEvent | None = None) -> bool:
        """Write `new` (whose version must be expected + 1) and `event` if the row is still at `expected_version`."""
        assert new.version == expected_version + 1, "a saved rollout moves its version by exactly one"
        values = _row(new)
        del values["id"]
        try:
            with self._connect(write=True) as conn:
                updated = conn.execute(
                    rollouts.update()
                    .where(rollouts.c.id == new.id, rollouts.c.version == expected_version)
                    .values(**values)
                )
                if updated.rowcount != 1:
                    return False  # someone else moved it first; nothing was written
                if event is not None:
                    conn.execute(rollout_events.insert().values(**_event_row(event)))
        except sa.exc.IntegrityError:
            return False  # another writer inserted this version's event first: it won the race
        return True

    def events(self, rollout_id: str, limit: int | None = None) -> builtins.list[RolloutEvent]:
        """The timeline, oldest first (the newest `limit` events when a limit is given)."""
        query = sa.select(rollout_events).where(rollout_events.c.rollout_id == rollout_id)
        query = query.order_by(rollout_events.c.version.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as conn:
            found = [_event(r) for r in conn.execute(query).mappings()]
        return found[::-1]

    def last_event(self, rollout_id: str) -> RolloutEvent | None:
        found = self.events(rollout_id, limit=1)
        return found[0] if found else None


def _phase(stage: str | None, percent: float | None) -> Phase | None:
    return None if stage is None else Phase(Stage(stage), percent)


def _when(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _row(r: Rollout) -> dict[str, Any]:
    return {
        "id": r.id,
        "scope": dict(r.plan.scope),
        "scope_key": r.plan.scope_key,
        "active_scope": r.plan.scope_key if r.status.active else None,
        "steps": list(r.plan.steps),
        "min_ops": r.plan.min_ops,
        "min_duration_s": r.plan.min_duration_s,
        "thresholds": r.plan.thresholds.to_json(),
        "status": r.status.value,
        "position": r.position,
        "target_stage": r.target.stage.value if r.target else None,
        "target_percent": r.target.percent if r.target else None,
        "flag_synced": r.flag_synced,
        "flag_base_version": r.flag_base_version,
        "step_started_at": r.step_started_at,
        "started_at": r.started_at,
        "updated_at": r.updated_at,
        "finished_at": r.finished_at,
        "created_by": r.created_by,
        "reason": r.reason,
        "version": r.version,
        "last_result": dict(r.last_result) if r.last_result is not None else None,
        "last_tick_at": r.last_tick_at,
    }


def _rollout(row: sa.RowMapping) -> Rollout:
    plan = RolloutPlan(
        scope=row["scope"],
        steps=tuple(row["steps"]),
        min_ops=int(row["min_ops"]),
        min_duration_s=float(row["min_duration_s"]),
        thresholds=Thresholds.from_json(row["thresholds"]),
    )
    return Rollout(
        id=row["id"],
        plan=plan,
        status=RolloutStatus(row["status"]),
        position=int(row["position"]),
        target=_phase(row["target_stage"], row["target_percent"]),
        flag_synced=bool(row["flag_synced"]),
        flag_base_version=row["flag_base_version"],
        step_started_at=utc(row["step_started_at"]),
        started_at=utc(row["started_at"]),
        updated_at=utc(row["updated_at"]),
        finished_at=_when(row["finished_at"]),
        created_by=row["created_by"],
        reason=row["reason"],
        version=int(row["version"]),
        last_result=row["last_result"],
        last_tick_at=_when(row["last_tick_at"]),
    )


def _event_row(e: RolloutEvent) -> dict[str, Any]:
    return {
        "rollout_id": e.rollout_id,
        "version": e.version,
        "at": e.at,
        "kind": e.kind.value,
        "actor": e.actor,
        "from_stage": e.from_phase.stage.value if e.from_phase else None,
        "from_percent": e.from_phase.percent if e.from_phase else None,
        "to_stage": e.to_phase.stage.value if e.to_phase else None,
        "to_percent": e.to_phase.percent if e.to_phase else None,
        "reason": e.reason,
        "evidence": dict(e.evidence),
    }


def _event(row: sa.RowMapping) -> RolloutEvent:
    return RolloutEvent(
        rollout_id=row["rollout_id"],
        version=int(row["version"]),
        at=utc(row["at"]),
        kind=EventKind(row["kind"]),
        actor=row["actor"],
        reason=row["reason"],
        from_phase=_phase(row["from_stage"], row["from_percent"]),
        to_phase=_phase(row["to_stage"], row["to_percent"]),
        evidence=row["evidence"] or {},
    )
