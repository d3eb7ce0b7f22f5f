"""LaunchDarkly's sticky bucketing, reimplemented so a cohort is the same whichever backend is active.

The bucket of a value is SHA-1 of `"{key}.{salt}.{value}"`, its first 15 hex digits over 0xFFFFFFFFFFFFFFF: a
fraction in [0, 1) (ldclient `_bucket_context`). A rollout of `percent` is LaunchDarkly's weight
`round(percent * 1000)` out of 100000, and a context is in it when its fraction is below weight / 100000. Our salt
for a key is the key itself; a LaunchDarkly flag exported from our properties carries the same salt.
"""

from __future__ import annotations

import hashlib

__all__ = ["bucket_fraction", "in_rollout", "rollout_weight", "salt_for"]

_LONG_SCALE = float(0xFFFFFFFFFFFFFFF)


def salt_for(key: str) -> str:
    """The salt our properties of `key` bucket with (and a LaunchDarkly flag must carry to agree with them)."""
    return key


def bucket_fraction(key: str, salt: str, value: str) -> float:
    """LaunchDarkly's bucket of `value` for a flag `key` with `salt`, in [0, 1)."""
    digest = hashlib.sha1(f"{key}.{salt}.{value}".encode()).hexdigest()
    return int(digest[:15], 16) / _LONG_SCALE


def rollout_weight(percent: float) -> int:
    """The LaunchDarkly weight (out of 100000) of a percentage: percentages are kept to 1/1000 of a percent."""
    return round(percent * 1000)


def in_rollout(fraction: float, percent: float) -> bool:
    """Whether a bucket fraction falls inside a rollout of `percent`, exactly as LaunchDarkly walks its weights."""
    return fraction < rollout_weight(percent) / 100000.0
