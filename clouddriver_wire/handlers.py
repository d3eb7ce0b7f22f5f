"""The Flask error handlers both services share: every error answers with Spring's error map.

A `ClouddriverError` answers with its own status and body; a body over the size limit is a 400 that names the
limit and says what to do instead; any other HTTP error (wrong route or method) keeps its status. An unexpected
exception is a 500 whose body says only that an internal error occurred and gives an error id: the log line
carries the same id with the traceback, so an operator finds the one from the other, and a client never sees
internals (kork's handler answers with the exception's message; these services do not).
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from clouddriver_wire.errors import ClouddriverError, error_body

__all__ = ["internal_error_body", "register_error_handlers"]


def internal_error_body(error_id: str) -> dict[str, object]:
    """The 500 body of an unexpected exception: Spring's error map with `errorId`, and no word of the exception."""
    message = f"an internal error occurred; the service's log has its details under error id {error_id}"
    return error_body(500, message, extra={"errorId": error_id})


def register_error_handlers(app: Flask, *, max_body_bytes: int, too_large_hint: str, log: logging.Logger) -> None:
    """Refuse bodies over `max_body_bytes` (this sets MAX_CONTENT_LENGTH, so the limit and the 400 that names it
    agree; `too_large_hint` says what to do instead) and answer every error as Clouddriver does. Unexpected
    exceptions are logged on `log`, with their error id and traceback."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.errorhandler(ClouddriverError)
    def clouddriver_error(e: ClouddriverError) -> ResponseReturnValue:
        return jsonify(e.to_json()), e.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> ResponseReturnValue:
        message = f"the request body is larger than {max_body_bytes} bytes"
        return jsonify(error_body(400, message, [too_large_hint])), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        status = e.code or 500
        return jsonify(error_body(status, e.description or e.name)), status

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> ResponseReturnValue:
        error_id = uuid.uuid4().hex
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.path, exc_info=e)
        return jsonify(internal_error_body(error_id)), 500
