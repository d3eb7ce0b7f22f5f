"""Seeded fault injection: which calls fail, how, and how long each call takes.

A decision is a pure function of (seed, the call's identity without its token, how many times that same call was
seen before). A seeded workload therefore fails the same calls on every run whatever the thread interleaving of
*different* calls, and a retry of a call (same identity, one more sighting) gets a fresh draw. Two callers that
make the identical call at the same time share one sequence of draws, so which of them gets which draw follows
their order of arrival.

Latency is log-normal: `latency_median_ms * exp(latency_spread * z)` with z standard normal, drawn from the
same hash, so it is seeded too.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Any

from cloud.model import JSON

__all__ = ["CallCounter", "FaultConfig", "FaultDecision", "FaultKind", "call_identity", "decide"]

_UNIT = float(1 << 64)
_NORMAL = NormalDist()


class FaultKind(StrEnum):
    """How an injected failure shows itself."""

    THROTTLE = "throttle"  # 429 Throttling; nothing applied
    SERVER_ERROR = "server_error"  # 503 ServiceUnavailable; nothing applied
    TIMEOUT = "timeout"  # 504 RequestTimeout; nothing applied
    LOST_RESPONSE = "lost_response"  # applied, then the answer is lost: 504 RequestTimeout as well


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """The fault and latency model of a sim cloud.

    `rate` is the probability that one call fails transiently; the four weights say how those failures split
    between the kinds (they need not sum to 1). Latency is log-normal around `latency_median_ms` with
    `latency_spread` the sigma of its logarithm (0 = always the median); 0 ms means no sleeping at all.
    """

    rate: float = 0.0
    seed: int = 0
    throttle: float = 0.35
    server_error: float = 0.25
    timeout: float = 0.2
    lost_response: float = 0.2
    latency_median_ms: float = 0.0
    latency_spread: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate!r}")
        weights = self.weights()
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"fault weights must be >= 0 with a positive sum, not {dict(weights)!r}")
        if self.latency_median_ms < 0 or self.latency_spread < 0:
            raise ValueError("latency median and spread must be >= 0")

    def weights(self) -> dict[FaultKind, float]:
        return {
            FaultKind.THROTTLE: self.throttle,
            FaultKind.SERVER_ERROR: self.server_error,
            FaultKind.TIMEOUT: self.timeout,
            FaultKind.LOST_RESPONSE: self.lost_response,
        }

    def latency_ms(self, u: float) -> float:
        """The latency at quantile `u` (0 < u < 1) of the configured log-normal distribution."""
        if self.latency_median_ms == 0:
            return 0.0
        if self.latency_spread == 0:
            return self.latency_median_ms
        z = _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        return self.latency_median_ms * math.exp(self.latency_spread * z)

    def to_json(self) -> dict[str, JSON]:
        return {
            "rate": self.rate,
            "seed": self.seed,
            "throttle": self.throttle,
            "serverError": self.server_error,
            "timeout": self.timeout,
            "lostResponse": self.lost_response,
            "latencyMedianMs": self.latency_median_ms,
            "latencySpread": self.latency_spread,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """Build from JSON; keys left out keep `base`'s values. Raises ValueError naming a bad key or value."""
        base = base or cls()
        unknown = sorted(set(data) - set(_JSON_FIELDS))
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {sorted(_JSON_FIELDS)}")
        values: dict[str, Any] = {}
        for key, attr in _JSON_FIELDS.items():
            value = data.get(key, getattr(base, attr))
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault setting {key!r} must be a number, not {value!r}")
            if attr == "seed" and not isinstance(value, int):
                raise ValueError(f"fault setting 'seed' must be an integer, not {value!r}")
            values[attr] = value if attr == "seed" else float(value)
        return cls(**values)


_JSON_FIELDS = {
    "rate": "rate",
    "seed": "seed",
    "throttle": "throttle",
    "serverError": "server_error",
    "timeout": "timeout",
    "lostResponse": "lost_response",
    "latencyMedianMs": "latency_median_ms",
    "latencySpread": "latency_spread",
}


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What happens to one call: an injected failure (or None) and the latency to add first."""

    kind: FaultKind | None
    latency_ms: float


def call_identity(method: str, args: Mapping[str, JSON]) -> str:
    """A call's identity: its method and arguments (never its token), as a stable digest."""
    text = json.dumps([method, args], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def decide(config: FaultConfig, identity: str, occurrence: int) -> FaultDecision:
    """The fault decision for the `occurrence`-th sighting (from 0) of the call `identity`. Pure."""
    digest = hashlib.sha256(f"{config.seed}\x1f{identity}\x1f{occurrence}".encode()).digest()
    u_fail, u_kind, u_latency = (int.from_bytes(digest[i : i + 8], "big") / _UNIT for i in (0, 8, 16))
    latency = config.latency_ms(u_latency)
    if u_fail >= config.rate:
        return FaultDecision(kind=None, latency_ms=latency)
    weighted = [(kind, weight) for kind, weight in config.weights().items() if weight > 0]
    point, acc = u_kind * sum(w for _, w in weighted), 0.0
    chosen = weighted[-1][0]  # where float rounding leaves `point` past the last boundary
    for kind, weight in weighted:
        acc += weight
        if point < acc:
            chosen = kind
            break
    return FaultDecision(kind=chosen, latency_ms=latency)


class CallCounter:
    """Counts sightings per call identity, thread-safely: `next(identity)` is 0 the first time, then 1, 2, ..."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def next(self, identity: str) -> int:
        with self._lock:
            n = self._seen.get(identity, 0)
            self._seen[identity] = n + 1
            return n
