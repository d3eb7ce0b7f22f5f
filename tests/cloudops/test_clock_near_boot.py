"""A monotonic clock counts from boot: every 'last time' must work when the clock reads near 0 (issue 14)."""

from __future__ import annotations

import io

from cloud.accounts import CachedAccounts
from cloud.model import Account
from cloudops.demo.progress import Progress
from router.breaker import BreakerState, CircuitBreaker


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_first_plain_status_is_printed_on_a_machine_booted_a_moment_ago() -> None:
    clock = _Clock(0.5)  # half a second after boot, far less than plain_every_s
    out = io.StringIO()
    progress = Progress(out, tty=False, plain_every_s=10, clock=clock)
    progress.status("first")
    clock.now = 3.0
    progress.status("second")  # within plain_every_s of the first: not repeated
    clock.now = 10.5
    progress.status("third")
    assert out.getvalue() == "first\nthird\n"


def test_the_breaker_opens_and_half_opens_on_a_clock_near_zero() -> None:
    clock = _Clock(0.0)
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=60, clock=clock)
    assert breaker.allow() and breaker.state is BreakerState.CLOSED
    breaker.record(False)
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now = 60.0
    assert breaker.state is BreakerState.HALF_OPEN and breaker.allow()


class _Reader:
    def __init__(self) -> None:
        self.reads = 0

    def accounts(self) -> list[Account]:
        self.reads += 1
        return []


def test_the_accounts_cache_loads_at_once_and_expires_on_a_clock_near_zero() -> None:
    clock, reader = _Clock(0.0), _Reader()
    cache = CachedAccounts(reader, ttl_s=30, clock=clock)  # type: ignore[arg-type]
    cache.accounts()
    cache.accounts()
    assert reader.reads == 1
    clock.now = 30.0
    cache.accounts()
    assert reader.reads == 2
