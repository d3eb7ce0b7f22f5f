"""The legacy executor's hand-written retries around provider calls, as Clouddriver grew them over the years.

A few attempts with exponential backoff on throttling, 5xx and timeouts; nothing else. Each attempt is a new
call: Clouddriver sends no idempotency token, so `call` receives a fresh one per attempt, and a retry after a
lost response meets AlreadyExists or NotFound, which fails the task. That is the failure mode being modelled.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cloud.errors import CloudServerError, CloudTimeout, Throttled

__all__ = ["RETRIED", "RetryPolicy", "fresh_token"]

log = logging.getLogger(__name__)

RETRIED: tuple[type[Exception], ...] = (Throttled, CloudServerError, CloudTimeout)
"""What Clouddriver's retry wrappers catch: rate limiting, 5xx and timeouts. An outage (CloudUnavailable) and
every rejection fail at once."""

_T = TypeVar("_T")


def fresh_token() -> str:
    """A token no other call uses: to the cloud, every attempt is a brand-new request."""
    return f"clouddriver-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` calls at most, pausing `backoff_s`, then twice that, and so on, between them."""

    attempts: int = 3
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def call(self, fn: Callable[[str], _T], what: str = "provider call") -> _T:
        """`fn(token)` until it returns or raises something not in RETRIED, or the attempts run out."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(fresh_token())
            except RETRIED as e:
                if attempt == self.attempts:
                    raise
                pause = self.backoff_s * 2 ** (attempt - 1)
                log.info(
                    "%s failed (%s: %s); attempt %d of %d in %.2fs",
                    what,
                    type(e).__name__,
                    e,
                    attempt + 1,
                    self.attempts,
                    pause,
                )
                self.sleep(pause)
        raise AssertionError("unreachable: attempts >= 1")
