"""The console's exception tree, split by what the caller can do.

    ConsoleError              base of everything raised here; `message` is meant for the person who caused it
    ├── ConfigError           the console's configuration is wrong (unknown key, bad type, plaintext password):
    │                         fix the file or the CONSOLE_* variable the message names, then restart
    ├── InputError            a form or a JSON body is wrong; `field` names the culprit. Nothing was written.
    └── ServiceUnavailable    a backing service (`service`: temporal, rollouts) cannot answer right now

Errors of the flags and rollouts packages (InvalidInput, PropertyConflict, NotFound, FlagStoreUnavailable,
RolloutStoreUnavailable, ...) pass through unchanged; `console.responses` maps every tree to HTTP statuses, so no
bad input ever becomes a 500. Every "cannot answer" error is a 503 whose code is `<service>_unavailable`
(`store_unavailable` for the flag and rollout stores, the database behind them).
"""

from __future__ import annotations

__all__ = ["ConfigError", "ConsoleError", "InputError", "ServiceUnavailable"]


class ConsoleError(Exception):
    """Base of every exception the console raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ConsoleError):
    """The configuration cannot be used; the message names the setting and where it came from."""


class InputError(ConsoleError):
    """A request's input is wrong; nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ServiceUnavailable(ConsoleError):
    """A backing service did not answer; `service` names it (temporal, rollouts)."""

    def __init__(self, message: str, *, service: str) -> None:
        super().__init__(message)
        self.service = service
