"""What a person asks of the scopes matrix: search, a filter on every dimension and on the stage, the page, and
which operation columns are collapsed; parsed from query parameters (the page and `GET /api/scopes` alike).

Parsing raises InputError naming the parameter, so a wrong value is a 400 that says what to send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from console.edits import whole_number
from console.errors import InputError
from flags import MigrationStage

__all__ = ["MAX_PER_PAGE", "PER_PAGE", "MatrixQuery", "parse_matrix_query"]

PER_PAGE = 20
"""Applications a page by default: each has a row per account, so a page stays a couple of screens long."""
MAX_PER_PAGE = 200

_TEXT = ("search", "account", "operation", "stage_type", "provider", "stage")


@dataclass(frozen=True, slots=True)
class MatrixQuery:
    """`search` is a case-insensitive part of an application name; `account`, `operation`, `stage_type` and
    `provider` pick a value of that dimension (absent: every account and operation, and requests that carry no
    stage type; the provider is the account's own); `stage` keeps the rows with a cell at that stage."""

    search: str = ""
    account: str = ""
    operation: str = ""
    stage_type: str = ""
    provider: str = ""
    stage: str = ""
    page: int = 1
    per_page: int = PER_PAGE
    collapsed: tuple[str, ...] = ()

    def filters(self) -> dict[str, str]:
        """The non-empty text filters, by parameter name (what links keep when they change one thing)."""
        return {name: getattr(self, name) for name in _TEXT if getattr(self, name)}

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query parameters reproducing this query with `changes` (for paging and collapse links)."""
        query = replace(self, **changes)
        args: dict[str, Any] = query.filters()
        if query.page != 1:
            args["page"] = query.page
        if query.per_page != PER_PAGE:
            args["per_page"] = query.per_page
        if query.collapsed:
            args["collapse"] = list(query.collapsed)
        return args

    def toggled(self, operation: str) -> dict[str, Any]:
        """The parameters that collapse `operation`'s column, or expand it when it is collapsed."""
        if operation in self.collapsed:
            return self.args(collapsed=tuple(o for o in self.collapsed if o != operation))
        return self.args(collapsed=(*self.collapsed, operation))


def _text(args: Mapping[str, Any], name: str) -> str:
    raw = args.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > 200:
        raise InputError(f"{name} must be text of at most 200 characters", field=name)
    return raw.strip()


def _count(args: Mapping[str, Any], name: str, default: int, top: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    number = whole_number(raw) if isinstance(raw, str) else None
    if number is None or not 1 <= number <= top:
        raise InputError(f"{name} must be a whole number from 1 to {top}, got {raw!r}", field=name)
    return number


def parse_matrix_query(args: Mapping[str, Any], collapsed: Sequence[str] = ()) -> MatrixQuery:
    """From query parameters: search, account, operation, stage_type, provider, stage, page, per_page and the
    repeated `collapse` (an operation whose column is folded)."""
    values = {name: _text(args, name) for name in _TEXT}
    stages = tuple(s.value for s in MigrationStage)
    if values["stage"] and values["stage"] not in stages:
        raise InputError(f"stage must be one of {', '.join(stages)}, got {values['stage']!r}", field="stage")
    folded = tuple(dict.fromkeys(c.strip() for item in collapsed for c in item.split(",") if c.strip()))
    if any(len(c) > 200 for c in folded) or len(folded) > 100:
        raise InputError("collapse takes at most 100 operation names of at most 200 characters", field="collapse")
    return MatrixQuery(
        **values,
        page=_count(args, "page", 1, 10**6),
        per_page=_count(args, "per_page", PER_PAGE, MAX_PER_PAGE),
        collapsed=folded,
    )
