"""Retention, the pure part: which rows of the router's tables a prune may delete, as SQL statements built here
(no IO) and run by `router.retention_sql` (the shell) under a `RetentionPolicy` (`router.retention_values`).

Modelled on Clouddriver's own task retention. Its Redis repository (clouddriver-core,
`data/task/jedis/RedisTaskRepository.java`) gives every task key a 12-hour TTL, renewed on each write, so a task
lives 12 hours past its last change; its SQL repository's `SqlTaskCleanupAgent` (clouddriver-sql,
`sql/SqlTaskCleanupAgent.kt`, settings `sql.agent.task-cleanup.completed-ttl-ms` (4 days) and `batch-size` (100)
in `config/SqlTaskCleanupAgentProperties.kt`) deletes only tasks in a finished state older than the TTL, the rows
that depend on a task before the task itself, in chunks of `batch-size`, each chunk its own transaction. We do
the same, with one rule Clouddriver does not need: an operation's owner row (rule 2: an operation never moves
paths) goes only once the operation has finished, which the router knows by its outcome row.

The rules, for a cutoff `now - max_age`:
- `operation_outcomes` older than the cutoff by `finished_at`, oldest first;
- `operation_owners` only of an operation whose outcome goes in the same batch, and which has no outcome younger
  than the cutoff; deleted before those outcomes, so a crash between the two leaves outcomes without an owner,
  never an owner without its outcome (which would look like an operation still running). An owner with no outcome
  at all is never pruned: the operation may be running, or its starter died before recording it;
- `shadow_comparisons` older than the cutoff by `compared_at`;
- `outcome_rollups` and `comparison_rollups` (router/rollups.py): the cells of hours that end before the cutoff,
  once their count is down to zero. The database's triggers take each deleted row out of its cell, so by the time
  this rule runs (last) the cells of pruned hours are empty; a cell whose rows are not all gone yet (a prune
  stopped halfway) stays, so the rollups always equal the rows left.
Every select uses an existing index (`finished_at`, `compared_at`, the outcomes' `operation_id`, the owners'
primary key). The gateway's rules live in `gateway.retention`; the background pass in `router.retention_loop`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from router.rollups import HOUR
from router.tables import (
    comparison_rollups,
    operation_outcomes,
    operation_owners,
    outcome_rollups,
    shadow_comparisons,
)

__all__ = ["ComparisonRule", "OutcomeRule", "PruneRule", "RollupRule", "router_rules"]


class PruneRule(Protocol):
    """One sweep over a table and what depends on it, batch by batch."""

    @property
    def tables(self) -> Sequence[str]:
        """The tables it deletes from, in the order it deletes."""
        ...

    def batch(self, cutoff: datetime, limit: int) -> sa.Select[Any]:
        """The keys of the next batch: at most `limit` prunable rows, oldest first."""
        ...

    def deletes(self, keys: Sequence[sa.Row[Any]], cutoff: datetime) -> list[tuple[str, sa.Delete]]:
        """The statements that delete one batch, (table, statement), dependents first."""
        ...

    def counts(self, cutoff: datetime) -> list[tuple[str, sa.Select[Any]]]:
        """What the sweep would delete now, per table: one COUNT statement each (a dry run)."""
        ...


def _count(table: sa.Table, where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(table).where(where)


class OutcomeRule:
    """Outcomes by `finished_at`; with them, the owners of the operations they finish (see the module)."""

    tables = ("operation_owners", "operation_outcomes")

    def batch(self, cutoff: datetime, limit: int) -> sa.Select[Any]:
        o = operation_outcomes
        return (
            sa.select(o.c.id, o.c.operation_id)
            .where(o.c.finished_at < cutoff)
            .order_by(o.c.finished_at, o.c.id)
            .limit(limit)
        )

    def deletes(self, keys: Sequence[sa.Row[Any]], cutoff: datetime) -> list[tuple[str, sa.Delete]]:
        operation_ids = sorted({row.operation_id for row in keys})
        owners = operation_owners.delete().where(
            operation_owners.c.operation_id.in_(operation_ids), ~_has_young_outcome(cutoff)
        )
        outcomes = operation_outcomes.delete().where(operation_outcomes.c.id.in_([row.id for row in keys]))
        return [("operation_owners", owners), ("operation_outcomes", outcomes)]

    def counts(self, cutoff: datetime) -> list[tuple[str, sa.Select[Any]]]:
        old = sa.exists().where(
            operation_outcomes.c.operation_id == operation_owners.c.operation_id,
            operation_outcomes.c.finished_at < cutoff,
        )
        return [
            ("operation_owners", _count(operation_owners, sa.and_(old, ~_has_young_outcome(cutoff)))),
            ("operation_outcomes", _count(operation_outcomes, operation_outcomes.c.finished_at < cutoff)),
        ]


def _has_young_outcome(cutoff: datetime) -> sa.Exists:
    """The owner's operation finished (again) after the cutoff: it is recent, keep its owner."""
    young = operation_outcomes.alias("young")
    return sa.exists().where(young.c.operation_id == operation_owners.c.operation_id, young.c.finished_at >= cutoff)


class ComparisonRule:
    """Shadow comparisons by `compared_at`."""

    tables = ("shadow_comparisons",)

    def batch(self, cutoff: datetime, limit: int) -> sa.Select[Any]:
        c = shadow_comparisons
        return sa.select(c.c.id).where(c.c.compared_at < cutoff).order_by(c.c.compared_at, c.c.id).limit(limit)

    def deletes(self, keys: Sequence[sa.Row[Any]], cutoff: datetime) -> list[tuple[str, sa.Delete]]:
        ids = [row.id for row in keys]
        return [("shadow_comparisons", shadow_comparisons.delete().where(shadow_comparisons.c.id.in_(ids)))]

    def counts(self, cutoff: datetime) -> list[tuple[str, sa.Select[Any]]]:
        return [("shadow_comparisons", _count(shadow_comparisons, shadow_comparisons.c.compared_at < cutoff))]


class RollupRule:
    """The cells of a rollup table in hours wholly before the cutoff, once their rows are gone (count zero)."""

    def __init__(self, table: sa.Table, count: str) -> None:
        self.table = table
        self.count = table.c[count]
        self.tables = (table.name,)

    def _old(self, cutoff: datetime) -> sa.ColumnElement[bool]:
        return self.table.c.bucket <= cutoff - HOUR  # the hour [bucket, bucket + 1 h) ends by the cutoff

    def batch(self, cutoff: datetime, limit: int) -> sa.Select[Any]:
        t = self.table
        return sa.select(t.c.bucket).where(self._old(cutoff), self.count == 0).order_by(t.c.bucket).limit(limit)

    def deletes(self, keys: Sequence[sa.Row[Any]], cutoff: datetime) -> list[tuple[str, sa.Delete]]:
        buckets = sorted({row.bucket for row in keys})
        where = [self.table.c.bucket.in_(buckets), self._old(cutoff), self.count == 0]
        return [(self.table.name, self.table.delete().where(*where))]

    def counts(self, cutoff: datetime) -> list[tuple[str, sa.Select[Any]]]:
        # A dry run deletes no rows, so it counts the cells that will be empty once the rules before this one ran.
        return [(self.table.name, _count(self.table, self._old(cutoff)))]


def router_rules() -> tuple[PruneRule, ...]:
    """The router's tables, in the order a prune sweeps them (the rollups after the rows they count)."""
    return (
        OutcomeRule(),
        ComparisonRule(),
        RollupRule(outcome_rollups, "operations"),
        RollupRule(comparison_rollups, "comparisons"),
    )
