"""Leases, so that several `cloudops rollout controller` replicas never tick the same rollout at once.

A replica ticks a rollout only while it holds that rollout's lease: a row (rollout id, holder, lease_until) taken
by a conditional write that succeeds only when the row is absent, expired, or already the taker's. Each tick
renews it; a replica that dies lets its leases lapse after `ttl_s`, and another one takes them over. The
rollout's own compare-and-set (`RolloutStore.save`) still guards every transition: the lease makes sure the
evidence is read, the gates judged and the flag written once per tick, not once per replica.
"""

from __future__ import annotations

import sqlalchemy as sa

from rollouts.errors import RolloutStoreUnavailable
from rollouts.tables import rollout_leases

__all__ = ["LeaseStore"]


class LeaseStore:
    """Rollout leases in SQL; every replica must use the same database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def acquire(self, rollout_id: str, holder: str, now: float, ttl_s: float) -> bool:
        """Take or renew the lease of `rollout_id` for `ttl_s`; False when another replica holds it. A lease may be
        taken when nobody holds it, when it has lapsed, or when `holder` already holds it (a renewal)."""
        t = rollout_leases
        until = now + ttl_s
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    sa.update(t)
                    .where(t.c.rollout_id == rollout_id, sa.or_(t.c.holder == holder, t.c.lease_until <= now))
                    .values(holder=holder, lease_until=until)
                ).rowcount
                if taken:
                    return True
                exists = conn.execute(sa.select(t.c.rollout_id).where(t.c.rollout_id == rollout_id)).first()
                if exists is not None:
                    return False
                conn.execute(t.insert().values(rollout_id=rollout_id, holder=holder, lease_until=until))
                return True
        except sa.exc.IntegrityError:
            return False  # another replica inserted the row first: it holds the lease
        except sa.exc.SQLAlchemyError as exc:
            raise RolloutStoreUnavailable(f"cannot take the lease of rollout {rollout_id}: {exc}") from exc

    def release(self, rollout_id: str, holder: str) -> None:
        """Give a lease back (a replica stopping), so another can take it at once."""
        t = rollout_leases
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(t).where(t.c.rollout_id == rollout_id, t.c.holder == holder))
        except sa.exc.SQLAlchemyError:
            pass  # it lapses after its ttl anyway

    def holder(self, rollout_id: str, now: float) -> str | None:
        """Who holds the lease of `rollout_id` now, if anyone."""
        t = rollout_leases
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.holder, t.c.lease_until).where(t.c.rollout_id == rollout_id)).first()
        return str(row.holder) if row is not None and row.lease_until > now else None
