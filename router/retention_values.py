"""Retention's values: how old a row may get (`RetentionPolicy`), the `retention` setting's grammar
(`parse_retention`: `30d`, `12h`, `off`) and what a prune did (`PruneReport`). No SQL here, so the settings and
the command line read them without importing SQLAlchemy; the rules are in `router.retention`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from router.errors import ConfigurationError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_RETENTION",
    "PruneReport",
    "RetentionPolicy",
    "parse_retention",
]

DEFAULT_RETENTION = "30d"
DEFAULT_BATCH_SIZE = 5000
DEFAULT_INTERVAL_S = 3600.0
"""A background pass runs at most this often (an hour): pruning is housekeeping, not a hot path."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST_S = 100 * 365 * 86400.0  # far past any retention meant, and well inside what a datetime can subtract
_OFF = frozenset({"off", "false", "no", "none", "disabled"})


def parse_retention(raw: Any, *, what: str = "setting 'retention'", origin: str = "the settings") -> float | None:
    """Seconds in a retention such as `30d`, `12h` or `90m`; None for `off` (YAML's bare `off` reads as false).

    ConfigurationError naming the setting (`what`) and where it came from for anything else, zero included: a zero
    retention would prune every finished row the moment it is written.
    """
    if raw is False or (isinstance(raw, str) and raw.strip().lower() in _OFF):
        return None
    found = _DURATION.match(raw) if isinstance(raw, str) else None
    seconds = float(found.group(1)) * _UNIT_S[found.group(2)] if found else math.nan
    if not 0 < seconds <= _LONGEST_S:
        raise ConfigurationError(
            f"{what} from {origin} is {raw!r}: give a duration above zero with a unit s, m, h or d "
            "(for example 30d or 12h), or off"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Rows older than `max_age_s` go, `batch_size` rows per statement, so no delete holds a lock for long."""

    max_age_s: float
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_age_s) or not 0 < self.max_age_s <= _LONGEST_S:
            raise ConfigurationError(f"a retention of {self.max_age_s!r} seconds: give a positive duration")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigurationError(f"a retention batch size of {self.batch_size!r}: give a whole number above 0")

    def cutoff(self, now: datetime) -> datetime:
        """Rows that finished before this instant are prunable."""
        return now - timedelta(seconds=self.max_age_s)


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one prune deleted (or, `dry_run`, would delete): rows per table, in the order they go."""

    cutoff: datetime
    dry_run: bool
    deleted: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def to_json(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "dryRun": self.dry_run, "deleted": dict(self.deleted)}
