"""`cloudops bench evidence`: the readers of outcomes (the report, one scope's gate evidence, the console
dashboard) over a big database, against the code of a baseline commit over the same database.

Fills a database with --rows outcomes and half as many comparisons over --scopes scopes (bulk inserts), then
times each reader in a fresh subprocess (bench/_evidence_probe.py: wall and CPU seconds, cold and warm, peak RSS,
a digest of what it read): once with this tree's code, once with a `git worktree` of --baseline-ref (default
f60b18b, the code before the read model, run from its own tree only). SQLite unless --no-sqlite; PostgreSQL at
--postgres-url when given, an empty database (otherwise the JSON says it was not measured); the bench does not
start a server: start a throwaway one as tests/infra.py's start_postgres does (docs/benchmarks.md shows how).
Without git, or with a ref that cannot be checked out, it stops and says so (--no-baseline measures this tree
only).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bench._support import Target, add_baseline_tree, emit, remove_baseline_tree

__all__ = ["command"]

_REPO = Path(__file__).resolve().parent.parent
_KINDS = ("business", "infrastructure", "timeout")

_PROBE = Path(__file__).with_name("_evidence_probe.py")
_BASELINE = "f60b18b3f664988c444666cac2df6b7b3552c204"  # the code before the read model (issue 15 item 4)
_MODES = ("report", "evidence", "dashboard")


def _fill(url: str, rows: int, scopes: int) -> float:
    """Bulk-insert the outcomes and comparisons into a migrated database. The database is left as the real
    writer leaves it: the hourly rollups (router/rollups.py) are kept by migration 0011's triggers on every insert,
    whoever makes it, so this bulk insert counts its rows into them in the same transactions (the fill's time
    includes that); the baseline's code ignores the rollups."""
    import sqlalchemy as sa

    import migrations
    from router.tables import operation_outcomes, shadow_comparisons

    migrations.upgrade(url)
    engine = sa.create_engine(url)
    rng = random.Random(7)
    now = datetime.now(UTC)
    started = time.monotonic()
    diff = [{"path": "capacity.max", "control": 3, "candidate": 4}]
    with engine.begin() as conn:
        for table, count in ((operation_outcomes, rows), (shadow_comparisons, rows // 2)):
            for first in range(0, count, 20_000):
                batch: list[dict[str, Any]] = []
                for i in range(first, min(count, first + 20_000)):
                    scope = {
                        "operation": "resizeServerGroup",
                        "stage_type": "resizeServerGroup",
                        "account": "prod",
                        "application": f"app{i % scopes}",
                        "provider": "aws",
                    }
                    at = now - timedelta(seconds=rng.uniform(0, 86_400))
                    if table is operation_outcomes:
                        failed = rng.random() < 0.02
                        batch.append(
                            {
                                "operation_id": f"op-{i}",
                                **scope,
                                "path": "durable" if (i // scopes) % 4 == 0 else "legacy",  # a quarter of each scope
                                "stage": "canary",
                                "status": "failed" if failed else "succeeded",
                                "error_kind": rng.choice(_KINDS) if failed else None,
                                "errors": [],
                                "decision": {},
                                "fallback": False,
                                "duration_s": rng.lognormvariate(0, 0.5),
                                "finished_at": at,
                            }
                        )
                    else:
                        outcome = "mismatch" if rng.random() < 0.01 else "match"
                        batch.append(
                            {
                                "operation_id": f"op-{i}",
                                **scope,
                                "control_path": "legacy",
                                "candidate_path": "durable",
                                "outcome": outcome,
                                "diffs": diff if outcome == "mismatch" else [],
                                "control": {},
                                "candidate": {},
                                "control_duration_s": 0.1,
                                "candidate_duration_s": 0.1,
                                "compared_at": at,
                            }
                        )
                conn.execute(table.insert(), batch)
    engine.dispose()
    return time.monotonic() - started


def _probe(tree: Path, url: str, mode: str, repeats: int) -> dict[str, Any]:
    """One reader in a fresh interpreter on `tree`'s code: its times, peak RSS and digest (see the probe)."""
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, "-c", _PROBE.read_text(), url, mode, "app3", str(repeats)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=tree)
        child.wait()
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            lines = err.read().decode(errors="replace").strip().splitlines()
            return {"error": lines[-1] if lines else f"exit status {child.returncode}"}
        result: dict[str, Any] = json.loads(out.read())
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def _ratios(read_model: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """How many times faster (and smaller) the read model is than the baseline: baseline / read model."""

    def ratio(name: str) -> float | None:
        new, old = read_model.get(name), baseline.get(name)
        return round(old / new, 1) if isinstance(new, float | int) and isinstance(old, float | int) and new else None

    return {
        "speedup": ratio("seconds"),
        "cpu_speedup": ratio("cpu_s"),
        "server_cpu_speedup": ratio("server_cpu_s"),
        "warm_speedup": ratio("warm_median_seconds"),
        "warm_cpu_speedup": ratio("warm_median_cpu_s"),
        "memory_ratio": ratio("peak_rss_mb"),
    }


def _measure(url: str, baseline: Path | None, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in _MODES:
        # The report is read once (a command, run cold); the live readers also warm (a long-lived process).
        warm = 0 if mode == "report" else repeats
        found: dict[str, Any] = {"read_model": _probe(_REPO, url, mode, warm)}
        if baseline is None:
            found["baseline"] = "unavailable (no git worktree of the baseline)"
        else:
            found["baseline"] = _probe(baseline, url, mode, warm)
            found["baseline_over_read_model"] = _ratios(found["read_model"], found["baseline"])
            # The same scopes and operations read by both trees (the baseline's dashboard, capped at 50,000 rows,
            # reads fewer over a big window: then the digests differ and the JSON says so).
            found["same_digest"] = found["read_model"].get("digest") == found["baseline"].get("digest")
        out[mode] = found
    return out


def _targets(name: str, figures: dict[str, Any]) -> list[Target]:
    def value(mode: str, key: str) -> float | None:
        found = figures[mode]["read_model"].get(key)
        return found if isinstance(found, float | int) else None

    return [
        Target.at_most(f"{name} report_s", value("report", "seconds"), 10),
        Target.at_most(f"{name} report_peak_rss_mb", value("report", "peak_rss_mb"), 500),
        Target.at_most(f"{name} evidence_s", value("evidence", "seconds"), 0.2),
        Target.at_most(f"{name} dashboard_s", value("dashboard", "seconds"), 1),
    ]


def _empty(url: str) -> None:
    """Refuse a database that already holds outcomes: the figures would not be over --rows rows."""
    import sqlalchemy as sa

    from router.tables import operation_outcomes

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(operation_outcomes.name):
                return
            if conn.execute(sa.select(operation_outcomes.c.id).limit(1)).first() is not None:
                public = engine.url.render_as_string(hide_password=True)
                raise click.ClickException(f"{public} already holds outcomes: give --postgres-url an empty database")
    except sa.exc.SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise click.ClickException(f"cannot open --postgres-url: {text[0] if text else type(exc).__name__}") from exc
    finally:
        engine.dispose()


@click.command()
@click.option("--json", "as_json", is_flag=True, default=True, help="Print JSON (the only format).")
@click.option("--rows", type=click.IntRange(100), default=1_000_000, show_default=True, help="Outcomes to insert.")
@click.option("--scopes", type=click.IntRange(1), default=1_000, show_default=True, help="Scopes they spread over.")
@click.option("--postgres-url", default=None, help="An empty PostgreSQL database to measure too.")
@click.option("--baseline-ref", default=_BASELINE, show_default=True, help="The commit whose code is the baseline.")
@click.option("--no-baseline", is_flag=True, help="Measure this tree only.")
@click.option("--sqlite/--no-sqlite", "with_sqlite", default=True, help="Measure SQLite (a temporary file).")
@click.option("--repeats", type=click.IntRange(0), default=5, show_default=True, help="Warm reads after the first.")
def command(
    as_json: bool,
    rows: int,
    scopes: int,
    postgres_url: str | None,
    baseline_ref: str,
    no_baseline: bool,
    with_sqlite: bool,
    repeats: int,
) -> None:
    """Time the report, one scope's evidence and the dashboard over --rows outcomes, against a baseline commit."""
    started = time.monotonic()
    if not with_sqlite and not postgres_url:
        raise click.ClickException("--no-sqlite leaves nothing to measure: give --postgres-url too")
    if postgres_url:
        _empty(postgres_url)
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-evidence-") as tmp:
        where = Path(tmp)
        baseline = None if no_baseline else add_baseline_tree(baseline_ref, where)
        if baseline is None and not no_baseline:
            raise click.ClickException(f"cannot check out --baseline-ref {baseline_ref!r} (pass --no-baseline?)")
        databases: dict[str, Any] = {}
        urls = {"sqlite": f"sqlite:///{where / 'evidence.db'}"} if with_sqlite else {}
        if postgres_url:
            urls["postgresql"] = postgres_url
        try:
            for name, url in urls.items():
                fill_s = _fill(url, rows, scopes)
                databases[name] = {"fill_s": round(fill_s, 1), **_measure(url, baseline, repeats)}
        finally:
            if baseline is not None:
                remove_baseline_tree(baseline)
    targets = [t for name in urls for t in _targets(name, databases[name])]
    if not postgres_url:
        databases["postgresql"] = "not measured: pass --postgres-url"
    if not with_sqlite:
        databases["sqlite"] = "not measured: --no-sqlite"
    report = {"rows": rows, "comparisons": rows // 2, "scopes": scopes, "baseline_ref": baseline_ref}
    emit({**report, "databases": databases, "targets": [t.to_json() for t in targets]}, started)
