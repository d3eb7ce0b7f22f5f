"""The Flask app factory: configuration layers, the service's parts, one blueprint per resource, JSON errors.

Every error answers with Spring's error map `{timestamp, status, error, message, errors}` (clouddriver_wire's
handlers). A request the service cannot accept (malformed JSON, a body too large, a wrong route) is a 4xx that
says what was wrong; only a bug in this service answers 500, with an error id that its log line carries too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from cloud.provider import CloudProvider
from clouddriver_wire.handlers import register_error_handlers
from clouddriver_wire.tracing import trace_requests
from legacy_clouddriver import api_credentials, api_ops, api_tasks
from legacy_clouddriver.config import load_settings
from legacy_clouddriver.service import Clouddriver

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, provider: CloudProvider | None = None) -> Flask:
    """A Clouddriver-compatible app. `config` is the last configuration layer (see legacy_clouddriver.config);
    `provider` replaces the cloud that `CLOUD` names (tests pass an in-process sim cloud)."""
    app = Flask("legacy_clouddriver")
    settings = load_settings(app.config, config)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep `status` and `history` first, as Clouddriver
    app.extensions["clouddriver"] = Clouddriver.build(settings, provider)
    app.register_blueprint(api_ops.bp)
    app.register_blueprint(api_tasks.bp)
    app.register_blueprint(api_credentials.bp)
    app.add_url_rule("/health", "health", lambda: {"status": "UP"})
    trace_requests(app, "legacy_clouddriver")
    register_error_handlers(
        app,
        max_body_bytes=settings.max_body_bytes,
        too_large_hint="send fewer or smaller operations, or raise CLOUDDRIVER_MAX_BODY_BYTES",
        log=log,
    )
    return app
