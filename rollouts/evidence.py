"""The evidence a rollout step is judged on, read from `operation_outcomes` and `shadow_comparisons`.

A scope's dimensions match the rows' columns exactly (`application=api` reads rows whose `application` is
"api"). Durable numbers and comparisons come from the step's own window. Legacy's numbers (the baseline) come from
the same window when it holds enough legacy operations; at high canary steps it does not (at 100% nothing runs on
legacy), so the baseline widens to everything since the rollout started, and the evidence says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa

from rollouts.errors import RolloutStoreUnavailable
from rollouts.gates import ComparisonCounts, Evidence, PathSample
from router.contract import Path
from router.read_model import LATENCY_SAMPLE, OutcomeReadModel, ReadWindow

__all__ = ["EvidenceReader", "scope_filter"]

_T = TypeVar("_T")


def scope_filter(table: sa.Table, scope: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions selecting the rows of `table` inside `scope`."""
    return [table.c[name] == value for name, value in scope.items()]


class EvidenceReader:
    """Reads per-path samples and comparison counts for a scope and a time window, through the router's read
    model (counts in SQL; latencies a sample bounded per path, every one when there are at most `latency_sample`)."""

    def __init__(self, engine: sa.Engine, *, latency_sample: int = LATENCY_SAMPLE) -> None:
        self.engine = engine
        self.model = OutcomeReadModel(engine, latency_sample=latency_sample)

    def _run(self, read: Callable[[], _T]) -> _T:
        try:
            return read()
        except sa.exc.SQLAlchemyError as exc:
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise RolloutStoreUnavailable(
                f"cannot read operation outcomes or comparisons: {text[0] if text else type(exc).__name__} "
                "(is the schema migrated? `cloudops db upgrade`)"
            ) from exc

    def path_sample(self, scope: Mapping[str, str], path: Path, since: datetime, until: datetime) -> PathSample:
        window = ReadWindow(since, until, dict(scope))
        found = self._run(lambda: self.model.paths(window, path=path.value)).get((), {}).get(path.value)
        if found is None:
            return PathSample()
        return PathSample(total=found.total, failures=found.failures, latencies=found.latencies)

    def comparison_counts(self, scope: Mapping[str, str], since: datetime, until: datetime) -> ComparisonCounts:
        window = ReadWindow(since, until, dict(scope))
        return ComparisonCounts.of(self._run(lambda: self.model.comparison_counts(window)).get((), {}))

    def collect(
        self,
        scope: Mapping[str, str],
        *,
        since: datetime,
        until: datetime,
        baseline_since: datetime,
        min_baseline: int,
    ) -> Evidence:
        """The step window's evidence; legacy widens to `baseline_since` when the window has < `min_baseline`."""
        legacy = self.path_sample(scope, Path.LEGACY, since, until)
        baseline = "the same window"
        if legacy.total < min_baseline and baseline_since < since:
            legacy = self.path_sample(scope, Path.LEGACY, baseline_since, until)
            baseline = f"legacy operations since {baseline_since.isoformat(timespec='seconds')} (the rollout's start)"
        return Evidence(
            legacy=legacy,
            durable=self.path_sample(scope, Path.DURABLE, since, until),
            comparisons=self.comparison_counts(scope, since, until),
            elapsed_s=max(0.0, (until - since).total_seconds()),
            baseline=baseline,
        )
