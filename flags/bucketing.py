"""LaunchDarkly's sticky bucketing, reimplemented so a cohort is the same whichever backend is active.

The bucket of a value is SHA-1 of `"{key}.{salt}.{value}"`, its first 15 hex digits over 0xFFFFFFFFFFFFFFF: a
fraction in [0, 1) (ldclient `_bucket_context`). A rollout of `percent` is LaunchDarkly's weight
`round(percent * 1000)` out of 100000, and a context is in it when its fraction is below weight / 100000. Our salt
for a key is the key itself; a LaunchDarkly flag exported from our properties carries the same salt.

This is the one SHA-1 bucket of the project: the evaluator's index hashes through `Bucketer` (the constant
`key.salt.` prefix hashed once per property), and the router's shadow sampling through `hash_fraction`.
"""

from __future__ import annotations

import hashlib

__all__ = ["Bucketer", "bucket_fraction", "hash_fraction", "in_rollout", "rollout_weight", "salt_for"]

_LONG_SCALE = float(0xFFFFFFFFFFFFFFF)


def salt_for(key: str) -> str:
    """The salt our properties of `key` bucket with (and a LaunchDarkly flag must carry to agree with them)."""
    return key


def hash_fraction(text: str) -> float:
    """SHA-1 of `text`, its first 15 hex digits over 0xFFFFFFFFFFFFFFF: a sticky fraction in [0, 1)."""
    return _fraction(hashlib.sha1(text.encode()).digest())


def bucket_fraction(key: str, salt: str, value: str) -> float:
    """LaunchDarkly's bucket of `value` for a flag `key` with `salt`, in [0, 1)."""
    return hash_fraction(f"{key}.{salt}.{value}")


class Bucketer:
    """`bucket_fraction(key, salt, value)` for one key and salt, with their `key.salt.` prefix hashed once."""

    __slots__ = ("_prefix",)

    def __init__(self, key: str, salt: str) -> None:
        self._prefix = hashlib.sha1(f"{key}.{salt}.".encode())

    def __call__(self, value: str) -> float:
        digest = self._prefix.copy()
        digest.update(value.encode())
        return _fraction(digest.digest())


def _fraction(sha1: bytes) -> float:
    return (int.from_bytes(sha1[:8]) >> 4) / _LONG_SCALE  # the first 15 hex digits of the digest


def rollout_weight(percent: float) -> int:
    """The LaunchDarkly weight (out of 100000) of a percentage: percentages are kept to 1/1000 of a percent."""
    return round(percent * 1000)


def in_rollout(fraction: float, percent: float) -> bool:
    """Whether a bucket fraction falls inside a rollout of `percent`, exactly as LaunchDarkly walks its weights."""
    return fraction < rollout_weight(percent) / 100000.0
