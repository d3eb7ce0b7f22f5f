"""The gateway's Flask app: its routes, `/health`, and Spring-shaped JSON errors for everything.

A request the gateway cannot accept (malformed JSON, too large, wrong route or method) is a 4xx that says what
was wrong; its database or the cloud being unreachable is a 503; only a bug in the gateway answers 500.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, Response, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gateway import api
from gateway.errors import GatewayError, error_body
from gateway.service import Gateway
from router.metrics import RouterMetrics

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(gateway: Gateway) -> Flask:
    """The HTTP face of `gateway` (start its driver separately: `gateway.driver.start()`)."""
    app = Flask("gateway")
    app.config["MAX_CONTENT_LENGTH"] = gateway.settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep `status` and `history` first, as Clouddriver
    app.extensions["cloudops_gateway"] = gateway
    app.register_blueprint(api.ops)
    app.register_blueprint(api.tasks)
    app.add_url_rule("/health", "health", lambda: {"status": "UP"})
    app.add_url_rule("/metrics", "metrics", lambda: _metrics(gateway))
    _register_errors(app, gateway.settings.max_body_bytes)
    return app


def _metrics(gateway: Gateway) -> Response:
    """The router's Prometheus metrics: operations per path and outcome, decisions, fallbacks, comparisons."""
    metrics = getattr(gateway.runner, "metrics", None)
    registry = metrics.registry if isinstance(metrics, RouterMetrics) else CollectorRegistry()
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _register_errors(app: Flask, max_body_bytes: int) -> None:
    @app.errorhandler(GatewayError)
    def gateway_error(e: GatewayError) -> ResponseReturnValue:
        return jsonify(e.to_json()), e.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> ResponseReturnValue:
        message = f"the request body is larger than {max_body_bytes} bytes"
        hint = "send fewer or smaller operations, or raise the gateway's max_body_bytes setting"
        return jsonify(error_body(400, message, [hint])), 400

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> ResponseReturnValue:
        status = e.code or 500
        return jsonify(error_body(status, e.description or e.name)), status

    @app.errorhandler(sa.exc.SQLAlchemyError)
    def database_down(e: sa.exc.SQLAlchemyError) -> ResponseReturnValue:
        log.warning("the gateway's database failed: %s", e)
        message = f"the gateway's database is unavailable ({type(e).__name__}); try again"
        return jsonify(error_body(503, message)), 503

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        return jsonify(error_body(500, f"internal error: {type(e).__name__}: {e}")), 500
