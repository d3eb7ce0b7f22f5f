"""A record of the idempotency tokens this provider has already acted on, for the calls AWS cannot dedupe itself.

Only EC2's CreateLaunchTemplate takes a ClientToken; Auto Scaling and classic ELB calls have none. The provider
therefore claims each token here before acting: a token seen with other arguments is an `IdempotencyConflict`,
a token already finished is answered from the cloud's current state without acting again, and a token seen
before (even one whose call failed half way, or timed out) turns "already gone" into success for deletes.

`MemoryTokenLedger` keeps that record in this process only, bounded (oldest tokens forgotten first). See the
`cloud.aws` package docstring for what a production deployment should plug in instead.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from cloud.errors import IdempotencyConflict
from cloud.model import JSON

__all__ = ["MemoryTokenLedger", "TokenLedger", "TokenRecord", "TokenState", "claim_token", "request_fingerprint"]


class TokenState(StrEnum):
    """How far the call made under a token got."""

    STARTED = "started"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One token: the fingerprint of the request it was first used for, and how far that request got."""

    token: str
    fingerprint: str
    state: TokenState


class TokenLedger(Protocol):
    """Where the provider remembers tokens. Implementations must be thread-safe."""

    def claim(self, token: str, fingerprint: str) -> TokenRecord | None:
        """Record `token` as started unless it is known; return the record it had before (None if new)."""
        ...

    def finish(self, token: str) -> None:
        """Mark `token` done: its call completed, so a repeat only reads."""
        ...


class MemoryTokenLedger:
    """A bounded in-process ledger: the last `capacity` tokens, least recently used forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"ledger capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._records: OrderedDict[str, TokenRecord] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, token: str, fingerprint: str) -> TokenRecord | None:
        with self._lock:
            prior = self._records.get(token)
            if prior is None:
                self._records[token] = TokenRecord(token, fingerprint, TokenState.STARTED)
                while len(self._records) > self._capacity:
                    self._records.popitem(last=False)
            else:
                self._records.move_to_end(token)
            return prior

    def finish(self, token: str) -> None:
        with self._lock:
            record = self._records.get(token)
            if record is not None:
                self._records[token] = replace(record, state=TokenState.DONE)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


def request_fingerprint(kind: str, account: str, region: str, payload: JSON) -> str:
    """A short stable digest of one request, to tell "the same call again" from "another call, same token"."""
    canonical = json.dumps([kind, account, region, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def claim_token(
    ledger: TokenLedger, token: str, fingerprint: str, *, account: str, region: str, target: str
) -> TokenRecord | None:
    """Claim `token` for the request `fingerprint`; IdempotencyConflict if it was used for another request."""
    prior = ledger.claim(token, fingerprint)
    if prior is not None and prior.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"token {token} was already used for a different request; a new request needs a new token",
            account=account,
            region=region,
            target=target,
        )
    return prior
