"""The cloud's account list, cached for a short time: validation needs it on every POST.

Clouddriver reads credentials from its own configuration, so an account check never calls a cloud; here the
accounts come from the provider, cached for `ttl_s` so a busy service does not ask on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cloud.errors import CloudError
from cloud.model import Account
from cloud.provider import CloudReader
from legacy_clouddriver.errors import ServiceUnavailable

__all__ = ["AccountsCache"]


class AccountsCache:
    """`get()` returns the provider's accounts, at most `ttl_s` old; ServiceUnavailable if they cannot be read."""

    def __init__(self, reader: CloudReader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = reader
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: list[Account] | None = None
        self._loaded_at = 0.0

    def get(self) -> list[Account]:
        with self._lock:
            now = self._clock()
            if self._accounts is None or now - self._loaded_at >= self._ttl:
                try:
                    self._accounts = list(self._reader.accounts())
                except CloudError as e:
                    if self._accounts is None:
                        raise ServiceUnavailable(f"cannot load the cloud's accounts: {e.code}: {e}") from e
                    return list(self._accounts)  # keep serving the last list while the cloud recovers
                self._loaded_at = now
            return list(self._accounts)
