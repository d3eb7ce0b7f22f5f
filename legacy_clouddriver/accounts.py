"""The cloud's account list for request validation (cached in `cloud.accounts`), as the service's own error."""

from __future__ import annotations

import time
from collections.abc import Callable

from cloud.accounts import CachedAccounts
from cloud.errors import CloudError
from cloud.model import Account
from cloud.provider import CloudReader
from clouddriver_wire.errors import ServiceUnavailable

__all__ = ["AccountsCache"]


class AccountsCache:
    """`get()` returns the provider's accounts, at most `ttl_s` old; ServiceUnavailable if they cannot be read."""

    def __init__(self, reader: CloudReader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = CachedAccounts(reader, ttl_s, clock)

    def get(self) -> list[Account]:
        try:
            return self._cache.accounts()
        except CloudError as e:
            raise ServiceUnavailable(f"cannot load the cloud's accounts: {e.code}: {e}") from e
