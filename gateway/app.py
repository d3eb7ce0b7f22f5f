"""The gateway's Flask app: its routes (gateway.api; with an upstream Clouddriver, gateway.proxy_api), `/health`,
`/metrics`, and Spring-shaped JSON errors for everything.

A request the gateway cannot accept (malformed JSON, too large, wrong route or method) is a 4xx that says what
was wrong; its database or the cloud being unreachable is a 503; only a bug in the gateway answers 500, with an
error id that its log line carries too. All but the database's 503 are clouddriver_wire's shared handlers.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, Response, jsonify
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from clouddriver_wire.errors import error_body
from clouddriver_wire.handlers import register_error_handlers
from clouddriver_wire.tracing import trace_requests
from gateway import api, proxy_api
from gateway.service import Gateway

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(gateway: Gateway) -> Flask:
    """The HTTP face of `gateway` (start its driver separately: `gateway.driver.start()`)."""
    app = Flask("gateway")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep `status` and `history` first, as Clouddriver
    app.extensions["cloudops_gateway"] = gateway
    app.add_url_rule("/health", "health", lambda: {"status": "UP"})
    app.add_url_rule("/metrics", "metrics", lambda: _metrics(gateway))
    if gateway.upstream is None:
        app.register_blueprint(api.ops)
        app.register_blueprint(api.tasks)
    else:  # the real Clouddriver behind: what the gateway does not route itself passes through to it
        app.register_blueprint(proxy_api.ops)
        app.register_blueprint(proxy_api.tasks)
        app.register_blueprint(proxy_api.passthrough)
    trace_requests(app, "gateway")  # the gateway's RoutingRunner continues the caller's trace
    _register_errors(app, gateway.settings.max_body_bytes)
    return app


def _metrics(gateway: Gateway) -> Response:
    """The router's Prometheus metrics (operations per path and outcome, decisions, fallbacks, comparisons) and
    the gateway's own on the same registry (lists taken, and passed to the upstream, by operation and reason)."""
    return Response(generate_latest(gateway.metrics.registry), mimetype=CONTENT_TYPE_LATEST)


def _register_errors(app: Flask, max_body_bytes: int) -> None:
    register_error_handlers(
        app,
        max_body_bytes=max_body_bytes,
        too_large_hint="send fewer or smaller operations, or raise the gateway's max_body_bytes setting",
        log=log,
    )

    @app.errorhandler(sa.exc.SQLAlchemyError)
    def database_down(e: sa.exc.SQLAlchemyError) -> ResponseReturnValue:
        log.warning("the gateway's database failed: %s", e)
        message = f"the gateway's database is unavailable ({type(e).__name__}); try again"
        return jsonify(error_body(503, message)), 503
