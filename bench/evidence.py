"""`cloudops bench evidence`: the readers of outcomes (the report, one scope's gate evidence, the console
dashboard) over a big database, against the code of a baseline commit over the same database.

Fills a database with --rows outcomes and half as many comparisons over --scopes scopes (bulk inserts), then
times each reader in a fresh subprocess (peak RSS from its ru_maxrss): once with this tree's code, once with a
`git worktree` of --baseline-ref (default `layout`, the code before the read model). SQLite always; PostgreSQL
at --postgres-url when given (otherwise the JSON says it was not measured). No git: the baseline is unavailable.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bench._support import Target, emit

__all__ = ["command"]

_REPO = Path(__file__).resolve().parent.parent
_KINDS = ("business", "infrastructure", "timeout")

# Run inside the subprocess, against whichever tree is first on sys.path (the same public APIs in both).
_PROBE = r"""
import json, resource, sys, time
from datetime import UTC, datetime, timedelta
import sqlalchemy as sa
url, mode, app = sys.argv[1], sys.argv[2], sys.argv[3]
engine = sa.create_engine(url)
now = datetime.now(UTC)
start = time.perf_counter()
if mode == "report":
    from cloudops.report import build_report
    build_report(engine, since=now - timedelta(days=2), until=now)
elif mode == "evidence":
    from rollouts.evidence import EvidenceReader
    scope = {"application": app, "account": "prod", "operation": "resizeServerGroup", "provider": "aws"}
    EvidenceReader(engine).collect(scope, since=now - timedelta(hours=12), until=now,
                                   baseline_since=now - timedelta(days=2), min_baseline=20)
else:
    from console.dashboard import DashboardQuery, build_dashboard
    from console.queries import RouterTables
    build_dashboard(RouterTables(engine), DashboardQuery(48.0, {}, ("application", "operation")), recent=20)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _fill(url: str, rows: int, scopes: int) -> float:
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
                                "path": "durable" if i % 4 == 0 else "legacy",
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


def _probe(tree: Path, url: str, mode: str) -> dict[str, Any]:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url, mode, "app3"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=1800,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return {k: round(v, 3) for k, v in result.items()}


def _baseline_tree(ref: str, where: Path) -> Path | None:
    if shutil.which("git") is None:
        return None
    tree = where / "baseline"
    done = subprocess.run(
        ["git", "-C", str(_REPO), "worktree", "add", "--detach", str(tree), ref], capture_output=True, text=True
    )
    return tree if done.returncode == 0 else None


def _measure(url: str, baseline: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("report", "evidence", "dashboard"):
        out[mode] = {"read_model": _probe(_REPO, url, mode)}
        out[mode]["baseline"] = _probe(baseline, url, mode) if baseline else "unavailable (no git worktree)"
    return out


@click.command()
@click.option("--json", "as_json", is_flag=True, default=True, help="Print JSON (the only format).")
@click.option("--rows", type=click.IntRange(100), default=1_000_000, show_default=True, help="Outcomes to insert.")
@click.option("--scopes", type=click.IntRange(1), default=1_000, show_default=True, help="Scopes they spread over.")
@click.option("--postgres-url", default=None, help="An empty PostgreSQL database to measure too.")
@click.option("--baseline-ref", default="layout", show_default=True, help="The commit whose code is the baseline.")
@click.option("--no-baseline", is_flag=True, help="Measure this tree only.")
def command(
    as_json: bool, rows: int, scopes: int, postgres_url: str | None, baseline_ref: str, no_baseline: bool
) -> None:
    """Time the report, one scope's evidence and the dashboard over --rows outcomes, against a baseline commit."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-evidence-") as tmp:
        where = Path(tmp)
        baseline = None if no_baseline else _baseline_tree(baseline_ref, where)
        databases: dict[str, Any] = {}
        urls = {"sqlite": f"sqlite:///{where / 'evidence.db'}"}
        if postgres_url:
            urls["postgresql"] = postgres_url
        for name, url in urls.items():
            fill_s = _fill(url, rows, scopes)
            databases[name] = {"fill_s": round(fill_s, 1), **_measure(url, baseline)}
        if not postgres_url:
            databases["postgresql"] = "not measured: pass --postgres-url"
        if baseline is not None:
            subprocess.run(["git", "-C", str(_REPO), "worktree", "remove", "--force", str(baseline)], check=False)
    sqlite = databases["sqlite"]
    targets = [
        Target.at_most("sqlite report_s", sqlite["report"]["read_model"].get("seconds"), 10),
        Target.at_most("sqlite report_peak_rss_mb", sqlite["report"]["read_model"].get("peak_rss_mb"), 500),
        Target.at_most("sqlite evidence_s", sqlite["evidence"]["read_model"].get("seconds"), 0.2),
        Target.at_most("sqlite dashboard_s", sqlite["dashboard"]["read_model"].get("seconds"), 1),
    ]
    report = {"rows": rows, "comparisons": rows // 2, "scopes": scopes, "baseline_ref": baseline_ref}
    emit({**report, "databases": databases, "targets": [t.to_json() for t in targets]}, started)
