"""The Flask app factory: configuration layers, the service's parts, one blueprint per resource, JSON errors.

Every error answers with Spring's error map `{timestamp, status, error, message, errors}`. A request the service
cannot accept (malformed JSON, a body too large, a wrong route) is a 4xx that says what was wrong; only a bug in
this service answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cloud.provider import CloudProvider
from legacy_clouddriver import api_ops, api_tasks
from legacy_clouddriver.config import load_settings
from legacy_clouddriver.errors import ClouddriverError, error_body
from legacy_clouddriver.service import Clouddriver

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, provider: CloudProvider | None = None) -> Flask:
    """A Clouddriver-compatible app. `config` is the last configuration layer (see legacy_clouddriver.config);
    `provider` replaces the cloud that `CLOUD` names (tests pass an in-process sim cloud)."""
    app = Flask("legacy_clouddriver")
    settings = load_settings(app.config, config)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep `status` and `history` first, as Clouddriver
    app.extensions["clouddriver"] = Clouddriver.build(settings, provider)
    app.register_blueprint(api_ops.bp)
    app.register_blueprint(api_tasks.bp)
    app.add_url_rule("/health", "health", lambda: {"status": "UP"})
    _register_errors(app, settings.max_body_bytes)
    return app


def _register_errors(app: Flask, max_body_bytes: int) -> None:
    @app.errorhandler(ClouddriverError)
    def clouddriver_error(e: ClouddriverError) -> ResponseReturnValue:
        return jsonify(e.to_json()), e.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> ResponseReturnValue:
        message = f"the request body is larger than {max_body_bytes} bytes"
        hint = "send fewer or smaller operations, or raise CLOUDDRIVER_MAX_BODY_BYTES"
        return jsonify(error_body(400, message, [hint])), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        status = e.code or 500
        return jsonify(error_body(status, e.description or e.name)), status

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        return jsonify(error_body(500, f"internal error: {type(e).__name__}: {e}")), 500
