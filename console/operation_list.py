"""The operations page's list: recent operations of both paths from the router's outcomes table, newest first,
with the running durable ones (`console.live`) on top, filtered by scope, path, status and a time window.

`parse_filter` turns the page's query string into an `OperationFilter` (a bad value is an `InputError` naming the
field); `OperationReader.page` reads one bounded page of `operation_outcomes` (one row per finished operation,
written by the router; the console only reads it); `merge_running` puts the live executions in front. The page is
`console.pages.operations`, its template `operations.html` (rows in `_operation_rows.html`, which console.js
re-fetches every few seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from console.errors import InputError
from console.live import LiveOperation
from console.queries import DIMENSIONS, RouterTables
from flags.model import utc
from router.tables import operation_outcomes

__all__ = [
    "PAGE_SIZE",
    "STATUSES",
    "OperationFilter",
    "OperationPage",
    "OperationReader",
    "OperationRow",
    "first_error",
    "parse_filter",
    "running_rows",
]

PAGE_SIZE = 50
STATUSES = ("running", "succeeded", "failed")
PATHS = ("legacy", "durable")
_MAX_HOURS = 24 * 30
_MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class OperationFilter:
    """Which operations to list: each named dimension equal, a path and a status (empty: any), the last `hours`,
    and which page of `PAGE_SIZE` rows (0 first)."""

    dimensions: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    status: str = ""
    hours: float = 24.0
    page: int = 0

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The query string that reproduces this filter (with `changes`), for links and the poll URL."""
        chosen = replace(self, **changes) if changes else self
        args = {k: v for k, v in chosen.dimensions.items() if v}
        args |= {k: v for k, v in (("path", chosen.path), ("status", chosen.status)) if v}
        args["hours"] = f"{chosen.hours:g}"
        if chosen.page:
            args["page"] = str(chosen.page)
        return args


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One operation as the list shows it: finished (from the outcomes table) or running (from Temporal)."""

    operation_id: str
    when: datetime | None
    dimensions: Mapping[str, str]
    path: str
    stage: str
    status: str
    error_kind: str = ""
    first_error: str = ""
    duration_s: float | None = None
    workflow_id: str = ""
    task_id: str = ""
    temporal_url: str = ""
    state: str = ""
    progress: str = ""

    @property
    def scope(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.dimensions.items() if v)


@dataclass(frozen=True, slots=True)
class OperationPage:
    """One page of the list; `more` when an older page exists."""

    rows: tuple[OperationRow, ...]
    more: bool


def parse_filter(args: Mapping[str, str]) -> OperationFilter:
    """The filter from a query string; an unknown path or status, or a bad window or page, is an InputError."""
    dimensions = {d: args.get(d, "").strip() for d in DIMENSIONS if args.get(d, "").strip()}
    path, status = args.get("path", "").strip(), args.get("status", "").strip()
    if path and path not in PATHS:
        raise InputError(f"path must be one of {', '.join(PATHS)} (or empty for both), got {path!r}", field="path")
    if status and status not in STATUSES:
        raise InputError(
            f"status must be one of {', '.join(STATUSES)} (or empty for any), got {status!r}", field="status"
        )
    hours = _number(args.get("hours", ""), "hours", float, default=24.0)
    if not 0 < hours <= _MAX_HOURS:
        raise InputError(f"hours must be more than 0 and at most {_MAX_HOURS}, got {hours:g}", field="hours")
    page = _number(args.get("page", ""), "page", int, default=0)
    if not 0 <= page <= _MAX_PAGE:
        raise InputError(f"page must be from 0 to {_MAX_PAGE}, got {page}", field="page")
    return OperationFilter(dimensions, path, status, hours, page)


def _number(raw: str, name: str, kind: type[Any], *, default: float) -> Any:
    """`raw` as a number; empty (a form's blank field) is `default`."""
    if not raw.strip():
        return default
    try:
        return kind(raw.strip())
    except ValueError:
        raise InputError(f"{name} must be a number, got {raw!r}", field=name) from None


class OperationReader:
    """Reads pages of finished operations from the router's `operation_outcomes` (through `RouterTables`, so a
    database failure is the flag store's one-line 503)."""

    def __init__(self, tables: RouterTables, *, temporal_url: Callable[[str], str] | None = None) -> None:
        self.tables = tables
        self._temporal_url = temporal_url

    def page(self, wanted: OperationFilter, now: datetime | None = None) -> tuple[list[OperationRow], bool]:
        """Finished operations matching `wanted`, newest first: its page, and whether an older one exists."""
        if wanted.status == "running" or (wanted.path and wanted.path not in PATHS):
            return [], False
        t = operation_outcomes
        since = (now or datetime.now(UTC)) - timedelta(hours=wanted.hours)
        clauses: list[sa.ColumnElement[bool]] = [t.c.finished_at >= since]
        clauses += [t.c[d] == v for d, v in wanted.dimensions.items() if d in DIMENSIONS]
        if wanted.path:
            clauses.append(t.c.path == wanted.path)
        if wanted.status:
            clauses.append(t.c.status == wanted.status)
        columns = [t.c.operation_id, *(t.c[d] for d in DIMENSIONS), t.c.path, t.c.stage, t.c.status]
        columns += [t.c.error_kind, t.c.errors, t.c.task_id, t.c.workflow_id, t.c.duration_s, t.c.finished_at]
        query = sa.select(*columns).where(*clauses).order_by(t.c.finished_at.desc(), t.c.id.desc())
        query = query.offset(wanted.page * PAGE_SIZE).limit(PAGE_SIZE + 1)
        rows = [self._row(r) for r in self.tables.rows(query)]
        return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE

    def _row(self, r: sa.RowMapping) -> OperationRow:
        workflow_id = r["workflow_id"] or ""
        return OperationRow(
            operation_id=r["operation_id"],
            when=utc(r["finished_at"]),
            dimensions={d: r[d] or "" for d in DIMENSIONS},
            path=r["path"],
            stage=r["stage"],
            status=r["status"],
            error_kind=r["error_kind"] or "",
            first_error=first_error(r["errors"]),
            duration_s=float(r["duration_s"]),
            workflow_id=workflow_id,
            task_id=r["task_id"] or "",
            temporal_url=self._temporal_url(workflow_id) if workflow_id and self._temporal_url else "",
        )


def first_error(raw: Any) -> str:
    """The first error's message of a stored errors list (dicts with `message`, or strings), cut to one line."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        return ""
    first = raw[0]
    text = first.get("message", "") if isinstance(first, Mapping) else str(first)
    line = str(text).strip().splitlines()
    return line[0][:300] if line else ""


def running_rows(live: Sequence[LiveOperation], wanted: OperationFilter) -> list[OperationRow]:
    """The running durable executions that match `wanted` (only on the first page; none for a finished status
    or the legacy path)."""
    if wanted.page or wanted.status not in ("", "running") or wanted.path not in ("", "durable"):
        return []
    rows = []
    for op in live:
        if any(op.dimensions.get(d, "") != v for d, v in wanted.dimensions.items()):
            continue
        progress = op.progress or {}
        since = op.started_at and utc(op.started_at)
        if since and since < datetime.now(UTC) - timedelta(hours=wanted.hours):
            continue
        step = str(progress.get("step", "") or "")
        rows.append(
            OperationRow(
                operation_id=op.workflow_id.removeprefix("cloudop-"),
                when=since,
                dimensions={d: op.dimensions.get(d, "") for d in DIMENSIONS},
                path="durable",
                stage="",  # the decision is in the memo, which visibility does not list; the finished row has it
                status="running",
                first_error=op.progress_error or "",
                workflow_id=op.workflow_id,
                temporal_url=op.ui_url,
                state=str(progress.get("state", "") or ""),
                progress=f"{step} ({op.steps_done})" if step else "",
            )
        )
    return rows
