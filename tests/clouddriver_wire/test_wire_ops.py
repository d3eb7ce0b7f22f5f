"""The request forms of Clouddriver's `POST /ops` routes, as clouddriver_wire.ops parses them.

Clouddriver defines them in spinnaker/clouddriver
`clouddriver-web/src/main/groovy/com/netflix/spinnaker/clouddriver/controllers/OperationsController.groovy`:
`POST /ops` and `POST /{cloudProvider}/ops` take a list of `{operationName: {...}}` maps, `POST /ops/{name}` and
`POST /{cloudProvider}/ops/{name}` take one operation's map and collect it as `[[(name): requestBody]]`; the
`/ops` forms without a provider are deprecated; every form takes an optional `clientRequestId` request parameter,
and `start` uses `Optional.ofNullable(id).orElse(UUID.randomUUID().toString())` when it is absent.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from flask import Flask

from clouddriver_wire import InvalidRequest, OpsRequest, ops_blueprint, ops_request, parse_body


def _app(max_depth: int = 64) -> tuple[Flask, list[OpsRequest]]:
    seen: list[OpsRequest] = []

    def submit(req: OpsRequest) -> Mapping[str, str]:
        seen.append(req)
        return {"id": "t-1", "resourceUri": "/task/t-1"}

    app = Flask("wire_test")
    app.register_blueprint(ops_blueprint("ops", submit, max_depth=max_depth))
    return app, seen


@pytest.mark.parametrize(
    ("url", "body", "provider", "operations", "endpoint"),
    [
        ("/ops", [{"resizeServerGroup": {"a": 1}}], None, [{"resizeServerGroup": {"a": 1}}], "ops.submit_deprecated"),
        ("/aws/ops", [{"resizeServerGroup": {"a": 1}}], "aws", [{"resizeServerGroup": {"a": 1}}], "ops.submit"),
        ("/ops/resizeServerGroup", {"a": 1}, None, [{"resizeServerGroup": {"a": 1}}], "ops.submit_one_deprecated"),
        ("/titus/ops/resizeServerGroup", {"a": 1}, "titus", [{"resizeServerGroup": {"a": 1}}], "ops.submit_one"),
    ],
)
def test_each_of_the_four_forms_becomes_the_list_form(
    url: str, body: Any, provider: str | None, operations: Any, endpoint: str
) -> None:
    app, seen = _app()
    response = app.test_client().post(url + "?clientRequestId=crid-7", json=body)
    assert response.status_code == 200 and response.get_json() == {"id": "t-1", "resourceUri": "/task/t-1"}
    assert seen == [OpsRequest(provider, operations, "crid-7")]
    assert app.url_map.bind("localhost").match(url, method="POST")[0] == endpoint


def test_only_post_is_served() -> None:
    app, seen = _app()
    assert app.test_client().get("/aws/ops").status_code == 405 and not seen


@pytest.mark.parametrize("crid", [None, ""])
def test_a_request_without_a_client_request_id_gets_a_fresh_uuid(crid: str | None) -> None:
    first, second = ops_request("aws", None, [], crid), ops_request("aws", None, [], crid)
    assert uuid.UUID(first.client_request_id) and first.client_request_id != second.client_request_id


def test_the_name_forms_wrap_whatever_was_posted() -> None:
    # Validation is the service's: a non-object body is still wrapped, and the service says what is wrong.
    assert ops_request(None, "destroyServerGroup", [1, 2], "c").operations == [{"destroyServerGroup": [1, 2]}]
    assert ops_request("aws", None, {"not": "a list"}, "c").operations == {"not": "a list"}


def test_a_valid_body_parses_to_its_json() -> None:
    assert parse_body(b' [{"resizeServerGroup": {"capacity": {"min": 1}}}] ', max_depth=4) == [
        {"resizeServerGroup": {"capacity": {"min": 1}}}
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the request body is empty"),
        (b"  \n", "the request body is empty"),
        (b"\xff\xfe", "the request body is not UTF-8"),
        (b"[{", "malformed JSON in the request body"),
        (b"[[[[]]]]", "the request body is nested too deeply: more than 3 levels of JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "the request body is nested too deeply: more than 3 levels of JSON"),
    ],
)
def test_a_body_that_is_not_an_operation_list_is_a_400_that_says_why(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_body(raw, max_depth=3)
    assert raised.value.status == 400 and raised.value.message == message and raised.value.errors


def test_a_body_as_deep_as_the_limit_is_accepted() -> None:
    assert parse_body(b"[[[1]]]", max_depth=3) == [[[1]]]


def test_malformed_json_says_where() -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_body(b'[{"a": }]', max_depth=8)
    assert raised.value.errors == ("Expecting value at line 1 column 8",)
