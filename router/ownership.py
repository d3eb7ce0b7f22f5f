"""Who owns an operation: the path it started on, recorded by operation id, surviving router restarts; and what
any process needs to finish it (`StartedOperation`), so the outcome of an operation is recorded whoever polls it.

Rule 2 of the architecture: an operation that has started on one path is never restarted on the other, whatever
the flags say later. The first `claim` of an operation id wins (an atomic insert); every later claim returns the
existing owner, and says it did not make it (`Claim.won`). The only move allowed is `reassign` from durable to
legacy when the workflow was certainly not started (rule 4), as a compare-and-set, which marks the operation as
having fallen back.

The claim is on the caller's path of every operation, so on PostgreSQL and SQLite it is one statement in its own
transaction (`INSERT .. ON CONFLICT DO NOTHING RETURNING`, committed as it runs): the router claims first and
reads the owner only when the claim finds one (router/routing.py), so a first attempt costs one round trip (and
the pool's pre-ping) and one durable commit.

The claim keeps the request's dimensions, the decision and the start time; `note_handle` adds the handle once
the path has given one. A poll in another process finds the row `by_handle`; the reconciler (router/reconciler.py)
lists the `unfinished` ones. Recording an outcome exactly once is a claim on the same row's `finished_at`, made
in the record writer's transaction (router/claims.py).

A store that cannot answer raises `router.errors.OwnershipUnavailable` (whatever its storage's own errors are),
so the router handles an outage without knowing how the store keeps its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from router.contract import OperationRequest, Path, RouteDecision
from router.errors import OwnershipUnavailable
from router.tables import operation_owners

__all__ = ["Claim", "InMemoryOwnership", "Ownership", "OwnershipStore", "SqlOwnership", "StartedOperation"]

_DIMENSIONS = ("operation", "stage_type", "account", "application", "provider")

# The dialects whose INSERT takes ON CONFLICT DO NOTHING with RETURNING: the claim is one statement there.
_UPSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True, slots=True)
class StartedOperation:
    """What the starter of an operation knew, kept with its ownership so that any process can record its outcome:
    the request without its context (outcome rows keep no context), the decision, when it started, and the path
    of the shadow it began (None: no comparison is to be expected)."""

    request: OperationRequest
    decision: RouteDecision
    started_at: datetime
    shadow: Path | None = None


@dataclass(frozen=True, slots=True)
class Ownership:
    """An operation's owner. `started` is None for a row claimed without it (before migration 0006, or a claim
    that gave none); `finished_at` is set once an outcome has been recorded."""

    operation_id: str
    path: Path
    reason: str
    claimed_at: datetime
    handle: str | None = None
    started: StartedOperation | None = None
    fallback: bool = False
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim found: the owner that stands, and whether this claim made it (False: an earlier attempt of the
    operation, or a concurrent one, owns it, and it was routed before, so it must not fall back: rule 4)."""

    owner: Ownership
    won: bool

    @property
    def path(self) -> Path:
        return self.owner.path


class OwnershipStore(Protocol):
    """Who owns each operation. Every method raises OwnershipUnavailable when the store cannot answer."""

    def owner(self, operation_id: str) -> Ownership | None: ...

    def claim(self, operation_id: str, path: Path, reason: str, started: StartedOperation | None = None) -> Claim:
        """Record `path` as the owner unless one is recorded already; return whichever owner stands, durably."""
        ...

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        """Move ownership only if `from_path` still owns it (a fallback); True when moved."""
        ...

    def note_handle(self, operation_id: str, handle: str) -> None:
        """Keep the handle the owning path gave, so a process that did not start the operation can poll it."""
        ...

    def by_handle(self, handle: str) -> Ownership | None: ...

    def unfinished(self, claimed_before: datetime, after: str = "", limit: int = 100) -> list[Ownership]:
        """Operations with no recorded outcome claimed before `claimed_before`, by operation id after `after`."""
        ...


class InMemoryOwnership:
    """Ownership in one process's memory: for tests and single-process tools (it does not survive a restart)."""

    def __init__(self) -> None:
        self._owners: dict[str, Ownership] = {}

    def owner(self, operation_id: str) -> Ownership | None:
        return self._owners.get(operation_id)

    def claim(self, operation_id: str, path: Path, reason: str, started: StartedOperation | None = None) -> Claim:
        fresh = Ownership(operation_id, path, reason, datetime.now(UTC), started=started)
        standing = self._owners.setdefault(operation_id, fresh)
        return Claim(standing, standing is fresh)

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        current = self._owners.get(operation_id)
        if current is None or current.path is not from_path:
            return False
        self._owners[operation_id] = replace(current, path=to_path, reason=reason, fallback=True)
        return True

    def note_handle(self, operation_id: str, handle: str) -> None:
        current = self._owners.get(operation_id)
        if current is not None:
            self._owners[operation_id] = replace(current, handle=handle)

    def by_handle(self, handle: str) -> Ownership | None:
        return next((o for o in self._owners.values() if o.handle == handle), None)

    def unfinished(self, claimed_before: datetime, after: str = "", limit: int = 100) -> list[Ownership]:
        found = sorted(
            (o for o in self._owners.values() if o.finished_at is None and o.claimed_at < claimed_before),
            key=lambda o: o.operation_id,
        )
        return [o for o in found if o.operation_id > after][:limit]


@contextmanager
def _answering(what: str, operation_id: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.IntegrityError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise OwnershipUnavailable(
            f"the ownership store could not {what} for {operation_id}: {type(exc).__name__}", operation_id=operation_id
        ) from exc


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; every one we write is UTC."""
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _started_columns(started: StartedOperation | None) -> dict[str, Any]:
    if started is None:
        return {}
    request = started.request
    return {
        **{name: (value or "")[:200] for name, value in request.dimensions().items()},
        "decision": started.decision.to_json(),
        "shadow_path": started.shadow.value if started.shadow else None,
        "started_at": started.started_at,
    }


def ownership_of(row: Any) -> Ownership:
    """An `operation_owners` row as an Ownership (the record writer reads rows too)."""
    started = None
    if row.decision and row.started_at is not None:
        request = OperationRequest(
            row.operation_id, row.operation, row.stage_type, row.account, row.application, row.provider, {}
        )
        started_at = _aware(row.started_at)
        assert started_at is not None
        shadow = Path(row.shadow_path) if row.shadow_path else None
        started = StartedOperation(request, RouteDecision.from_json(row.decision), started_at, shadow)
    claimed = _aware(row.claimed_at)
    assert claimed is not None
    return Ownership(
        row.operation_id,
        Path(row.path),
        row.reason,
        claimed,
        handle=row.handle,
        started=started,
        fallback=bool(row.fallback),
        finished_at=_aware(row.finished_at),
    )


class SqlOwnership:
    """Ownership in the `operation_owners` table; safe across routers sharing one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Built once and executed with parameters: building it with `.values(...)` per call cost more CPU than
        # the round trip itself (about 0.45 ms a claim, measured on the benchmark machine).
        upsert = _UPSERTS.get(engine.dialect.name)
        self._claim = (
            None
            if upsert is None
            else upsert(operation_owners)
            .on_conflict_do_nothing(index_elements=[operation_owners.c.operation_id])
            .returning(operation_owners.c.operation_id)
        )

    def owner(self, operation_id: str) -> Ownership | None:
        with _answering("read the owner", operation_id):
            return self._one(operation_owners.c.operation_id == operation_id)

    def by_handle(self, handle: str) -> Ownership | None:
        with _answering("find the operation of a handle", handle):
            return self._one(operation_owners.c.handle == handle)

    def _one(self, where: sa.ColumnElement[bool]) -> Ownership | None:
        with self._single_statement() as conn:  # a retry's read after its claim found an owner: one round trip
            row = conn.execute(sa.select(operation_owners).where(where).limit(1)).first()
        return None if row is None else ownership_of(row)

    def claim(self, operation_id: str, path: Path, reason: str, started: StartedOperation | None = None) -> Claim:
        now = datetime.now(UTC)
        reason = reason[:400]
        row = {"path": path.value, "reason": reason, "claimed_at": now, "updated_at": now, **_started_columns(started)}
        with _answering("claim the operation", operation_id):
            won = self._insert_if_absent({"operation_id": operation_id, **row})
        if won:
            return Claim(Ownership(operation_id, path, reason, now, started=started), True)
        found = self.owner(operation_id)  # another attempt claimed it first: its owner stands
        if found is None:  # pragma: no cover - a row we just saw inserted cannot vanish but by hand
            raise RuntimeError(f"ownership row for {operation_id} disappeared")
        return Claim(found, False)

    def _insert_if_absent(self, values: dict[str, Any]) -> bool:
        """Insert the row unless its operation has one; True when inserted. On PostgreSQL and SQLite one statement
        (`_single_statement`); elsewhere a plain insert, whose duplicate key says the row was there."""
        if self._claim is not None:
            with self._single_statement() as conn:
                return conn.execute(self._claim, values).first() is not None
        try:
            with self.engine.begin() as conn:
                conn.execute(operation_owners.insert(), values)
        except sa.exc.IntegrityError:
            return False
        return True

    def _single_statement(self) -> AbstractContextManager[sa.Connection]:
        """A connection for one statement that is its own transaction: on PostgreSQL in autocommit (no BEGIN and
        COMMIT round trips), elsewhere in a transaction of its own (SQLite's are local calls, and autocommit there
        would commit whatever a shared in-memory connection has open)."""
        return self._autocommit.connect() if self.engine.dialect.name == "postgresql" else self.engine.begin()

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        with _answering("reassign the operation", operation_id), self.engine.begin() as conn:
            moved = conn.execute(
                operation_owners.update()
                .where(operation_owners.c.operation_id == operation_id, operation_owners.c.path == from_path.value)
                .values(path=to_path.value, reason=reason[:400], fallback=True, updated_at=datetime.now(UTC))
            )
        return moved.rowcount == 1

    def note_handle(self, operation_id: str, handle: str) -> None:
        """One UPDATE, on the caller's path after a start: on PostgreSQL committed as it runs, as the claim is."""
        with _answering("keep the handle", operation_id), self._single_statement() as conn:
            conn.execute(
                operation_owners.update()
                .where(operation_owners.c.operation_id == operation_id)
                .values(handle=handle[:400], updated_at=datetime.now(UTC))
            )

    def unfinished(self, claimed_before: datetime, after: str = "", limit: int = 100) -> list[Ownership]:
        c = operation_owners.c
        query = (
            sa.select(operation_owners)
            .where(c.finished_at.is_(None), c.claimed_at < claimed_before, c.operation_id > after)
            .order_by(c.operation_id)
            .limit(limit)
        )
        with _answering("list unfinished operations", after or "the reconciler"), self.engine.connect() as conn:
            return [ownership_of(row) for row in conn.execute(query)]
