"""What a failed workflow start proves (router.durable_start): classified by the SDK's error types and gRPC
status codes, never by the words in a message."""

from __future__ import annotations

import pytest
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from router.durable_start import StartFailure, classify


def rpc(status: RPCStatusCode, message: str = "whatever the server says") -> RPCError:
    return RPCError(message, status, b"")


CASES: list[tuple[BaseException, StartFailure]] = [
    (WorkflowAlreadyStartedError("cloudop-1", "UntypedCloudOperationRunner"), StartFailure.EXISTS),
    (rpc(RPCStatusCode.ALREADY_EXISTS), StartFailure.EXISTS),
    (rpc(RPCStatusCode.INVALID_ARGUMENT, "search attribute Application is not defined"), StartFailure.REFUSED),
    (rpc(RPCStatusCode.PERMISSION_DENIED), StartFailure.REFUSED),
    (rpc(RPCStatusCode.UNAUTHENTICATED), StartFailure.REFUSED),
    (rpc(RPCStatusCode.NOT_FOUND, "namespace cloudops not found"), StartFailure.REFUSED),
    (rpc(RPCStatusCode.FAILED_PRECONDITION), StartFailure.REFUSED),
    (rpc(RPCStatusCode.RESOURCE_EXHAUSTED), StartFailure.REFUSED),
    (rpc(RPCStatusCode.UNIMPLEMENTED), StartFailure.REFUSED),
    # The words do not matter: UNAVAILABLE may come after the server handled the start, whatever it says...
    (rpc(RPCStatusCode.UNAVAILABLE, "tcp connect error"), StartFailure.IN_DOUBT),
    (rpc(RPCStatusCode.UNAVAILABLE, "service unavailable"), StartFailure.IN_DOUBT),
    # ...and a deadline that happens to mention a refused connection is still in doubt.
    (rpc(RPCStatusCode.DEADLINE_EXCEEDED, "connection refused"), StartFailure.IN_DOUBT),
    (rpc(RPCStatusCode.CANCELLED), StartFailure.IN_DOUBT),
    (rpc(RPCStatusCode.UNKNOWN, "h2 protocol error"), StartFailure.IN_DOUBT),
    (rpc(RPCStatusCode.INTERNAL), StartFailure.IN_DOUBT),
    (rpc(RPCStatusCode.ABORTED), StartFailure.IN_DOUBT),
    (ConnectionRefusedError(111, "Connection refused"), StartFailure.UNDELIVERED),
    (ConnectionResetError(104, "Connection reset by peer"), StartFailure.IN_DOUBT),
    (TimeoutError(), StartFailure.IN_DOUBT),
    (TimeoutError(), StartFailure.IN_DOUBT),
]


@pytest.mark.parametrize(
    ("error", "expected"), CASES, ids=[f"{type(e).__name__}-{x}-{i}" for i, (e, x) in enumerate(CASES)]
)
def test_classify(error: BaseException, expected: StartFailure) -> None:
    assert classify(error) is expected


def test_only_a_refused_or_undelivered_start_certainly_did_not_start() -> None:
    certain = {f for f in StartFailure if f.certainly_not_started}
    assert certain == {StartFailure.REFUSED, StartFailure.UNDELIVERED}


@pytest.mark.parametrize("error", [TypeError("cannot serialise"), ValueError("bad input"), RuntimeError("bug")])
def test_other_errors_are_no_start_failure_and_propagate(error: Exception) -> None:
    assert classify(error) is None
