"""Server-side sessions and sign-in throttling for the console's pages: pure rules over two small SQL tables.

A session is a random id in the (signed, HttpOnly) cookie and a row keyed by the id's SHA-256 (console/tables.py).
It signs someone in only while its row is not revoked, was seen within the idle timeout and began within the
absolute lifetime: sign-out revokes the row, so a cookie copied before sign-out is worthless afterwards.

Sign-in attempts are throttled per user name and per client address: each attempt is written BEFORE the password
is checked (and counted with its own row), so forty parallel guesses cannot all slip past the count; a success
deletes its user's rows. Past `max_per_user` attempts in `window_s`, that user is locked for `lockout_s` from the
last attempt; past `max_per_address`, that address is. A locked user's sign-in is refused even with the right
password, with the time left. Locking per user lets anyone lock a known user out for `lockout_s`: the price of
making guessing that user's password slow; per-address limits alone would let a botnet guess freely.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from console.tables import console_login_attempts, console_sessions

__all__ = [
    "LoginThrottle",
    "SessionPolicy",
    "SessionStore",
    "ThrottlePolicy",
    "ThrottleVerdict",
    "session_valid",
    "throttle_verdict",
]

_TOUCH_EVERY_S = 60.0  # how stale `last_seen_at` may get before a request writes it (idle checks stay exact enough)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long a session lives: `idle_s` without a request, `absolute_s` at most from sign-in."""

    idle_s: float = 30 * 60.0
    absolute_s: float = 8 * 3600.0


@dataclass(frozen=True, slots=True)
class SessionRow:
    user_name: str
    fingerprint: str
    created_at: float
    last_seen_at: float
    revoked_at: float | None


def session_valid(row: SessionRow, now: float, policy: SessionPolicy) -> bool:
    """Whether a stored session still signs its user in at `now`."""
    return (
        row.revoked_at is None and now - row.last_seen_at <= policy.idle_s and now - row.created_at <= policy.absolute_s
    )


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """The console's sessions in SQL (every replica sees every sign-out)."""

    def __init__(self, engine: sa.Engine, policy: SessionPolicy) -> None:
        self.engine = engine
        self.policy = policy

    def create(self, user_name: str, fingerprint: str, now: float) -> str:
        """A new session for `user_name`; returns its id, for the cookie only."""
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.insert().values(
                    id_sha256=_digest(session_id),
                    user_name=user_name,
                    fingerprint=fingerprint,
                    created_at=now,
                    last_seen_at=now,
                    revoked_at=None,
                )
            )
        return session_id

    def lookup(self, session_id: str, now: float) -> SessionRow | None:
        """The session `session_id` names if it is still valid at `now` (its last-seen time moved on)."""
        digest = _digest(session_id)
        t = console_sessions
        with self.engine.begin() as conn:
            found = conn.execute(sa.select(t).where(t.c.id_sha256 == digest)).mappings().first()
            if found is None:
                return None
            row = SessionRow(
                found["user_name"],
                found["fingerprint"],
                found["created_at"],
                found["last_seen_at"],
                found["revoked_at"],
            )
            if not session_valid(row, now, self.policy):
                return None
            if now - row.last_seen_at >= _TOUCH_EVERY_S:
                conn.execute(sa.update(t).where(t.c.id_sha256 == digest).values(last_seen_at=now))
        return row

    def revoke(self, session_id: str, now: float) -> None:
        t = console_sessions
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t)
                .where(t.c.id_sha256 == _digest(session_id), t.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def prune(self, now: float) -> int:
        """Delete sessions that can no longer sign anyone in; returns how many."""
        t = console_sessions
        cutoff = now - max(self.policy.idle_s, self.policy.absolute_s)
        with self.engine.begin() as conn:
            done = conn.execute(sa.delete(t).where(sa.or_(t.c.revoked_at.is_not(None), t.c.last_seen_at < cutoff)))
        return int(done.rowcount or 0)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Sign-in limits: attempts per user and per address within `window_s`; a lock lasts `lockout_s`."""

    max_per_user: int = 5
    max_per_address: int = 20
    window_s: float = 15 * 60.0
    lockout_s: float = 15 * 60.0


@dataclass(frozen=True, slots=True)
class ThrottleVerdict:
    allowed: bool
    retry_after_s: int = 0
    message: str = ""


def _locked_for(times: Sequence[float], limit: int, now: float, policy: ThrottlePolicy) -> float:
    recent = [t for t in times if now - t <= policy.window_s]
    if len(recent) <= limit:
        return 0.0
    return max(0.0, max(recent) + policy.lockout_s - now)


def throttle_verdict(
    user_times: Sequence[float], address_times: Sequence[float], now: float, policy: ThrottlePolicy
) -> ThrottleVerdict:
    """Whether a sign-in attempt may go on, given the attempt times counted against its user and its address
    (this attempt included)."""
    user_wait = _locked_for(user_times, policy.max_per_user, now, policy)
    address_wait = _locked_for(address_times, policy.max_per_address, now, policy)
    wait = max(user_wait, address_wait)
    if wait <= 0:
        return ThrottleVerdict(True)
    minutes = max(1, math.ceil(wait / 60))
    who = "this user" if user_wait >= address_wait else "your address"
    return ThrottleVerdict(
        False,
        retry_after_s=math.ceil(wait),
        message=f"too many sign-in attempts for {who}: try again in {minutes} minute{'s' if minutes > 1 else ''}",
    )


class LoginThrottle:
    """Counts sign-in attempts in SQL and says whether one may proceed."""

    def __init__(self, engine: sa.Engine, policy: ThrottlePolicy) -> None:
        self.engine = engine
        self.policy = policy

    def attempt(self, user_name: str, address: str, now: float) -> ThrottleVerdict:
        """Record an attempt (before its password is checked), then judge it with every attempt counted so far."""
        t = console_login_attempts
        since = now - self.policy.window_s
        with self.engine.begin() as conn:
            conn.execute(t.insert().values(user_name=user_name[:64], address=address[:64], attempted_at=now))
            users = conn.execute(
                sa.select(t.c.attempted_at).where(t.c.user_name == user_name[:64], t.c.attempted_at >= since)
            ).scalars()
            user_times = list(users)
            addresses = conn.execute(
                sa.select(t.c.attempted_at).where(t.c.address == address[:64], t.c.attempted_at >= since)
            ).scalars()
            address_times = list(addresses)
            conn.execute(sa.delete(t).where(t.c.attempted_at < now - self.policy.window_s - self.policy.lockout_s))
        return throttle_verdict(user_times, address_times, now, self.policy)

    def succeeded(self, user_name: str) -> None:
        """A correct password: the user's attempts stop counting (the address's other users' do not)."""
        t = console_login_attempts
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.user_name == user_name[:64]))
