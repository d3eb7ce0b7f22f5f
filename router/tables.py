"""The router's SQL tables (SQLAlchemy Core). Their schema is owned by Alembic: see migrations/versions/.

- `operation_owners`: which path an operation started on (the row that keeps rule 2 across router restarts), with
  what any process needs to finish it: its dimensions, decision, handle and start; `finished_at` and
  `compared_at` are the exactly-once claims on recording its outcome and its comparison (router/claims.py), and
  `control` / `candidate` hold the two halves of a shadow comparison until the second one arrives.
- `operation_outcomes`: one row per finished operation, for reports, the console and rollout gates.
- `shadow_comparisons`: one row per shadow comparison, with both observations and the field diffs.
- `outcome_rollups` / `comparison_rollups`: those rows counted per hour bucket and cell, kept equal to them by
  triggers (migration 0011; read by router/rollups.py).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "comparison_rollups",
    "metadata",
    "operation_outcomes",
    "operation_owners",
    "outcome_rollups",
    "shadow_comparisons",
]

metadata = sa.MetaData()

_DIMENSIONS = ("operation", "stage_type", "account", "application", "provider")
_ROLLUP_DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")  # migration 0011's order


def _dimension_columns() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(200), nullable=False, server_default="") for name in _DIMENSIONS]


operation_owners = sa.Table(
    "operation_owners",
    metadata,
    sa.Column("operation_id", sa.String(255), primary_key=True),
    sa.Column("path", sa.String(16), nullable=False),
    sa.Column("handle", sa.String(400), nullable=True),
    sa.Column("reason", sa.String(400), nullable=False, server_default=""),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    *_dimension_columns(),
    sa.Column("decision", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("shadow_path", sa.String(16), nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("control", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("candidate", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("compared_at", sa.DateTime(timezone=True), nullable=True),
)

operation_outcomes = sa.Table(
    "operation_outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.String(255), nullable=False, index=True),
    *_dimension_columns(),
    sa.Column("path", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_kind", sa.String(32), nullable=True),
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("decision", sa.JSON, nullable=False),
    sa.Column("task_id", sa.String(255), nullable=True),
    sa.Column("workflow_id", sa.String(300), nullable=True),
    sa.Column("fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

shadow_comparisons = sa.Table(
    "shadow_comparisons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.String(255), nullable=False, index=True),
    *_dimension_columns(),
    sa.Column("control_path", sa.String(16), nullable=False),
    sa.Column("candidate_path", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("diffs", sa.JSON, nullable=False),
    sa.Column("control", sa.JSON, nullable=False),
    sa.Column("candidate", sa.JSON, nullable=False),
    sa.Column("control_duration_s", sa.Float, nullable=False),
    sa.Column("candidate_duration_s", sa.Float, nullable=False),
    sa.Column("compared_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# The reconciler's read (unfinished operations, oldest claim first) and a poll's lookup of a handle it did not start.
sa.Index("ix_owners_unfinished", operation_owners.c.finished_at, operation_owners.c.claimed_at)
sa.Index("ix_owners_handle", operation_owners.c.handle)
sa.Index(
    "ix_outcomes_scope", operation_outcomes.c.operation, operation_outcomes.c.provider, operation_outcomes.c.account
)
sa.Index("ix_comparisons_scope", shadow_comparisons.c.operation, shadow_comparisons.c.outcome)
# The read model's per-scope reads (a rollout's evidence, a filtered dashboard): a scope's rows in a window.
sa.Index(
    "ix_outcomes_scope_window",
    *(operation_outcomes.c[d] for d in ("application", "account", "operation", "provider")),
    operation_outcomes.c.finished_at,
    *(operation_outcomes.c[d] for d in ("path", "stage_type", "duration_s")),  # covers the latency read (0011)
)
sa.Index(
    "ix_comparisons_scope_window",
    *(shadow_comparisons.c[d] for d in ("application", "account", "operation", "provider")),
    shadow_comparisons.c.compared_at,
)
sa.Index("ix_comparisons_outcome_window", shadow_comparisons.c.outcome, shadow_comparisons.c.compared_at)

# Written only by the triggers of migration 0011, in the transaction of each insert into (or delete from) the raw
# table: one row per hour `bucket` and cell, a NULL error kind counted under "".
outcome_rollups = sa.Table(
    "outcome_rollups",
    metadata,
    sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
    *_dimension_columns(),
    sa.Column("path", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_kind", sa.String(32), nullable=False, server_default=""),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("operations", sa.Integer, nullable=False),
    sa.Column("fallbacks", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint(
        "bucket", *_ROLLUP_DIMENSIONS, "path", "status", "error_kind", "stage", name="pk_outcome_rollups"
    ),
)

comparison_rollups = sa.Table(
    "comparison_rollups",
    metadata,
    sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
    *_dimension_columns(),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("comparisons", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("bucket", *_ROLLUP_DIMENSIONS, "outcome", name="pk_comparison_rollups"),
)

for _rollup in (outcome_rollups, comparison_rollups):
    sa.Index(
        f"ix_{_rollup.name}_scope",
        *(_rollup.c[d] for d in ("application", "account", "operation", "provider", "bucket")),
    )
