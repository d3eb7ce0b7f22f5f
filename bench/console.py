"""`cloudops bench console`: the server time of the console's scopes matrix for --applications applications x the
catalogue's operations x --accounts accounts, against the matrix code of a baseline commit.

Fills a SQLite database with stage properties (through the flag store's audited writes: application-scoped,
account-scoped canaries, stage-type-scoped ones) and recent outcomes and comparisons of every application (bulk
inserts), then, in a fresh subprocess per tree, signs in through the console's login form and times its requests
through the WSGI app in process (server time: no network, no browser): the default page, the largest page (200
applications), the whole-matrix computation (a stage filter decides every cell of every application before
paging) and the JSON API's page. The baseline tree (a `git worktree` of --baseline-ref, the matrix before issue
20) has one page holding its whole matrix: that page is timed. Each figure is the median of --repeat requests,
in wall seconds and in CPU seconds of the server process (the ratios are of CPU seconds: on a shared machine the
wall time also counts the time the request waited for a core).
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
_BASELINE = "bca485d"  # main before issue 20's matrix: rows from properties and operations, no paging
_OPERATIONS = ("createServerGroup", "resizeServerGroup", "disableServerGroup", "destroyServerGroup")

# Run in a subprocess against whichever tree is first on sys.path; both trees have the same login and routes.
_PROBE = r"""
import json, statistics, sys, time
from werkzeug.security import generate_password_hash
url, repeat, paths = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
from console import create_app
from console.identity import hash_token
app = create_app({
    "DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789",
    "USERS": {"bench": {"role": "editor", "password_hash": generate_password_hash("pw", "pbkdf2:sha256:1000")}},
    "TOKENS": {"bench": {"role": "viewer", "sha256": hash_token("bench-token-0123456789")}},
    "TEMPORAL_ADDRESS": "127.0.0.1:9",
}, environ={})
client = app.test_client()
import re
token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
assert client.post("/login", data={"username": "bench", "password": "pw", "csrf_token": token}).status_code == 302
out = {}
for name, path in paths.items():
    headers = {"Authorization": "Bearer bench-token-0123456789"} if path.startswith("/api/") else {}
    times, cpu, size, status = [], [], 0, 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers=headers)
        body = response.get_data()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        size, status = len(body), response.status_code
    cells = body.count(b'class="cell ') if not path.startswith("/api/") else len(json.loads(body)["cells"])
    out[name] = {"median_s": statistics.median(times), "min_s": min(times), "cpu_median_s": statistics.median(cpu),
                 "status": status,
                 "bytes": size, "cells": cells}
print(json.dumps(out))
"""

_CURRENT_PATHS = {
    "default_page": "/scopes",
    "page_of_200_applications": "/scopes?per_page=200",
    "whole_matrix_stage_filter": "/scopes?stage=canary&per_page=200",
    "api_page_of_200": "/api/scopes?per_page=200",
}
_BASELINE_PATHS = {"whole_matrix_one_page": "/scopes"}


def _fill(url: str, applications: int, accounts: int) -> dict[str, Any]:
    import sqlalchemy as sa

    import migrations
    from flags import STAGE_KEY, SqlFlagStore
    from router.tables import operation_outcomes, shadow_comparisons

    migrations.upgrade(url)
    started = time.monotonic()
    rng = random.Random(20)
    names = [f"app-{i:04d}" for i in range(applications)]
    account_names = [f"acct-{i}" for i in range(accounts)]
    store = SqlFlagStore(url)
    properties = 0
    for i, app in enumerate(names):
        scopes: list[tuple[str, dict[str, str], float | None]] = []
        if i % 4 == 0:
            scopes.append(("shadow", {"application": app}, None))
        if i % 10 == 0:
            scopes.append(("canary", {"application": app, "account": account_names[-1]}, 25.0))
        if i % 25 == 0:
            scopes.append(("durable", {"application": app, "stage_type": "deploy"}, None))
        for stage, scope, percent in scopes:
            store.set_property(STAGE_KEY, stage, scope, actor="bench", reason="bench", percent=percent)
            properties += 1
    store.close()
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    outcomes: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for i, app in enumerate(names):
        for j in range(5):
            scope = {
                "application": app,
                "account": account_names[(i + j) % accounts],
                "operation": _OPERATIONS[j % len(_OPERATIONS)],
                "stage_type": "deploy",
                "provider": "aws",
            }
            at = now - timedelta(seconds=rng.uniform(0, 3600))
            failed = rng.random() < 0.03
            outcomes.append(
                {
                    "operation_id": f"op-{i}-{j}",
                    **scope,
                    "path": "legacy",
                    "stage": "shadow",
                    "status": "failed" if failed else "succeeded",
                    "error_kind": "infrastructure" if failed else None,
                    "errors": [],
                    "decision": {},
                    "fallback": False,
                    "duration_s": 0.2,
                    "finished_at": at,
                }
            )
            if j < 2:
                comparisons.append(
                    {
                        "operation_id": f"op-{i}-{j}",
                        **scope,
                        "control_path": "legacy",
                        "candidate_path": "durable",
                        "outcome": "mismatch" if rng.random() < 0.05 else "match",
                        "diffs": [],
                        "control": {},
                        "candidate": {},
                        "control_duration_s": 0.1,
                        "candidate_duration_s": 0.1,
                        "compared_at": at,
                    }
                )
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), outcomes)
        conn.execute(shadow_comparisons.insert(), comparisons)
    engine.dispose()
    return {
        "fill_s": round(time.monotonic() - started, 1),
        "properties": properties,
        "outcomes": len(outcomes),
        "comparisons": len(comparisons),
    }


def _probe(tree: Path, url: str, repeat: int, paths: dict[str, str]) -> dict[str, Any]:
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url, str(repeat), json.dumps(paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=1800,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return {
        name: {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
        for name, figures in result.items()
    }


def _ratio(current: dict[str, Any], baseline: Any, name: str) -> float | None:
    if not isinstance(baseline, dict) or "whole_matrix_one_page" not in baseline or name not in current:
        return None
    base = baseline["whole_matrix_one_page"]["cpu_median_s"]
    return round(current[name]["cpu_median_s"] / base, 3) if base else None


@click.command()
@click.option("--json", "as_json", is_flag=True, default=True, help="Print JSON (the only format).")
@click.option("--applications", type=click.IntRange(1), default=2_000, show_default=True, help="Applications.")
@click.option("--accounts", type=click.IntRange(1, 50), default=3, show_default=True, help="Accounts they run in.")
@click.option("--repeat", type=click.IntRange(1), default=5, show_default=True, help="Requests per figure.")
@click.option("--baseline-ref", default=_BASELINE, show_default=True, help="The commit whose matrix is the baseline.")
@click.option("--no-baseline", is_flag=True, help="Measure this tree only.")
def command(as_json: bool, applications: int, accounts: int, repeat: int, baseline_ref: str, no_baseline: bool) -> None:
    """Time the scopes matrix (a page, the largest page, the whole matrix, the API) against a baseline commit."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cloudops-bench-console-") as tmp:
        where = Path(tmp)
        url = f"sqlite:///{where / 'console.db'}"
        filled = _fill(url, applications, accounts)
        current = _probe(_REPO, url, repeat, _CURRENT_PATHS)
        baseline: Any = "not measured (--no-baseline)"
        if not no_baseline:
            tree = add_baseline_tree(baseline_ref, where)
            baseline = _probe(tree, url, repeat, _BASELINE_PATHS) if tree else "unavailable (no git worktree)"
            if tree is not None:
                remove_baseline_tree(tree)

    def seconds(name: str, figure: str = "median_s") -> float | None:
        figures = current.get(name)
        return figures.get(figure) if isinstance(figures, dict) else None

    ratios = {name: _ratio(current, baseline, name) for name in _CURRENT_PATHS}
    targets = [
        Target.at_most("default_page_s", seconds("default_page"), 1),
        Target.at_most("page_of_200_applications_s", seconds("page_of_200_applications"), 1),
        Target.at_most("whole_matrix_stage_filter_s", seconds("whole_matrix_stage_filter"), 1),
        # The same in CPU seconds of the server process: what the request costs, whatever else the machine runs.
        Target.at_most("default_page_cpu_s", seconds("default_page", "cpu_median_s"), 1),
        Target.at_most("page_of_200_applications_cpu_s", seconds("page_of_200_applications", "cpu_median_s"), 1),
        Target.at_most("whole_matrix_stage_filter_cpu_s", seconds("whole_matrix_stage_filter", "cpu_median_s"), 1),
    ]
    medians = [v for v in (seconds(n) for n in _CURRENT_PATHS) if v is not None]
    report = {
        "applications": applications,
        "accounts": accounts,
        "repeat": repeat,
        "baseline_ref": baseline_ref,
        "database": filled,
        "current": current,
        "baseline": baseline,
        "cpu_ratio_to_baseline_whole_page": ratios,
        "slowest_median_s": max(medians) if medians else None,
        "targets": [t.to_json() for t in targets],
    }
    emit(report, started)
