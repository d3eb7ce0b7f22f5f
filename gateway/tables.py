"""The gateway's SQL tables (SQLAlchemy Core), in the router's database. Schema owned by Alembic
(migrations/versions/0004_gateway.py, 0007_retention.py, 0010_gateway_admissions.py).

- `gateway_tasks`: one row per gateway task: its clientRequestId (unique: the deduplication key), its state,
  the position of the operation in progress, and the lease of the gateway process driving it.
- `gateway_operations`: one row per operation of a task: its routing dimensions and context as submitted, the
  handle its path gave it, its state, and its final view (history, result objects) once finished.
- `gateway_admissions` (with `--upstream`): one row per operation of every submitted list, whether the gateway
  took the list or passed it to the upstream Clouddriver, and why; unique per clientRequestId and position, so
  a retried POST follows the first one's verdict.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["gateway_admissions", "gateway_operations", "gateway_tasks", "metadata"]

metadata = sa.MetaData()

gateway_tasks = sa.Table(
    "gateway_tasks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False, unique=True),
    sa.Column("provider", sa.String(32), nullable=True),
    sa.Column("execution_id", sa.String(255), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("start_time_ms", sa.BigInteger, nullable=False),
    sa.Column("owner_id", sa.String(255), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
# Retention's sweep (gateway/retention.py): the oldest finished tasks first, a batch at a time, without a scan.
sa.Index("ix_gateway_tasks_updated_at", gateway_tasks.c.updated_at)

gateway_operations = sa.Table(
    "gateway_operations",
    metadata,
    sa.Column("task_id", sa.String(64), sa.ForeignKey("gateway_tasks.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("operation_id", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("application", sa.String(200), nullable=False),
    sa.Column("stage_type", sa.String(200), nullable=False),
    sa.Column("class_name", sa.String(200), nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("handle", sa.String(400), nullable=True),
    sa.Column("first_attempt_at", sa.Float, nullable=True),
    sa.Column("view", sa.JSON, nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

gateway_admissions = sa.Table(
    "gateway_admissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("operation", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("application", sa.String(200), nullable=False),
    sa.Column("known", sa.Boolean, nullable=False),
    sa.Column("taken", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.UniqueConstraint("request_id", "position", name="uq_gateway_admissions_request"),
)
