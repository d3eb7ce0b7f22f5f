"""The rollouts package's exception tree, split by what the caller can do.

RolloutError                  base; `rollout_id` where one is known
├── InvalidPlan               the plan or a command's input is wrong (bad scope, steps, duration, threshold):
│                             fix it; nothing was written. `field` names the culprit.
├── RolloutNotFound           no rollout with that id: `cloudops rollout list` shows them
├── RolloutConflict           the scope already has an active rollout (`other_id`), or the scope is already
│                             durable: finish or abort that first
├── InvalidTransition         the rollout's status does not allow the action (resume a completed rollout)
└── RolloutStoreUnavailable   the database failed or lacks the rollout tables: retry, or `cloudops db upgrade`;
                              `url` (like flags.FlagStoreUnavailable: every store's error is `<Thing>Unavailable`)
"""

from __future__ import annotations

__all__ = [
    "InvalidPlan",
    "InvalidTransition",
    "RolloutConflict",
    "RolloutError",
    "RolloutNotFound",
    "RolloutStoreUnavailable",
]


class RolloutError(Exception):
    """Base of the rollout exceptions; `message` is meant for the person who asked."""

    def __init__(self, message: str, *, rollout_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rollout_id = rollout_id


class InvalidPlan(RolloutError):
    """The input is wrong; nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class RolloutNotFound(RolloutError):
    """No rollout has this id."""


class RolloutConflict(RolloutError):
    """Another rollout is active on the same scope (`other_id`), or the scope has nothing left to roll out."""

    def __init__(self, message: str, *, rollout_id: str | None = None, other_id: str | None = None) -> None:
        super().__init__(message, rollout_id=rollout_id)
        self.other_id = other_id


class InvalidTransition(RolloutError):
    """The rollout's current status does not allow this action."""


class RolloutStoreUnavailable(RolloutError):
    """The rollout tables cannot be read or written (database down, or schema not migrated). `url` (password
    hidden) names the database when it is known."""

    def __init__(self, message: str, *, url: str = "", rollout_id: str | None = None) -> None:
        super().__init__(message, rollout_id=rollout_id)
        self.url = url
