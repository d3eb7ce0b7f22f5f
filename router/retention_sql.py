"""Retention, the IO shell: run the rules of `router.retention` (or the gateway's) against a database.

Each batch is one short transaction: select at most `batch_size` prunable keys, oldest first, then delete them
(dependents first) by those keys; loop until a batch comes back short. A large backlog is so deleted in many
small steps, each holding its locks briefly, on SQLite and PostgreSQL alike. Two processes pruning at once are
harmless: the second one's deletes match nothing, and the counts come from the rows each delete really removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from router.errors import RetentionUnavailable
from router.metrics import RouterMetrics
from router.retention import PruneRule
from router.retention_loop import RetentionLoop
from router.retention_values import DEFAULT_INTERVAL_S, PruneReport, RetentionPolicy

__all__ = ["prune", "retention_loop"]


def prune(
    engine: sa.Engine,
    policy: RetentionPolicy,
    rules: Sequence[PruneRule],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    keep_going: Callable[[], bool] = lambda: True,
) -> PruneReport:
    """Delete (or, `dry_run`, count) what `rules` find older than `policy` allows; per table, how many rows.

    `keep_going` is asked between batches: a process shutting down stops after the batch in progress, and the next
    pass carries on. Raises RetentionUnavailable, saying which database and why, when the database cannot answer
    (down, or its tables not migrated).
    """
    cutoff = policy.cutoff(now or datetime.now(UTC))
    deleted = {table: 0 for rule in rules for table in rule.tables}
    try:
        if dry_run:
            with engine.connect() as conn:
                for rule in rules:
                    for table, statement in rule.counts(cutoff):
                        deleted[table] += int(conn.execute(statement).scalar_one())
        else:
            for rule in rules:
                _sweep(engine, rule, cutoff, policy.batch_size, deleted, keep_going)
    except sa.exc.SQLAlchemyError as exc:
        raise RetentionUnavailable(_why(engine, exc)) from exc
    return PruneReport(cutoff=cutoff, dry_run=dry_run, deleted=deleted)


def _sweep(
    engine: sa.Engine,
    rule: PruneRule,
    cutoff: datetime,
    batch_size: int,
    deleted: dict[str, int],
    keep_going: Callable[[], bool],
) -> None:
    while keep_going():
        with engine.begin() as conn:
            keys = conn.execute(rule.batch(cutoff, batch_size)).all()
            for table, statement in rule.deletes(keys, cutoff) if keys else ():
                deleted[table] += max(conn.execute(statement).rowcount, 0)
        if len(keys) < batch_size:
            return


def _why(engine: sa.Engine, exc: sa.exc.SQLAlchemyError) -> str:
    where = engine.url.render_as_string(hide_password=True)
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    missing = any(word in first.lower() for word in ("no such table", "does not exist", "undefinedtable"))
    advice = "run `cloudops db upgrade` on it first" if missing else "check that it is up and reachable"
    return f"cannot prune {where}: {first} ({advice})"


def retention_loop(
    engine: sa.Engine,
    max_age_s: float | None,
    rules: Sequence[PruneRule],
    metrics: RouterMetrics,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    name: str = "retention",
) -> RetentionLoop | None:
    """The background prune of `rules`' tables every `interval_s`; None when retention is `off` (no max age).
    The router's factory and the gateway both start theirs here."""
    if max_age_s is None:
        return None
    policy = RetentionPolicy(max_age_s)
    return RetentionLoop(
        lambda keep_going: prune(engine, policy, rules, keep_going=keep_going),
        metrics,
        interval_s=interval_s,
        name=name,
    )
