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

from console.names import SeenNames
from console.rollup import ComparisonRow, ScopeStats, scope_stats
from console.scope_series import BUCKETS, LATENCY_PER_BUCKET, ScopeSeries, read_series
from flags import FlagStoreUnavailable
from flags.model import utc
from router.read_model import OutcomeReadModel, ReadWindow
from router.tables import operation_outcomes, shadow_comparisons

__all__ = ["DIMENSIONS", "BusiestScopes", "CellCounts", "RouterTables", "Window"]

DIMENSIONS = ("application", "account", "operation", "stage_type", "provider")
_MAX_ROWS = 50_000
_MAX_NAMES = 20_000


@dataclass(frozen=True, slots=True)
class CellCounts:
    """Operations by path and status, and comparisons by outcome, per (application, account, operation)."""

    outcomes: Mapping[tuple[str, str, str], Mapping[str, Mapping[str, int]]]
    comparisons: Mapping[tuple[str, str, str], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class BusiestScopes:
    """The busiest scopes of a window, busiest first, and how many scopes the window has in all."""

    scopes: tuple[ScopeStats, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.scopes)


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

    def rows(self, query: sa.Select[Any]) -> list[sa.RowMapping]:
        """The rows of a bounded select (the caller sets its limit), with database failures as the store's 503."""
        with self._reading() as conn:
            return list(conn.execute(query).mappings())

    def seen_names(self, hours: float) -> SeenNames:
        """The distinct values of each dimension among operations finished in the last `hours`, and the
        providers each account was seen with. Operations refused by validation are left out: a misspelt name
        that the catalogue refused is not a name to offer (or to make a matrix column of)."""
        t = operation_outcomes
        where = [
            t.c.finished_at >= Window(hours, {}).since(),
            sa.or_(t.c.error_kind.is_(None), t.c.error_kind != "validation"),
        ]
        values: dict[str, frozenset[str]] = {}
        with self._reading() as conn:
            for name in DIMENSIONS:
                query = sa.select(t.c[name]).where(*where).distinct().limit(_MAX_NAMES)
                values[name] = frozenset(v for (v,) in conn.execute(query) if v)
            pairs = sa.select(t.c.account, t.c.provider).where(*where).distinct().limit(_MAX_NAMES)
            providers: dict[str, set[str]] = {}
            for account, provider in conn.execute(pairs):
                if account and provider:
                    providers.setdefault(account, set()).add(provider)
        return SeenNames(values, {a: frozenset(p) for a, p in providers.items()})

    def cell_counts(self, hours: float, applications: Sequence[str], filters: Mapping[str, str]) -> CellCounts:
        """For the matrix page's applications: operations per (application, account, operation), path and
        status, and comparisons per cell and outcome, in the last `hours` (with each of `filters` equal).
        Bounded by the page: only its applications are read, aggregated in SQL."""
        if not applications:
            return CellCounts({}, {})
        o, c = operation_outcomes, shadow_comparisons
        since = Window(hours, {}).since()

        def where(table: sa.Table, column: sa.Column[Any]) -> list[sa.ColumnElement[bool]]:
            clauses = [column >= since, table.c.application.in_(list(applications))]
            return clauses + [table.c[k] == v for k, v in filters.items() if k in DIMENSIONS and v]

        cell = (o.c.application, o.c.account, o.c.operation)
        runs = sa.select(*cell, o.c.path, o.c.status, sa.func.count()).where(*where(o, o.c.finished_at))
        runs = runs.group_by(*cell, o.c.path, o.c.status)
        compared_cell = (c.c.application, c.c.account, c.c.operation)
        compared = sa.select(*compared_cell, c.c.outcome, sa.func.count()).where(*where(c, c.c.compared_at))
        compared = compared.group_by(*compared_cell, c.c.outcome)
        outcomes: dict[tuple[str, str, str], dict[str, dict[str, int]]] = {}
        comparisons: dict[tuple[str, str, str], dict[str, int]] = {}
        with self._reading() as conn:
            for app, account, op, path, status, n in conn.execute(runs):
                by_status = outcomes.setdefault((app, account, op), {}).setdefault(path, {})
                by_status[status] = by_status.get(status, 0) + int(n)
            for app, account, op, outcome, n in conn.execute(compared):
                by_outcome = comparisons.setdefault((app, account, op), {})
                by_outcome[outcome] = by_outcome.get(outcome, 0) + int(n)
        return CellCounts(outcomes, comparisons)

    def scope_stats(self, window: Window, group_by: Sequence[str]) -> list[ScopeStats]:
        """Stats per scope of the window, busiest first, aggregated in SQL by the router's read model."""
        return list(self.busiest_scopes(window, group_by, None).scopes)

    def busiest_scopes(self, window: Window, group_by: Sequence[str], limit: int | None) -> BusiestScopes:
        """The `limit` busiest scopes of the window (every one when None) with their latencies, and how many
        scopes the window has. The counts come from the rollups for every scope; only the latency samples of the
        scopes shown are read (the rows of 100 scopes, not of a million operations)."""
        since = window.since()
        read = ReadWindow(since, None, {k: v for k, v in window.filters.items() if k in DIMENSIONS and v})
        model = OutcomeReadModel(self.engine)
        with self._reading():
            paths = model.paths(read, group_by, latency_for=None if limit is None else ())
            comparisons = model.comparison_counts(read, group_by)
            ranked = scope_stats(paths, comparisons, group_by)
            if limit is None:
                return BusiestScopes(tuple(ranked), len(ranked))
            shown = [tuple(s.scope[d] for d in group_by) for s in ranked[:limit]]
            sampled = model.with_latencies(read, group_by, {k: paths[k] for k in shown if k in paths}, shown)
        top = scope_stats(sampled, {k: comparisons[k] for k in shown if k in comparisons}, group_by)
        return BusiestScopes(tuple(top), len(ranked))

    def scope_series(
        self, hours: float, scope: Mapping[str, str], buckets: int = BUCKETS, *, latency: bool = True
    ) -> ScopeSeries:
        """One cell's numbers over the last `hours`, in `buckets` time buckets (`console.scope_series`). Each
        dimension of `scope` must equal its value, an empty one too (a cell without an account is its own).
        Without `latency` (the dashboard's charts) buckets of whole hours lie on the hour grid and are counted
        from the hourly rollups (a partial first and last bucket when the window does not start on the hour)."""
        until = datetime.now(UTC)
        wanted = {k: v for k, v in scope.items() if k in DIMENSIONS}
        with self._reading() as conn:
            per_bucket = LATENCY_PER_BUCKET if latency else 0
            since = until - timedelta(hours=hours)
            return read_series(conn, wanted, since=since, until=until, buckets=buckets, latency_per_bucket=per_bucket)

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
