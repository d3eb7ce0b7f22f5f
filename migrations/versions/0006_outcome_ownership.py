"""outcome ownership: what a finisher in any process needs, kept with the operation's ownership row

The request's dimensions, the routing decision, when it started and whether it fell back, its handle (already a
column), `finished_at` (the exactly-once claim on recording its outcome), and the two halves of a shadow
comparison (`control`, `candidate`) with `compared_at` (the exactly-once claim on recording the comparison).
Rows from before this revision are marked finished: their outcomes were recorded by the process that ran them.

Revision ID: 0006_outcome_ownership
Revises: 0005_read_model_indexes
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_outcome_ownership"
down_revision = "0005_read_model_indexes"
branch_labels = None
depends_on = None

_DIMENSIONS = ("operation", "stage_type", "account", "application", "provider")


def upgrade() -> None:
    with op.batch_alter_table("operation_owners") as batch:
        for name in _DIMENSIONS:
            batch.add_column(sa.Column(name, sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("decision", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("shadow_path", sa.String(16), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("fallback", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("control", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("candidate", sa.JSON(none_as_null=True), nullable=True))
        batch.add_column(sa.Column("compared_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE operation_owners SET finished_at = updated_at, compared_at = updated_at")
    op.create_index("ix_owners_unfinished", "operation_owners", ["finished_at", "claimed_at"])
    op.create_index("ix_owners_handle", "operation_owners", ["handle"])


def downgrade() -> None:
    op.drop_index("ix_owners_handle", table_name="operation_owners")
    op.drop_index("ix_owners_unfinished", table_name="operation_owners")
    with op.batch_alter_table("operation_owners") as batch:
        for name in ("compared_at", "candidate", "control", "finished_at", "fallback", "started_at"):
            batch.drop_column(name)
        for name in ("shadow_path", "decision", *reversed(_DIMENSIONS)):
            batch.drop_column(name)
