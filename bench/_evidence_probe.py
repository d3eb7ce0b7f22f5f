"""One reader of `cloudops bench evidence`, run in a fresh interpreter by bench/evidence.py (its text is passed
with `python -c`, so bench/ is not on sys.path and the tree first on PYTHONPATH, this one or the baseline's
worktree, supplies every import).

    python -c "$(cat bench/_evidence_probe.py)" URL MODE SCOPE_APPLICATION REPEATS

MODE is `report` (the shadow report over the last two days), `evidence` (one scope's gate evidence, as the
rollout controller reads it each tick) or `dashboard` (the console's dashboard page's reads, grouped by application
and operation: its statistics and, where the tree draws them, its charts). Prints one JSON object: the first
call's wall seconds and CPU seconds (this process's, and on a local PostgreSQL its backends'), cold (a fresh
process and connection pool), the medians of REPEATS more (warm: a long-lived process such as the controller's),
the process's peak RSS, and a
digest of what was read (the scopes and operations seen) so a run can check that both trees read the same thing.
It runs with the measured tree as its working directory and refuses to report when any of the project's modules
came from elsewhere.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

_PACKAGES = ("cloudops", "console", "flags", "migrations", "rollouts", "router", "cloud", "durable_runner")
_SCOPE = {"account": "prod", "operation": "resizeServerGroup", "provider": "aws"}


def _report(engine: sa.Engine, now: datetime, app: str) -> Callable[[], dict[str, Any]]:
    build_report = importlib.import_module("cloudops.report").build_report

    def read() -> dict[str, Any]:
        report = build_report(engine, since=now - timedelta(days=2), until=now)
        overall = report.overall
        return {
            "scopes": len(report.scopes),
            "operations": overall.legacy.total + overall.durable.total,
            "comparisons": overall.comparisons.counts.total,
        }

    return read


def _evidence_reader() -> Any:
    """The reader of today's tree (rollouts.evidence) or of the baseline's, from before rollouts had a package."""
    for module in ("rollouts.evidence", "router.rollout_evidence"):
        try:
            return importlib.import_module(module).EvidenceReader
        except ModuleNotFoundError:
            continue
    raise SystemExit("neither rollouts.evidence nor router.rollout_evidence is importable: not a cloudops tree")


def _evidence(engine: sa.Engine, now: datetime, app: str) -> Callable[[], dict[str, Any]]:
    reader = _evidence_reader()(engine)
    scope = {"application": app, **_SCOPE}

    def read() -> dict[str, Any]:
        found = reader.collect(
            scope,
            since=now - timedelta(hours=12),
            until=now,
            baseline_since=now - timedelta(days=2),
            min_baseline=20,
        )
        return {
            "legacy": found.legacy.total,
            "durable": found.durable.total,
            "latencies": len(found.legacy.latencies) + len(found.durable.latencies),
            "comparisons": found.comparisons.total,
        }

    return read


def _dashboard(engine: sa.Engine, now: datetime, app: str) -> Callable[[], dict[str, Any]]:
    dashboard = importlib.import_module("console.dashboard")
    tables = importlib.import_module("console.queries").RouterTables(engine)
    query = dashboard.DashboardQuery(48.0, {}, ("application", "operation"))

    # The page's charts too (console/pages/dashboard.py), when the tree draws them: the baseline's page had none,
    # so its figure is the page without charts. They stay out of the digest, which both trees must share.
    charts = getattr(tables, "scope_series", None)

    def read() -> dict[str, Any]:
        found = dashboard.build_dashboard(tables, query, recent=20)
        if charts is not None:
            charts(query.hours, query.filters, latency=False)
        return {
            "scopes": len(found.scopes),
            "operations": sum(s.operations for s in found.scopes),
            "mismatches_listed": len(found.mismatches),
        }

    return read


_MODES = {"report": _report, "evidence": _evidence, "dashboard": _dashboard}


def _only_this_tree() -> None:
    """Leave out the import hook of an editable install of the project (a venv's `__editable__` finder), which
    would otherwise supply a module the measured tree lacks (the baseline has no `rollouts` package) from the
    installed checkout, so that a missing module fails as it would in that tree."""
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]


def _foreign_modules(tree: Path) -> list[str]:
    """Modules of the project's packages that were loaded from outside `tree` (none, or the figures lie)."""
    foreign = []
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None)
        if name.split(".")[0] in _PACKAGES and where and tree not in Path(where).resolve().parents:
            foreign.append(f"{name} ({where})")
    return sorted(foreign)


def _peak_rss_mb() -> float:
    """This process's peak resident set since exec (VmHWM). ru_maxrss would not do: Linux carries the parent's
    high-water mark across fork and exec into the child's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM in /proc/self/status: peak memory cannot be measured here")


class _ServerCpu:
    """CPU seconds spent by the PostgreSQL backends serving this process's connections, when the server runs on
    this machine (its backends' /proc entries are readable); None otherwise and for SQLite, which runs in-process
    (its work is in the process's own CPU time). Wall time on a loaded shared machine is mostly waiting; CPU time
    is the work."""

    def __init__(self, engine: sa.Engine) -> None:
        self.pids: set[int] = set()
        self.tick = os.sysconf("SC_CLK_TCK")
        if engine.dialect.name == "postgresql":
            sa.event.listen(engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        self.pids.add(int(cursor.fetchone()[0]))
        cursor.close()

    def seconds(self) -> float | None:
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / self.tick if self.pids else None


def _timed(read: Callable[[], dict[str, Any]], server: _ServerCpu) -> tuple[dict[str, Any], dict[str, float]]:
    server_before, cpu_before, start = server.seconds(), time.process_time(), time.perf_counter()
    digest = read()
    times = {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_before}
    server_after = server.seconds()
    if server_after is not None:
        times["server_cpu_s"] = server_after - (server_before or 0.0)
    return digest, times


def main(argv: list[str]) -> None:
    url, mode, app, repeats = argv[0], argv[1], argv[2], int(argv[3])
    _only_this_tree()
    engine = sa.create_engine(url)
    server = _ServerCpu(engine)
    read = _MODES[mode](engine, datetime.now(UTC), app)
    digest, first = _timed(read, server)
    warm = [_timed(read, server)[1] for _ in range(repeats)]
    foreign = _foreign_modules(Path.cwd().resolve())
    if foreign:
        raise SystemExit(f"modules loaded from outside the measured tree: {', '.join(foreign[:3])}")
    result: dict[str, Any] = {**first, "digest": digest, "peak_rss_mb": _peak_rss_mb()}
    for name in first if warm else ():
        result[f"warm_median_{name}"] = statistics.median(w[name] for w in warm)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
