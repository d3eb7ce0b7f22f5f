"""The guarded rollouts' SQL tables (SQLAlchemy Core). Alembic owns the schema: migrations/versions/0003_rollouts.py.

- `rollouts`: one row per rollout: its plan, where it is (`position` in its phases), the flag value it holds the
  scope at (`target_stage`, `target_percent`) and whether that value is written yet (`flag_synced`, with the
  property version it expects to find, `flag_base_version`). `version` goes up by one on every change; every
  change is a compare-and-set on it, so two tickers never both advance a step. `active_scope` is the scope key
  while the rollout is running or paused and NULL once it ends; being unique, it allows one active rollout per
  scope (NULLs never collide).
- `rollout_leases`: which controller replica ticks a rollout, and until when (revision 0009).
- `rollout_events`: the timeline, one row per transition with its actor, reason and evidence JSON. Unique on
  (rollout_id, version): a transition's event carries the rollout version it created.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata", "rollout_events", "rollout_leases", "rollouts"]

metadata = sa.MetaData()

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("scope", sa.JSON, nullable=False),
    sa.Column("scope_key", sa.String(1100), nullable=False),
    sa.Column("active_scope", sa.String(1100), nullable=True),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("min_ops", sa.Integer, nullable=False),
    sa.Column("min_duration_s", sa.Float, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("target_stage", sa.String(16), nullable=True),
    sa.Column("target_percent", sa.Float, nullable=True),
    sa.Column("flag_synced", sa.Boolean, nullable=False),
    sa.Column("flag_base_version", sa.Integer, nullable=True),
    sa.Column("step_started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_result", sa.JSON, nullable=True),
    sa.Column("last_tick_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("active_scope", name="uq_rollouts_active_scope"),
    sa.Index("ix_rollouts_status", "status"),
)

rollout_events = sa.Table(
    "rollout_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rollout_id", sa.String(64), sa.ForeignKey("rollouts.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("from_stage", sa.String(16), nullable=True),
    sa.Column("from_percent", sa.Float, nullable=True),
    sa.Column("to_stage", sa.String(16), nullable=True),
    sa.Column("to_percent", sa.Float, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.UniqueConstraint("rollout_id", "version", name="uq_rollout_events_version"),
)

# One row per rollout a controller replica is ticking: who holds it and until when (rollouts/leases.py).
rollout_leases = sa.Table(
    "rollout_leases",
    metadata,
    sa.Column("rollout_id", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("lease_until", sa.Float, nullable=False),
)
