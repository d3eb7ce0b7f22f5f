"""The accounts that validate a submission, read from the upstream Clouddriver's `GET /credentials?expand=true`
(so a gateway with `--upstream` has no second accounts configuration), cached and refreshed.

Clouddriver's CredentialsController lists every account as a map: `name`, `type` (the cloud provider, also in
`cloudProvider`), `accountType`, `environment`, ..., and, expanded, the provider's own fields, among them
`regions` (AWS and Titus: a list of `{name, ...}`; some providers list plain names, some none). `parse_credentials`
turns that list into the catalogue's `Account`s (pure); `UpstreamAccounts` keeps the last good list for `ttl_s`
and, when a refresh fails (the upstream down, an answer that is not a list), keeps serving it and logs why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from cloud.model import Account
from clouddriver_wire.errors import ServiceUnavailable

__all__ = ["UpstreamAccounts", "parse_credentials"]

log = logging.getLogger(__name__)


def parse_credentials(body: Any) -> list[Account]:
    """The accounts of a `GET /credentials` answer; ValueError when it is not a list of account maps (pure)."""
    if not isinstance(body, list):
        raise ValueError(f"expected a JSON list of accounts, got {type(body).__name__}")
    accounts = []
    for i, item in enumerate(body):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ValueError(f"account {i} has no name")
        provider = item.get("cloudProvider") or item.get("type")
        if not isinstance(provider, str) or not provider:
            raise ValueError(f"account {item['name']!r} names no cloudProvider or type")
        accounts.append(Account(item["name"], provider, _regions(item.get("regions"))))
    return accounts


def _regions(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    names = (r if isinstance(r, str) else r.get("name") if isinstance(r, Mapping) else None for r in raw)
    return tuple(n for n in names if isinstance(n, str) and n)


class UpstreamAccounts:
    """`accounts()`: the upstream's accounts, at most `ttl_s` old, the last good list while it cannot answer;
    ServiceUnavailable only when no list was ever read."""

    def __init__(
        self, http: httpx.Client, ttl_s: float, *, clock: Callable[[], float] = time.monotonic, where: str = ""
    ) -> None:
        """`http` is a client whose base URL is the upstream (the gateway's pooled one)."""
        self._http = http
        self._ttl = ttl_s
        self._clock = clock
        self._where = where or str(http.base_url)
        self._lock = threading.Lock()
        self._accounts: list[Account] | None = None
        self._loaded_at = 0.0

    def accounts(self) -> list[Account]:
        with self._lock:
            now = self._clock()
            if self._accounts is not None and now - self._loaded_at < self._ttl:
                return list(self._accounts)
            try:
                self._accounts = self._load()
                self._loaded_at = now
            except (httpx.HTTPError, ValueError) as exc:
                why = f"{type(exc).__name__}: {exc}"
                if self._accounts is None:
                    raise ServiceUnavailable(
                        f"cannot read the accounts of the upstream Clouddriver at {self._where} ({why}); try again"
                    ) from exc
                log.warning(
                    "keeping the last %d upstream accounts: refreshing them failed: %s", len(self._accounts), why
                )
                self._loaded_at = now  # ask again after another ttl, not on every request while it is down
            return list(self._accounts)

    def _load(self) -> list[Account]:
        response = self._http.get("/credentials", params={"expand": "true"}, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise ValueError(f"GET /credentials answered HTTP {response.status_code}")
        return parse_credentials(response.json())
