"""Reads of the router's tables (`operation_outcomes`, `shadow_comparisons`) for the matrix and the dashboard.

Every read is bounded so a busy database never makes a page slow without limit: the dashboard's statistics are
aggregated in SQL by the router's read model (`router.read_model`), and row reads have a time window and a cap.
Database failures become `flags.FlagStoreUnavailable` (the same message as the flag store's), so the pages answer
503 with the cause, never 500.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from console.rollup import ComparisonRow, ScopeStats, scope_stats
from flags import FlagStoreUnavailable
from flags.model import utc
from router.read_model import OutcomeReadModel, ReadWindow
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["DIMENSIONS", "Window", "RouterTables"]

DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")
_MAX_ROWS = 50_000
_MAX_DIMENSION_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class Window:
    """The rows a query reads: since `hours` ago, with each named dimension equal to its value."""

    hours: float
    filters: Mapping[str, str]

    def since(self, now: datetime | None = None) -> datetime:
        return (now or datetime.now(UTC)) - timedelta(hours=self.hours)


def _dims(row: sa.RowMapping) -> dict[str, str]:
    return {d: row[d] or "" for d in DIMENSIONS}


class RouterTables:
    """Reads the router's SQL tables through `engine` (the flag store's engine: one database for both)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            hint = " (run `cloudops db upgrade`)" if "no such table" in str(exc) or "does not exist" in str(exc) else ""
            raise FlagStoreUnavailable(
                f"cannot read the router's tables: {text[0] if text else type(exc).__name__}{hint}"
            ) from exc

    def _where(self, table: sa.Table, time_column: sa.Column[Any], window: Window) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = [time_column >= window.since()]
        for name, value in window.filters.items():
            if name in DIMENSIONS and value:
                clauses.append(table.c[name] == value)
        return clauses

    def seen_dimensions(self, hours: float) -> list[dict[str, str]]:
        """The distinct dimension combinations of operations finished in the last `hours`."""
        columns = [operation_outcomes.c[d] for d in DIMENSIONS]
        query = (
            sa.select(*columns)
            .where(operation_outcomes.c.finished_at >= Window(hours, {}).since())
            .group_by(*columns)
            .limit(_MAX_DIMENSION_ROWS)
        )
        with self._reading() as conn:
            return [_dims(r) for r in conn.execute(query).mappings()]

    def scope_stats(self, window: Window, group_by: Sequence[str]) -> list[ScopeStats]:
        """Stats per scope of the window, busiest first, aggregated in SQL by the router's read model."""
        since = window.since()
        read = ReadWindow(since, None, {k: v for k, v in window.filters.items() if k in DIMENSIONS and v})
        model = OutcomeReadModel(self.engine)
        with self._reading():
            paths = model.paths(read, group_by)
            comparisons = model.comparison_counts(read, group_by)
        return scope_stats(paths, comparisons, group_by)

    def comparisons(self, window: Window, *, outcome: str | None = None, limit: int = _MAX_ROWS) -> list[ComparisonRow]:
        """Comparisons in the window, newest first (only those with `outcome`, when given)."""
        t = shadow_comparisons
        clauses = self._where(t, t.c.compared_at, window)
        if outcome is not None:
            clauses.append(t.c.outcome == outcome)
        columns = [t.c.operation_id, *(t.c[d] for d in DIMENSIONS), t.c.control_path, t.c.candidate_path]
        columns += [t.c.outcome, t.c.diffs, t.c.compared_at]
        query = sa.select(*columns).where(*clauses).order_by(t.c.compared_at.desc(), t.c.id.desc()).limit(limit)
        with self._reading() as conn:
            return [
                ComparisonRow(
                    operation_id=r["operation_id"],
                    dimensions=_dims(r),
                    control_path=r["control_path"],
                    candidate_path=r["candidate_path"],
                    outcome=r["outcome"],
                    diffs=_diff_list(r["diffs"]),
                    compared_at=utc(r["compared_at"]),
                )
                for r in conn.execute(query).mappings()
            ]


def _diff_list(raw: Any) -> list[Mapping[str, Any]]:
    """Stored diffs are a list of FieldDiff JSON, or a truncation marker when they were too large to keep."""
    if isinstance(raw, list):
        return [d for d in raw if isinstance(d, Mapping)]
    if isinstance(raw, Mapping) and raw.get("truncated"):
        return [{"path": "(truncated)", "control": f"{raw.get('bytes')} bytes", "candidate": raw.get("preview")}]
    return []
