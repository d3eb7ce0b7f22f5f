"""Spring's error body, the error tree's HTTP statuses, and the shared Flask error handlers of clouddriver_wire.

Clouddriver answers errors through kork's handlers, spinnaker/kork
`kork-web/src/main/java/com/netflix/spinnaker/kork/web/exceptions/GenericExceptionHandlers.java` (NotFoundException
404, InvalidRequestException 400, a method not supported 405, anything else 500 via `response.sendError`), which
Spring Boot renders as its error attributes, spring-projects/spring-boot
`spring-boot-project/spring-boot/src/main/java/org/springframework/boot/web/servlet/error/DefaultErrorAttributes.java`
(`timestamp`, `status`, `error` the reason phrase, `message`, `errors`). The task messages are Clouddriver's
OperationsController (spinnaker/clouddriver
`clouddriver-web/src/main/groovy/com/netflix/spinnaker/clouddriver/controllers/OperationsController.groovy`):
"Task not found (id: X)". Two deliberate differences: a non-retryable `:resume` is 409, not Clouddriver's 500; and
an unexpected exception's 500 carries an error id, never the exception's message as kork's `sendError` does.
"""

from __future__ import annotations

import logging
import time

import pytest
from flask import Flask, request

from clouddriver_wire import errors as wire
from clouddriver_wire.handlers import register_error_handlers

log = logging.getLogger("wire_test")
NOT_RETRYABLE = "Task is not retryable (id: t-9): only a FAILED_RETRYABLE task can be resumed"


def test_the_error_body_is_springs_error_map() -> None:
    before = int(time.time() * 1000)
    body = wire.error_body(404, "Task not found (id: x)", ["a hint"], {"fieldErrors": []})
    assert list(body) == ["timestamp", "status", "error", "message", "errors", "fieldErrors"]
    assert before <= body["timestamp"] <= int(time.time() * 1000)
    assert body | {"timestamp": 0} == {
        "timestamp": 0,
        "status": 404,
        "error": "Not Found",
        "message": "Task not found (id: x)",
        "errors": ["a hint"],
        "fieldErrors": [],
    }


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (wire.ClouddriverError("broken"), 500, "broken"),
        (wire.InvalidRequest("bad", errors=["fix it"]), 400, "bad"),
        (wire.TaskNotFound("t-9"), 404, "Task not found (id: t-9)"),
        (wire.TaskNotFound("t-9", "legacy said so"), 404, "legacy said so"),
        (wire.TaskNotRetryable("t-9"), 409, NOT_RETRYABLE),
        (wire.ServiceUnavailable("accounts down"), 503, "accounts down"),
    ],
)
def test_each_error_maps_to_its_status_and_message(error: wire.ClouddriverError, status: int, message: str) -> None:
    body = error.to_json()
    assert (error.status, body["status"], body["message"]) == (status, status, message)
    assert body["errors"] == list(error.errors)


def test_validation_failed_keeps_field_errors_and_lists_each_message() -> None:
    error = wire.ValidationFailed(
        [{"path": "[0].resizeServerGroup.capacity", "message": "is required", "code": "required"}, {"message": "x"}]
    )
    assert isinstance(error, wire.InvalidRequest) and error.status == 400
    body = error.to_json()
    assert body["message"] == "Validation Failed"
    assert body["errors"] == ["[0].resizeServerGroup.capacity: is required", "x"]
    assert body["fieldErrors"][0] == {
        "path": "[0].resizeServerGroup.capacity",
        "message": "is required",
        "code": "required",
    }


def test_error_message_reads_a_clouddriver_error_body() -> None:
    assert wire.error_message({"message": "Task not found (id: x)", "error": "Not Found"}) == "Task not found (id: x)"
    assert wire.error_message({"message": "", "error": "Conflict"}) == "Conflict"
    assert wire.error_message(None) == wire.error_message(["not", "a", "map"]) == ""


@pytest.fixture
def app() -> Flask:
    app = Flask("wire_test")
    register_error_handlers(app, max_body_bytes=16, too_large_hint="send less", log=log)

    @app.post("/raise/<kind>")
    def raise_(kind: str) -> str:
        if kind == "notfound":
            raise wire.TaskNotFound("t-1")
        raise RuntimeError("db password=hunter2 at /srv/secret")

    @app.post("/echo")
    def echo() -> str:
        return request.get_data(as_text=True)

    return app


def test_a_clouddriver_error_answers_its_status_and_body(app: Flask) -> None:
    response = app.test_client().post("/raise/notfound")
    assert response.status_code == 404 and response.get_json()["message"] == "Task not found (id: t-1)"


def test_a_body_over_the_limit_is_a_400_that_names_the_limit(app: Flask) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == 16
    response = app.test_client().post("/echo", data=b"x" * 17)
    assert response.status_code == 400
    assert response.get_json() | {"timestamp": 0} == wire.error_body(
        400, "the request body is larger than 16 bytes", ["send less"]
    ) | {"timestamp": 0}


@pytest.mark.parametrize(("method", "url", "status"), [("get", "/nothing", 404), ("get", "/echo", 405)])
def test_other_http_errors_keep_their_status(app: Flask, method: str, url: str, status: int) -> None:
    response = getattr(app.test_client(), method)(url)
    assert response.status_code == status and response.get_json()["status"] == status
    assert response.get_json()["message"]


def test_an_unexpected_exception_is_a_500_with_an_error_id_the_log_carries(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="wire_test"):
        response = app.test_client().post("/raise/boom")
    body = response.get_json()
    assert response.status_code == 500 and body["status"] == 500 and body["error"] == "Internal Server Error"
    assert "hunter2" not in response.get_data(as_text=True) and "RuntimeError" not in response.get_data(as_text=True)
    error_id = body["errorId"]
    assert len(error_id) == 32 and error_id in body["message"] and "internal error" in body["message"]
    (record,) = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None and "hunter2" in caplog.text and "Traceback" in caplog.text


def test_the_package_exports_exactly_what_its_modules_export() -> None:
    import clouddriver_wire
    from clouddriver_wire import handlers, ops, results

    assert set(clouddriver_wire.__all__) == {*wire.__all__, *handlers.__all__, *ops.__all__, *results.__all__}
    assert all(hasattr(clouddriver_wire, name) for name in clouddriver_wire.__all__)
