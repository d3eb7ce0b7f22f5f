"""The idempotency ledger: which token applied which request, and what that request answered.

As AWS's ClientToken: the same token with the same request gets the first answer and applies nothing; the same
token with another request is an IdempotencyConflict. Only applied mutations are recorded: a rejected or
never-applied call leaves its token free, so a retry is evaluated afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.errors import IdempotencyConflict, InvalidRequest

__all__ = ["IdempotencyLedger", "Recorded", "check_token"]

MAX_TOKEN_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a token applied: the request's fingerprint and the answer it got."""

    fingerprint: str
    result: object


def check_token(token: object, account: str, region: str, target: str) -> str:
    """The token, if it is usable as a ClientToken (1-64 printable ASCII characters); InvalidRequest otherwise."""
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii() and token.isprintable():
        return token
    raise InvalidRequest(
        f"an idempotency token of 1-{MAX_TOKEN_LENGTH} printable ASCII characters is required, got {token!r}; "
        "cloud.plan.idempotency_token(operation_id, step) makes one",
        account=account,
        region=region,
        target=target,
    )


class IdempotencyLedger:
    """Token -> what it applied. Not thread-safe: the sim cloud holds its lock around each use."""

    def __init__(self) -> None:
        self._by_token: dict[str, Recorded] = {}

    def lookup(self, token: str, fingerprint: str, *, account: str, region: str, target: str) -> Recorded | None:
        """The record of `token` if it applied this very request; IdempotencyConflict if it applied another."""
        found = self._by_token.get(token)
        if found is not None and found.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"token {token!r} was already used for a different request; use a new token for a new request",
                account=account,
                region=region,
                target=target,
            )
        return found

    def record(self, token: str, fingerprint: str, result: object) -> None:
        self._by_token[token] = Recorded(fingerprint=fingerprint, result=result)

    def __len__(self) -> int:
        return len(self._by_token)
