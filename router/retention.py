"""Retention, the pure part: how old a row may get (`RetentionPolicy`), and which rows of the router's tables a
prune may delete, as SQL statements built here and run by `router.retention_sql` (the IO shell).

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
- `shadow_comparisons` older than the cutoff by `compared_at`.
Every select uses an existing index (`finished_at`, `compared_at`, the outcomes' `operation_id`, the owners'
primary key). The gateway's rules live in `gateway.retention`; the background pass in `router.retention_loop`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa

from router.errors import ConfigurationError
from router.tables import operation_outcomes, operation_owners, shadow_comparisons

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_RETENTION",
    "ComparisonRule",
    "OutcomeRule",
    "PruneReport",
    "PruneRule",
    "RetentionPolicy",
    "parse_retention",
    "router_rules",
]

DEFAULT_RETENTION = "30d"
DEFAULT_BATCH_SIZE = 5000
DEFAULT_INTERVAL_S = 3600.0
"""A background pass runs at most this often (an hour): pruning is housekeeping, not a hot path."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST_S = 100 * 365 * 86400.0  # far past any retention meant, and well inside what a datetime can subtract
_OFF = frozenset({"off", "false", "no", "none", "disabled"})


def parse_retention(raw: Any, *, what: str = "setting 'retention'", origin: str = "the settings") -> float | None:
    """Seconds in a retention such as `30d`, `12h` or `90m`; None for `off` (YAML's bare `off` reads as false).

    ConfigurationError naming the setting (`what`) and where it came from for anything else, zero included: a zero
    retention would prune every finished row the moment it is written.
    """
    if raw is False or (isinstance(raw, str) and raw.strip().lower() in _OFF):
        return None
    found = _DURATION.match(raw) if isinstance(raw, str) else None
    seconds = float(found.group(1)) * _UNIT_S[found.group(2)] if found else math.nan
    if not 0 < seconds <= _LONGEST_S:
        raise ConfigurationError(
            f"{what} from {origin} is {raw!r}: give a duration above zero with a unit s, m, h or d "
            "(for example 30d or 12h), or off"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Rows older than `max_age_s` go, `batch_size` rows per statement, so no delete holds a lock for long."""

    max_age_s: float
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_age_s) or not 0 < self.max_age_s <= _LONGEST_S:
            raise ConfigurationError(f"a retention of {self.max_age_s!r} seconds: give a positive duration")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigurationError(f"a retention batch size of {self.batch_size!r}: give a whole number above 0")

    def cutoff(self, now: datetime) -> datetime:
        """Rows that finished before this instant are prunable."""
        return now - timedelta(seconds=self.max_age_s)


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one prune deleted (or, `dry_run`, would delete): rows per table, in the order they go."""

    cutoff: datetime
    dry_run: bool
    deleted: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "dryRun": self.dry_run, "deleted": dict(self.deleted)}


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


def router_rules() -> tuple[PruneRule, ...]:
    """The router's tables, in the order a prune sweeps them."""
    return (OutcomeRule(), ComparisonRule())
