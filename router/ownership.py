"""Who owns an operation: the path it started on, recorded by operation id, surviving router restarts.

Rule 2 of the architecture: an operation that has started on one path is never restarted on the other, whatever
the flags say later. The first `claim` of an operation id wins (an atomic insert); every later claim returns the
existing owner. The only move allowed is `reassign` from durable to legacy when the workflow was certainly not
started (rule 4), as a compare-and-set.

A store that cannot answer raises `router.errors.OwnershipUnavailable` (whatever its storage's own errors are),
so the router handles an outage without knowing how the store keeps its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa

from router.contract import Path
from router.errors import OwnershipUnavailable
from router.tables import operation_owners

__all__ = ["InMemoryOwnership", "Ownership", "OwnershipStore", "SqlOwnership"]


@dataclass(frozen=True, slots=True)
class Ownership:
    operation_id: str
    path: Path
    reason: str
    claimed_at: datetime


class OwnershipStore(Protocol):
    """Who owns each operation. Every method raises OwnershipUnavailable when the store cannot answer."""

    def owner(self, operation_id: str) -> Ownership | None: ...

    def claim(self, operation_id: str, path: Path, reason: str) -> Ownership:
        """Record `path` as the owner unless one is recorded already; return whichever owner stands."""
        ...

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        """Move ownership only if `from_path` still owns it; True when moved."""
        ...


class InMemoryOwnership:
    """Ownership in one process's memory: for tests and single-process tools (it does not survive a restart)."""

    def __init__(self) -> None:
        self._owners: dict[str, Ownership] = {}

    def owner(self, operation_id: str) -> Ownership | None:
        return self._owners.get(operation_id)

    def claim(self, operation_id: str, path: Path, reason: str) -> Ownership:
        return self._owners.setdefault(operation_id, Ownership(operation_id, path, reason, datetime.now(UTC)))

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        current = self._owners.get(operation_id)
        if current is None or current.path is not from_path:
            return False
        self._owners[operation_id] = Ownership(operation_id, to_path, reason, current.claimed_at)
        return True


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


class SqlOwnership:
    """Ownership in the `operation_owners` table; safe across routers sharing one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def owner(self, operation_id: str) -> Ownership | None:
        with _answering("read the owner", operation_id):
            return self._owner(operation_id)

    def _owner(self, operation_id: str) -> Ownership | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(operation_owners).where(operation_owners.c.operation_id == operation_id)
            ).first()
        if row is None:
            return None
        claimed = row.claimed_at if row.claimed_at.tzinfo else row.claimed_at.replace(tzinfo=UTC)
        return Ownership(row.operation_id, Path(row.path), row.reason, claimed)

    def claim(self, operation_id: str, path: Path, reason: str) -> Ownership:
        now = datetime.now(UTC)
        reason = reason[:400]
        try:
            with _answering("claim the operation", operation_id), self.engine.begin() as conn:
                conn.execute(
                    operation_owners.insert().values(
                        operation_id=operation_id, path=path.value, reason=reason, claimed_at=now, updated_at=now
                    )
                )
            return Ownership(operation_id, path, reason, now)  # the insert won: this claim is the owner
        except sa.exc.IntegrityError:
            pass  # another attempt claimed it first: its owner stands
        found = self.owner(operation_id)
        if found is None:  # pragma: no cover - a row we just saw inserted cannot vanish but by hand
            raise RuntimeError(f"ownership row for {operation_id} disappeared")
        return found

    def reassign(self, operation_id: str, from_path: Path, to_path: Path, reason: str) -> bool:
        with _answering("reassign the operation", operation_id), self.engine.begin() as conn:
            moved = conn.execute(
                operation_owners.update()
                .where(operation_owners.c.operation_id == operation_id, operation_owners.c.path == from_path.value)
                .values(path=to_path.value, reason=reason[:400], updated_at=datetime.now(UTC))
            )
        return moved.rowcount == 1
