"""The gateway's retention: finished gateway tasks, with their operations, go once they are older than the
gateway's `retention` setting (`30d` by default, `off` to keep them), as Clouddriver's `SqlTaskCleanupAgent`
(clouddriver-sql, `sql/SqlTaskCleanupAgent.kt`) deletes only COMPLETED and FAILED tasks past its TTL, their
dependent rows first, in batches.

A task is prunable when its state is final (`TaskState.active` is False: succeeded or failed; a running or a
retryable one, waiting for its `:resume`, is never pruned) and its last change (`updated_at`, indexed for this by
migrations/versions/0007_retention.py) is older than the cutoff. The rules are built here; the router's shell
(`router.retention_sql.prune`) runs them and its loop (`router.retention_loop`) runs them in the background.
The router's own tables (owners, outcomes, comparisons) are pruned by the RoutingRunner the gateway runs on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.model import TaskState
from gateway.tables import gateway_operations, gateway_tasks
from router.metrics import RouterMetrics
from router.retention import PruneRule
from router.retention_loop import RetentionLoop
from router.retention_sql import retention_loop
from router.retention_values import DEFAULT_INTERVAL_S

__all__ = ["FINISHED_STATES", "GatewayTaskRule", "gateway_retention_loop", "gateway_rules"]

FINISHED_STATES = tuple(state.value for state in TaskState if not state.active)


def _prunable(cutoff: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(gateway_tasks.c.state.in_(FINISHED_STATES), gateway_tasks.c.updated_at < cutoff)


class GatewayTaskRule:
    """Finished gateway tasks by `updated_at`; their operations first (they reference the task)."""

    tables = ("gateway_operations", "gateway_tasks")

    def batch(self, cutoff: datetime, limit: int) -> sa.Select[Any]:
        t = gateway_tasks
        return sa.select(t.c.id).where(_prunable(cutoff)).order_by(t.c.updated_at, t.c.id).limit(limit)

    def deletes(self, keys: Sequence[sa.Row[Any]], cutoff: datetime) -> list[tuple[str, sa.Delete]]:
        ids = [row.id for row in keys]
        return [
            ("gateway_operations", gateway_operations.delete().where(gateway_operations.c.task_id.in_(ids))),
            ("gateway_tasks", gateway_tasks.delete().where(gateway_tasks.c.id.in_(ids))),
        ]

    def counts(self, cutoff: datetime) -> list[tuple[str, sa.Select[Any]]]:
        tasks = sa.select(gateway_tasks.c.id).where(_prunable(cutoff))
        count = sa.func.count()
        return [
            ("gateway_operations", sa.select(count).where(gateway_operations.c.task_id.in_(tasks))),
            ("gateway_tasks", sa.select(count).select_from(gateway_tasks).where(_prunable(cutoff))),
        ]


def gateway_rules() -> tuple[PruneRule, ...]:
    """The gateway's tables, in the order a prune sweeps them."""
    return (GatewayTaskRule(),)


def gateway_retention_loop(
    engine: sa.Engine, max_age_s: float | None, metrics: RouterMetrics, *, interval_s: float = DEFAULT_INTERVAL_S
) -> RetentionLoop | None:
    """The background prune of the gateway's tables; None when its retention is `off`."""
    return retention_loop(engine, max_age_s, gateway_rules(), metrics, interval_s=interval_s, name="gateway_retention")
