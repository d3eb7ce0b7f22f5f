"""Fuzzing `POST /ops` of the legacy service and of the gateway: malformed bodies, JSON or not, on every ops
route. Never a 500.

Both run in process (Flask's test client). The legacy service runs over an in-process sim cloud whose instances
are healthy at launch, so the rare generated body that is a valid operation simply runs. The gateway is wired by
`build_gateway` as in production (its tables in a SQLite file, accounts from an in-process sim cloud); its driver
is not started, so a valid body becomes a task that waits, and no path is ever called. Every answer must be a 2xx
with a task id, or a 4xx carrying Spring's error map with a message that says what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings, strategies as st

from cloud.sim import SimCloud
from legacy_clouddriver import create_app

OPERATIONS = [
    "createServerGroup",
    "resizeServerGroup",
    "disableServerGroup",
    "destroyServerGroup",
    "terminateInstances",
    "upsertLoadBalancer",
    "cloneServerGroup",
    "enableServerGroup",
]
CONTEXT_KEYS = [
    "cloudProvider",
    "credentials",
    "account",
    "application",
    "stack",
    "region",
    "regions",
    "availabilityZones",
    "capacity",
    "min",
    "max",
    "desired",
    "amiName",
    "imageId",
    "instanceType",
    "serverGroupName",
    "instanceIds",
    "listeners",
    "source",
    "dryRun",
    "rollback",
]
ROUTES = [
    "/ops",
    "/aws/ops",
    "/titus/ops",
    "/gce/ops",
    "/aws/ops/createServerGroup",
    "/ops/resizeServerGroup",
    "/%E2%9C%93/ops",
    "/aws/ops/noSuchOperation",
]

leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(CONTEXT_KEYS + OPERATIONS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)
op_lists = st.lists(
    st.dictionaries(st.sampled_from(OPERATIONS) | st.text(max_size=8), json_values, max_size=2), max_size=3
)


def _encoded(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = (
    st.binary(max_size=200)
    | st.text(max_size=80).map(str.encode)
    | json_values.map(_encoded)
    | op_lists.map(_encoded)
    | op_lists.map(lambda v: _encoded(v)[: max(1, len(_encoded(v)) // 2)])  # truncated JSON
    | st.sampled_from([b"", b"   ", b"\xff\xfe", b"[{}]", b"{", b"null", b"[[]]", b'"x"', b"NaN", b"[1e999]"])
)


def _legacy_service() -> Iterator[Flask]:
    service = create_app({"MAX_BODY_BYTES": 4096, "HEALTH_POLL_S": 0.01}, provider=SimCloud(health_delay_s=0.0))
    yield service
    service.extensions["clouddriver"].processor.shutdown(5)


def _gateway(workdir: FsPath) -> Iterator[Flask]:
    from gateway import GatewaySettings, build_gateway, create_app as gateway_app
    from router.config import RouterConfig

    config = RouterConfig(legacy_url="http://127.0.0.1:9", database_url=f"sqlite:///{workdir / 'gateway.db'}")
    gateway = build_gateway(config, GatewaySettings(cloud="sim", max_body_bytes=4096))
    yield gateway_app(gateway)
    gateway.close()


@pytest.fixture(scope="module", params=["legacy", "gateway"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    if request.param == "legacy":
        yield from _legacy_service()
    else:
        yield from _gateway(tmp_path_factory.mktemp("gateway"))


def _check(status: int, payload: Any, route: str) -> None:
    assert status < 500, (route, status, payload)
    if status < 300:
        assert isinstance(payload, dict) and payload.get("id") and payload.get("resourceUri")
    else:
        assert isinstance(payload, dict) and isinstance(payload.get("message"), str) and payload["message"].strip()
        assert payload.get("status") == status


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(ROUTES), bodies, st.sampled_from(["application/json", "text/plain", None]))
def test_no_body_on_any_ops_route_gets_a_500(app: Flask, route: str, body: bytes, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = app.test_client().post(route, data=body, headers=headers)
    _check(response.status_code, response.get_json(silent=True), route)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=4097, max_size=6000))
def test_an_oversized_body_is_a_400_that_says_so(app: Flask, body: bytes) -> None:
    response = app.test_client().post("/aws/ops", data=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "larger than 4096 bytes" in response.get_json()["message"]
