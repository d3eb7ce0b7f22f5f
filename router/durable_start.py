"""Did a failed workflow start create the execution? The pure classification behind rule 4 (fall back to legacy
only when the workflow was certainly not started), from the SDK's error types and gRPC status codes.

    REFUSED      the server answered and refused (bad argument, no permission, unknown namespace, quota, ...):
                 nothing was created
    UNDELIVERED  the request never left this process: the socket's connection was refused
    EXISTS       the workflow id is taken (WorkflowAlreadyStartedError, ALREADY_EXISTS): attach to it
    IN_DOUBT     the request may have been processed (UNAVAILABLE, a deadline, a cancel, a reset mid-call, an
                 internal error, an unknown status): look for the execution, and never fall back, whatever the
                 look says (an absent execution may still land)

UNAVAILABLE is in doubt, not undelivered: gRPC's status-code reference says of it that "it is not always safe to
retry non-idempotent operations" (grpc/grpc doc/statuscodes.md), and the Temporal SDK answers UNAVAILABLE both for
a connection that broke before the request went out and for a server that failed while handling it. The status
cannot tell the two apart, and rule 4 asks for certainty. A client that never connected at all is reported by
`DurableRunner` before any start is tried (`TemporalUnavailable` at connect), and that one may fall back.

Errors that are none of these (a bug, a payload that cannot be serialised) are not start failures: `classify`
returns None and the caller lets them propagate.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

__all__ = ["StartFailure", "classify"]


class StartFailure(StrEnum):
    """What a failed start proves; see the module docstring."""

    REFUSED = "refused"
    UNDELIVERED = "undelivered"
    EXISTS = "exists"
    IN_DOUBT = "in_doubt"

    @property
    def certainly_not_started(self) -> bool:
        """Whether the execution certainly does not exist, so another path may run the operation (rule 4)."""
        return self in (StartFailure.REFUSED, StartFailure.UNDELIVERED)


_REFUSED = frozenset(
    {
        RPCStatusCode.INVALID_ARGUMENT,
        RPCStatusCode.PERMISSION_DENIED,
        RPCStatusCode.UNAUTHENTICATED,
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.FAILED_PRECONDITION,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.UNIMPLEMENTED,
        RPCStatusCode.OUT_OF_RANGE,
    }
)


def classify(error: BaseException) -> StartFailure | None:
    """What a start that raised `error` proves about the execution; None when `error` is not a start failure."""
    if isinstance(error, WorkflowAlreadyStartedError):
        return StartFailure.EXISTS
    if isinstance(error, RPCError):
        if error.status is RPCStatusCode.ALREADY_EXISTS:
            return StartFailure.EXISTS
        if error.status in _REFUSED:
            return StartFailure.REFUSED
        return StartFailure.IN_DOUBT
    if isinstance(error, ConnectionRefusedError):
        return StartFailure.UNDELIVERED
    if isinstance(error, OSError):  # TimeoutError (asyncio's too), resets, broken pipes: the request may be in
        return StartFailure.IN_DOUBT
    return None
