"""The durable path's exception tree and the failure types its activities raise through Temporal.

    DurableError                base
    ├── ConnectionConfigError   connection settings are wrong (missing file, bad profile): fix the setting named
    ├── TemporalUnavailable     nothing answered at the address (down, wrong port, TLS mismatch): retry or fix
    └── WorkerStartError        the worker could not start (its cloud is unreachable, bad options): fix and retry

Inside Temporal, activities never raise our exceptions: a `cloud.errors.CloudRejection` becomes a non-retryable
`ApplicationError` whose type is the error's stable code (a business failure, reported at once), a transient
cloud error a retryable one (retried within the retry window), and a server group still short of healthy
instances a retryable, benign `CapacityNotHealthy` (waiting is not an error worth a warning).
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from cloud.errors import CloudError, CloudRejection

__all__ = [
    "CAPACITY_NOT_HEALTHY",
    "COMPENSATION_FAILED",
    "RETRY_WINDOW_EXHAUSTED",
    "ConnectionConfigError",
    "DurableError",
    "TemporalUnavailable",
    "WorkerStartError",
    "application_error",
    "not_healthy_error",
]

CAPACITY_NOT_HEALTHY = "CapacityNotHealthy"
RETRY_WINDOW_EXHAUSTED = "RetryWindowExhausted"
COMPENSATION_FAILED = "CompensationFailed"


class DurableError(Exception):
    """Base of the exceptions the durable package raises to its callers."""


class ConnectionConfigError(DurableError):
    """The Temporal connection settings are invalid; the message names the setting and what to do."""


class TemporalUnavailable(DurableError):
    """No Temporal server answered; nothing was sent to it."""


class WorkerStartError(DurableError):
    """The worker could not start; the message says which dependency failed."""


def application_error(error: CloudError) -> ApplicationError:
    """The Temporal failure for a cloud error: non-retryable for a rejection, retryable otherwise."""
    return ApplicationError(
        error.message or str(error),
        error.to_json(),
        type=error.code,
        non_retryable=isinstance(error, CloudRejection),
    )


def not_healthy_error(target: str, healthy: int, desired: int) -> ApplicationError:
    """A retryable failure that hands a capacity wait back to the retry policy until the window closes."""
    return ApplicationError(
        f"server group {target} has {healthy} of {desired} desired instances healthy; still waiting",
        type=CAPACITY_NOT_HEALTHY,
        category=ApplicationErrorCategory.BENIGN,
    )
