"""botocore failures become cloud.errors, and nothing else leaves the aws provider.

moto cannot throttle, fail with a 5xx or hang on demand, so these tests answer boto3 from a small local HTTP
endpoint that replays AWS's documented error bodies: boto3's real request and parsing code runs, and what is
tested is our reading of its exceptions.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialResolver
from botocore.exceptions import ConnectionClosedError, ParamValidationError, UnknownServiceError
from infra import free_port

from cloud.aws import AwsProvider, translate_error
from cloud.aws.errors import aws_errors
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
from cloud.model import Account, Capacity, Listener, LoadBalancerSpec, ServerGroupSpec

REGION = "us-east-1"
QUERY_ERROR = (
    '<ErrorResponse xmlns="https://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
)
EC2_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>'
    "</Error></Errors><RequestID>r-1</RequestID></Response>"
)
ACTIONS = {"autoscaling": "DescribeAutoScalingGroups", "ec2": "DescribeImages", "elb": "DescribeLoadBalancers"}


class CannedAws:
    """Answers each AWS query-protocol Action with a canned (status, body); unknown actions get an HTML 500."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str]] = {}
        self.hang_seconds = 0.0
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                action = parse_qs(body).get("Action", [""])[0]
                if canned.hang_seconds:
                    time.sleep(canned.hang_seconds)
                status, text = canned.answers.get(action, (500, "<!doctype html><h1>Internal Server Error</h1>"))
                with contextlib.suppress(OSError):  # the client may have given up already
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(text.encode())))
                    self.end_headers()
                    self.wfile.write(text.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def error(self, service: str, status: int, code: str, message: str) -> None:
        template = EC2_ERROR if service == "ec2" else QUERY_ERROR
        self.answers[ACTIONS[service]] = (status, template.format(code=code, message=message))


@pytest.fixture(scope="session")
def canned_server() -> Iterator[CannedAws]:
    aws = CannedAws()
    thread = threading.Thread(target=aws.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield aws
    aws.server.shutdown()
    aws.server.server_close()


@pytest.fixture()
def canned(canned_server: CannedAws) -> CannedAws:
    canned_server.answers.clear()
    canned_server.hang_seconds = 0.0
    return canned_server


def _core(with_credentials: bool = True) -> botocore.session.Session:
    core = botocore.session.Session()
    if with_credentials:
        core.set_credentials("testing", "testing")
    else:
        core.register_component("credential_provider", CredentialResolver([]))
    return core


_CORE = _core()
FAST = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=0.5)


def provider(url: str, session: Callable[[str, str], boto3.Session] | None = None) -> AwsProvider:
    return AwsProvider(
        [Account("prod", "aws", (REGION,))],
        endpoint_url=url,
        session_factory=session or (lambda account, region: boto3.Session(botocore_session=_CORE, region_name=region)),
        client_config=FAST,
    )


def _call(service: str, url: str) -> None:
    session = boto3.Session(botocore_session=_CORE, region_name=REGION)
    with aws_errors("prod", REGION, "target-1"):
        match service:
            case "autoscaling":
                session.client("autoscaling", endpoint_url=url, config=FAST).describe_auto_scaling_groups()
            case "ec2":
                session.client("ec2", endpoint_url=url, config=FAST).describe_images(ImageIds=["ami-1"])
            case _:
                session.client("elb", endpoint_url=url, config=FAST).describe_load_balancers()


@pytest.mark.parametrize(
    ("service", "status", "code", "message", "expected"),
    [
        ("autoscaling", 400, "Throttling", "Rate exceeded", Throttled),
        ("ec2", 503, "RequestLimitExceeded", "Request limit exceeded.", Throttled),
        ("autoscaling", 400, "ResourceContention", "You already have a pending update", Throttled),
        ("autoscaling", 503, "ServiceUnavailable", "Service is unavailable", CloudServerError),
        ("elb", 500, "InternalFailure", "internal failure", CloudServerError),
        ("autoscaling", 400, "AlreadyExists", "AutoScalingGroup by this name already exists", AlreadyExists),
        ("ec2", 400, "InvalidLaunchTemplateName.AlreadyExistsException", "name in use", AlreadyExists),
        ("elb", 400, "DuplicateLoadBalancerName", "already exists", AlreadyExists),
        (
            "autoscaling",
            400,
            "ValidationError",
            "Desired capacity:5 must be between the specified min size and max size",
            CapacityOutOfBounds,
        ),
        ("autoscaling", 400, "ValidationError", "Max bound, 1, must be >= min bound, 2", CapacityOutOfBounds),
        ("autoscaling", 400, "ValidationError", "AutoScalingGroup name not found - null", NotFound),
        ("autoscaling", 400, "ValidationError", "No managed instance found for instance ID: i-1", NotFound),
        ("elb", 400, "LoadBalancerNotFound", "There is no ACTIVE Load Balancer named 'x'", NotFound),
        ("ec2", 400, "InvalidAMIID.NotFound", "The image id '[ami-1]' does not exist", NotFound),
        ("ec2", 400, "InvalidGroup.NotFound", "The security group 'x' does not exist", NotFound),
        ("autoscaling", 400, "ValidationError", "Tag key cannot start with aws:", InvalidRequest),
        ("ec2", 400, "InvalidParameterValue", "Invalid value 'x' for instanceType", InvalidRequest),
        ("autoscaling", 403, "AccessDenied", "User is not authorized to perform this action", CloudRejection),
    ],
)
def test_aws_error_responses_map_by_what_the_caller_can_do(
    canned: CannedAws, service: str, status: int, code: str, message: str, expected: type[CloudError]
) -> None:
    canned.error(service, status, code, message)
    with pytest.raises(CloudError) as raised:
        _call(service, canned.url)
    error = raised.value
    assert type(error) is expected
    assert code in error.message and message in error.message
    assert (error.account, error.region, error.target) == ("prod", REGION, "target-1")
    assert error.retryable is issubclass(expected, (Throttled, CloudServerError))


def test_a_hung_call_is_a_timeout(canned: CannedAws) -> None:
    canned.hang_seconds = 1.5  # longer than the client's 0.5 s read timeout
    with pytest.raises(CloudTimeout) as raised:
        provider(canned.url).list_server_groups("prod", REGION)
    assert raised.value.retryable and "no answer" in raised.value.message


def test_nothing_listening_is_unavailable() -> None:
    with pytest.raises(CloudUnavailable):
        provider(f"http://127.0.0.1:{free_port()}").describe_server_group("prod", REGION, "app-v000")


def test_no_credentials_says_how_to_provide_them(canned: CannedAws) -> None:
    bare = _core(with_credentials=False)
    aws = provider(canned.url, lambda account, region: boto3.Session(botocore_session=bare, region_name=region))
    with pytest.raises(CloudRejection, match="AWS_ACCESS_KEY_ID") as raised:
        aws.list_server_groups("prod", REGION)
    assert raised.value.account == "prod"


def test_a_failure_of_our_own_still_leaves_as_a_cloud_error(canned: CannedAws) -> None:
    def broken(account: str, region: str) -> boto3.Session:
        raise RuntimeError("session store is down")

    with pytest.raises(CloudError, match="session store is down"):
        provider(canned.url, broken).list_server_groups("prod", REGION)


SPEC = ServerGroupSpec(name="app-main-v000", capacity=Capacity(1, 1, 1), image="app-ami")
LB = LoadBalancerSpec(name="app-frontend", listeners=(Listener("HTTP", 80, "HTTP", 7001),))
EVERY_METHOD: dict[str, Callable[[AwsProvider], object]] = {
    "list_server_groups": lambda p: p.list_server_groups("prod", REGION, "app-main"),
    "describe_server_group": lambda p: p.describe_server_group("prod", REGION, "app-main-v000"),
    "describe_instances": lambda p: p.describe_instances("prod", REGION, "app-main-v000"),
    "describe_load_balancer": lambda p: p.describe_load_balancer("prod", REGION, "app-frontend"),
    "create_server_group": lambda p: p.create_server_group("prod", REGION, SPEC, "t"),
    "resize_server_group": lambda p: p.resize_server_group("prod", REGION, "app-main-v000", Capacity(1, 2, 1), "t"),
    "enable_server_group": lambda p: p.enable_server_group("prod", REGION, "app-main-v000", "t"),
    "disable_server_group": lambda p: p.disable_server_group("prod", REGION, "app-main-v000", "t"),
    "destroy_server_group": lambda p: p.destroy_server_group("prod", REGION, "app-main-v000", "t"),
    "terminate_instances": lambda p: p.terminate_instances("prod", REGION, ("i-1",), "t"),
    "upsert_load_balancer": lambda p: p.upsert_load_balancer("prod", REGION, LB, "t"),
    "delete_load_balancer": lambda p: p.delete_load_balancer("prod", REGION, "app-frontend", "t"),
}


@pytest.mark.parametrize("method", sorted(EVERY_METHOD))
def test_every_provider_method_turns_a_5xx_into_a_server_error(canned: CannedAws, method: str) -> None:
    # Every action gets an HTML 500, which botocore cannot even parse.
    with pytest.raises(CloudServerError) as raised:
        EVERY_METHOD[method](provider(canned.url))
    assert raised.value.account == "prod" and raised.value.region == REGION


def test_errors_botocore_raises_before_any_response() -> None:
    timeout = translate_error(ConnectionClosedError(endpoint_url="http://x"), account="a", region="r", target="t")
    assert isinstance(timeout, CloudTimeout) and (timeout.account, timeout.target) == ("a", "t")
    invalid = translate_error(ParamValidationError(report="MinSize must be an integer"))
    assert isinstance(invalid, InvalidRequest) and "MinSize" in invalid.message
    other = translate_error(UnknownServiceError(service_name="x", known_service_names="y"))
    assert type(other) is CloudRejection
    already = NotFound("kept as it is")
    assert translate_error(already) is already
