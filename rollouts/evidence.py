"""The evidence a rollout step is judged on, read from `operation_outcomes` and `shadow_comparisons`.

A scope's dimensions match the rows' columns exactly (`application=api` reads rows whose `application` is
"api"). Durable numbers and comparisons come from the step's own window. Legacy's numbers (the baseline) come from
the same window when it holds enough legacy operations; at high canary steps it does not (at 100% nothing runs on
legacy), so the baseline widens to everything since the rollout started, and the evidence says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rollouts.errors import RolloutStoreUnavailable
from rollouts.gates import ComparisonCounts, Evidence, PathSample
from router.contract import Path, ResultStatus
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["EvidenceReader", "scope_filter"]


def scope_filter(table: sa.Table, scope: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions selecting the rows of `table` inside `scope`."""
    return [table.c[name] == value for name, value in scope.items()]


class EvidenceReader:
    """Reads per-path samples and comparison counts for a scope and a time window."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _run(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        try:
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]
        except sa.exc.SQLAlchemyError as exc:
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise RolloutStoreUnavailable(
                f"cannot read operation outcomes or comparisons: {text[0] if text else type(exc).__name__} "
                "(is the schema migrated? `cloudops db upgrade`)"
            ) from exc

    def path_sample(self, scope: Mapping[str, str], path: Path, since: datetime, until: datetime) -> PathSample:
        t = operation_outcomes
        rows = self._run(
            sa.select(t.c.status, t.c.duration_s).where(
                *scope_filter(t, scope), t.c.path == path.value, t.c.finished_at >= since, t.c.finished_at <= until
            )
        )
        failures = sum(1 for status, _ in rows if status == ResultStatus.FAILED.value)
        return PathSample(total=len(rows), failures=failures, latencies=tuple(float(d) for _, d in rows))

    def comparison_counts(self, scope: Mapping[str, str], since: datetime, until: datetime) -> ComparisonCounts:
        t = shadow_comparisons
        rows = self._run(
            sa.select(t.c.outcome, sa.func.count())
            .where(*scope_filter(t, scope), t.c.compared_at >= since, t.c.compared_at <= until)
            .group_by(t.c.outcome)
        )
        return ComparisonCounts.of({str(outcome): int(n) for outcome, n in rows})

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
