"""One mapping from every exception the console can meet to an HTTP status, an error code and a message.

The API answers `{"error": code, "message": text}` (plus `field` for bad input); pages render the same message.
Bad input is a 4xx that says what was wrong; an unavailable backend is a 503 that names it; only a bug is a 500.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import HTTPException

from console.errors import ConsoleError, InputError, ServiceUnavailable
from flags import ConcurrentModification, FlagError, FlagStoreUnavailable, InvalidInput, NotFound, PropertyConflict
from rollouts.errors import (
    InvalidPlan,
    InvalidTransition,
    RolloutConflict,
    RolloutError,
    RolloutNotFound,
    RolloutStoreUnavailable,
)

__all__ = ["Problem", "problem_for"]

log = logging.getLogger(__name__)

_FLAG_ERRORS: tuple[tuple[type[FlagError], int, str], ...] = (
    (InvalidInput, 400, "invalid_input"),
    (PropertyConflict, 409, "conflict"),
    (ConcurrentModification, 409, "concurrent_modification"),
    (NotFound, 404, "not_found"),
    (FlagStoreUnavailable, 503, "store_unavailable"),
)
_ROLLOUT_ERRORS: tuple[tuple[type[RolloutError], int, str], ...] = (
    (InvalidPlan, 400, "invalid_input"),
    (RolloutNotFound, 404, "not_found"),
    (RolloutConflict, 409, "conflict"),
    (InvalidTransition, 409, "invalid_transition"),
    (RolloutStoreUnavailable, 503, "store_unavailable"),
)


@dataclass(frozen=True, slots=True)
class Problem:
    """What went wrong, as an HTTP answer."""

    status: int
    error: str
    message: str
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "error"


def problem_for(exc: BaseException) -> Problem:
    """The answer for `exc`; logs the ones that are bugs."""
    if isinstance(exc, InputError):
        return Problem(400, "invalid_input", exc.message, exc.field)
    if isinstance(exc, ServiceUnavailable):
        return Problem(503, f"{exc.service}_unavailable", exc.message)
    if isinstance(exc, ConsoleError):
        return Problem(400, "invalid_input", exc.message)
    if isinstance(exc, FlagError):
        for kind, status, code in _FLAG_ERRORS:
            if isinstance(exc, kind):
                return Problem(status, code, exc.message, getattr(exc, "field", None))
        return Problem(400, "invalid_input", exc.message)
    if isinstance(exc, RolloutError):
        for rollout_kind, status, code in _ROLLOUT_ERRORS:
            if isinstance(exc, rollout_kind):
                return Problem(status, code, exc.message, getattr(exc, "field", None))
        return Problem(400, "invalid_input", exc.message)
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        return Problem(status, _snake(exc.name), exc.description or exc.name)
    log.error("unhandled error in the console", exc_info=exc)
    return Problem(500, "internal_error", f"internal error ({type(exc).__name__}); the console log has the details")
