"""`cloudops bench retention`: how long a batched prune holds a transaction open, against one unbatched delete of
the same rows in the same run.

Fills a database with --rows old outcomes (each with its owner), half as many old comparisons, a tenth as many
young outcomes with owners, and a hundredth as many owners of operations still running (no outcome); then prunes
it with `router.retention_sql.prune` in batches of --batch-size, timing every transaction. The baseline fills the
same rows again and deletes them with the same rules as three plain DELETE statements in one transaction, the way
a prune without batches would. SQLite always; PostgreSQL at --postgres-url (an empty database) when given.

The target is the ratio of the longest batch to the baseline's one transaction: the longest any writer (a router
recording an outcome, a gateway moving a task on) may wait behind a prune. The ratio of the totals is reported
too: batches pay a round trip and a select each, so the whole prune takes longer than one delete would.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bench._support import Target, emit, json_option, summary_ms

__all__ = ["command"]

_DIMENSIONS = {"operation": "resizeServerGroup", "stage_type": "resize", "account": "prod", "provider": "aws"}


def _fill(url: str, rows: int, now: datetime) -> None:
    import sqlalchemy as sa

    import migrations
    from router.tables import operation_outcomes, operation_owners, shadow_comparisons

    migrations.upgrade(url)
    engine = sa.create_engine(url)
    old, young = now - timedelta(days=40), now - timedelta(days=1)
    finished = [(f"old-{i}", old) for i in range(rows)] + [(f"young-{i}", young) for i in range(rows // 10)]
    running = [f"running-{i}" for i in range(max(1, rows // 100))]
    with engine.begin() as conn:
        for table in (shadow_comparisons, operation_outcomes, operation_owners):
            conn.execute(table.delete())
        for first in range(0, len(finished), 20_000):
            chunk = finished[first : first + 20_000]
            conn.execute(
                operation_owners.insert(),
                [{"operation_id": i, "path": "legacy", "claimed_at": at, "updated_at": at} for i, at in chunk],
            )
            conn.execute(
                operation_outcomes.insert(),
                [
                    {
                        "operation_id": i,
                        **_DIMENSIONS,
                        "application": f"app{n % 50}",
                        "path": "legacy",
                        "stage": "legacy",
                        "status": "succeeded",
                        "errors": [],
                        "decision": {},
                        "duration_s": 1.0,
                        "finished_at": at,
                    }
                    for n, (i, at) in enumerate(chunk)
                ],
            )
            conn.execute(
                shadow_comparisons.insert(),
                [
                    {
                        "operation_id": i,
                        **_DIMENSIONS,
                        "application": "app",
                        "control_path": "legacy",
                        "candidate_path": "durable",
                        "outcome": "match",
                        "diffs": [],
                        "control": {},
                        "candidate": {},
                        "control_duration_s": 0.1,
                        "candidate_duration_s": 0.1,
                        "compared_at": at,
                    }
                    for i, at in chunk[::2]
                ],
            )
        conn.execute(
            operation_owners.insert(),
            [{"operation_id": i, "path": "durable", "claimed_at": old, "updated_at": old} for i in running],
        )
    engine.dispose()


def _timed_transactions(engine: Any) -> list[float]:
    """Seconds from BEGIN to COMMIT of every transaction on `engine` from now on."""
    import sqlalchemy as sa

    opened: dict[int, float] = {}
    spans: list[float] = []
    sa.event.listen(engine, "begin", lambda conn: opened.__setitem__(id(conn), time.perf_counter()))
    sa.event.listen(engine, "commit", lambda conn: spans.append(time.perf_counter() - opened.pop(id(conn))))
    return spans


def _batched(url: str, rows: int, batch_size: int, now: datetime) -> dict[str, Any]:
    import sqlalchemy as sa

    from router.retention import router_rules
    from router.retention_sql import prune
    from router.retention_values import RetentionPolicy

    _fill(url, rows, now)
    engine = sa.create_engine(url)
    spans = _timed_transactions(engine)
    started = time.perf_counter()
    report = prune(engine, RetentionPolicy(30 * 86400, batch_size), router_rules(), now=now)
    total = time.perf_counter() - started
    engine.dispose()
    return {"seconds": round(total, 3), "deleted": dict(report.deleted), "transactions": summary_ms(spans)}


def _unbatched(url: str, rows: int, now: datetime) -> dict[str, Any]:
    import sqlalchemy as sa

    from router.tables import (
        comparison_rollups,
        operation_outcomes as outcomes,
        operation_owners as owners,
        outcome_rollups,
        shadow_comparisons,
    )

    _fill(url, rows, now)
    engine = sa.create_engine(url)
    cutoff = now - timedelta(days=30)
    young = outcomes.alias("young")
    old_owner = sa.exists().where(outcomes.c.operation_id == owners.c.operation_id, outcomes.c.finished_at < cutoff)
    young_owner = sa.exists().where(young.c.operation_id == owners.c.operation_id, young.c.finished_at >= cutoff)
    started = time.perf_counter()
    with engine.begin() as conn:
        deleted = {
            "operation_owners": conn.execute(owners.delete().where(old_owner, ~young_owner)).rowcount,
            "operation_outcomes": conn.execute(outcomes.delete().where(outcomes.c.finished_at < cutoff)).rowcount,
            "shadow_comparisons": conn.execute(
                shadow_comparisons.delete().where(shadow_comparisons.c.compared_at < cutoff)
            ).rowcount,
        }
        # The hourly rollups of the pruned hours (router.retention.RollupRule), emptied by the deletes' triggers.
        for rollup in (outcome_rollups, comparison_rollups):
            old_hours = rollup.delete().where(rollup.c.bucket <= cutoff - timedelta(hours=1))
            deleted[rollup.name] = conn.execute(old_hours).rowcount
    total = time.perf_counter() - started
    engine.dispose()
    return {"seconds": round(total, 3), "deleted": deleted}


@click.command()
@json_option
@click.option("--rows", type=click.IntRange(100), default=200_000, show_default=True, help="Old outcomes to prune.")
@click.option("--batch-size", type=click.IntRange(1), default=5000, show_default=True, help="Rows per batch.")
@click.option("--postgres-url", default=None, help="An empty PostgreSQL database to measure too.")
def command(as_json: bool, rows: int, batch_size: int, postgres_url: str | None) -> None:
    """Time a batched prune of --rows old outcomes (and their owners and comparisons) against one plain delete."""
    started = time.monotonic()
    now = datetime.now(UTC)
    databases: dict[str, Any] = {}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-retention-") as tmp:
        urls = {"sqlite": f"sqlite:///{Path(tmp) / 'retention.db'}"}
        if postgres_url:
            urls["postgresql"] = postgres_url
        for name, url in urls.items():
            batched, baseline = _batched(url, rows, batch_size, now), _unbatched(url, rows, now)
            longest_s = batched["transactions"]["max_ms"] / 1000
            ratios = {
                "longest_batch_over_one_delete": round(longest_s / max(baseline["seconds"], 1e-9), 4),
                "total_over_one_delete": round(batched["seconds"] / max(baseline["seconds"], 1e-9), 3),
            }
            databases[name] = {"batched": batched, "baseline_one_delete": baseline, "ratios": ratios}
            # The target is the lock a writer may wait behind; the total is a figure (batches cost more in all).
            targets.append(
                Target.at_most(f"{name} longest batch / one delete", ratios["longest_batch_over_one_delete"], 0.25)
            )
    if not postgres_url:
        databases["postgresql"] = "not measured: pass --postgres-url"
    report = {"rows": rows, "batch_size": batch_size, "databases": databases}
    emit({**report, "targets": [t.to_json() for t in targets]}, started)
