"""Translate botocore's exceptions into the `cloud.errors` tree, so no botocore exception leaves this package.

The mapping follows what a caller can do about each case: AWS throttling and contention become `Throttled`, 5xx
and unparseable answers `CloudServerError`, no answer `CloudTimeout` (the call may have been applied), a
refused connection `CloudUnavailable`; everything else is a rejection that carries the AWS code and message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from cloud.errors import (
    AlreadyExists,
    CapacityOutOfBounds,
    CloudError,
    CloudRejection,
    CloudServerError,
    CloudTimeout,
    CloudUnavailable,
    InvalidRequest,
    NotFound,
    Throttled,
)

__all__ = ["aws_errors", "translate_error"]

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "EC2ThrottledException",
        # Auto Scaling refuses a second concurrent update to one group: nothing was applied, a retry later works.
        "ResourceContention",
        "ScalingActivityInProgress",
    }
)
_SERVER_CODES = frozenset(
    {"InternalFailure", "InternalError", "InternalServiceError", "ServiceUnavailable", "Unavailable"}
)
_INVALID_CODES = frozenset(
    {"ValidationError", "MissingParameter", "InvalidParameter", "InvalidParameterValue", "InvalidParameterCombination"}
)
_ALREADY_EXISTS = re.compile(r"AlreadyExists|\.Duplicate$|^Duplicate(LoadBalancerName|Listener)")
_NOT_FOUND_CODE = re.compile(r"NotFound|^InvalidInstanceID\.|^InvalidAMIID\.")
# Auto Scaling reports missing groups and instances as a ValidationError; only the message tells them apart.
_NOT_FOUND_MESSAGE = re.compile(r"not found|does not exist|no managed instance", re.IGNORECASE)
_CAPACITY_MESSAGE = re.compile(r"capacity|min ?size|max ?size|min bound|max bound", re.IGNORECASE)

_NO_CREDENTIALS = (
    "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, "
    "or give the account a roleArn in the CLOUDOPS_AWS_ACCOUNTS file"
)


def translate_error(exc: BaseException, *, account: str = "", region: str = "", target: str = "") -> CloudError:
    """The CloudError that says what `exc` (a botocore or cloud error) means for the caller."""
    ctx = {"account": account, "region": region, "target": target}
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, ClientError):
        return _from_client_error(exc, ctx)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError | ConnectionClosedError):
        return CloudTimeout(f"no answer from AWS: {exc}", **ctx)
    if isinstance(exc, EndpointConnectionError):
        return CloudUnavailable(f"cannot reach AWS: {exc}", **ctx)
    if isinstance(exc, ResponseParserError):
        return CloudServerError(f"AWS answered with something that is not a valid response: {exc}", **ctx)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CloudRejection(f"{_NO_CREDENTIALS} ({exc})", **ctx)
    if isinstance(exc, ParamValidationError):
        return InvalidRequest(f"request rejected before sending: {exc}", **ctx)
    return CloudRejection(f"AWS call failed: {exc}", **ctx)


def _from_client_error(exc: ClientError, ctx: dict[str, str]) -> CloudError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    message = f"{exc.operation_name}: {code}: {error.get('Message', '')}"
    if code in _THROTTLING_CODES or status == 429:
        return Throttled(message, **ctx)
    if status >= 500 or code in _SERVER_CODES:
        return CloudServerError(message, **ctx)
    if _ALREADY_EXISTS.search(code):
        return AlreadyExists(message, **ctx)
    if _NOT_FOUND_CODE.search(code):
        return NotFound(message, **ctx)
    if code == "ValidationError":
        text = str(error.get("Message", ""))
        if _NOT_FOUND_MESSAGE.search(text):
            return NotFound(message, **ctx)
        if _CAPACITY_MESSAGE.search(text):
            return CapacityOutOfBounds(message, **ctx)
    if code in _INVALID_CODES or code.startswith("Invalid"):
        return InvalidRequest(message, **ctx)
    return CloudRejection(message, **ctx)


@contextmanager
def aws_errors(account: str, region: str, target: str = "") -> Iterator[None]:
    """Raise what `translate_error` makes of any botocore exception raised inside the block."""
    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise translate_error(exc, account=account, region=region, target=target) from exc
