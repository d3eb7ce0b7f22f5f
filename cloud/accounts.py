"""The cloud's account list, cached for a short time: request validation needs it on every call.

Clouddriver reads credentials from its own configuration, so an account check never calls a cloud; here the
accounts come from the provider, cached for `ttl_s` so a busy service does not ask on every request, and the last
list is served while the cloud cannot answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cloud.errors import CloudError
from cloud.model import Account
from cloud.provider import CloudReader

__all__ = ["CachedAccounts"]


class CachedAccounts:
    """`accounts()`: the provider's accounts, at most `ttl_s` old; the CloudError of the first load if none yet."""

    def __init__(self, reader: CloudReader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = reader
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: list[Account] | None = None
        self._loaded_at = 0.0

    def accounts(self) -> list[Account]:
        with self._lock:
            now = self._clock()
            if self._accounts is None or now - self._loaded_at >= self._ttl:
                try:
                    self._accounts = list(self._reader.accounts())
                except CloudError:
                    if self._accounts is None:
                        raise
                    return list(self._accounts)  # keep serving the last list while the cloud recovers
                self._loaded_at = now
            return list(self._accounts)
