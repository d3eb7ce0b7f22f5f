"""The Flask app factory: configuration layers, services, one blueprint per resource, security headers, errors.

Pages (server-rendered Jinja, autoescaped) use a signed session cookie and a CSRF token on every form; the JSON
API under /api uses bearer tokens only. Every error is a page or `{"error", "message"}` that says what was
wrong; only a bug answers 500.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.middleware.proxy_fix import ProxyFix

from console import pages
from console.api import bp as api_bp
from console.config import ConsoleSettings, load_settings
from console.errors import ConfigError
from console.responses import problem_for
from console.security import (
    CSRF_FIELD,
    TlsAwareSessions,
    check_csrf,
    csrf_token,
    current_principal,
    load_page_principal,
)
from console.services import ConsoleServices, services
from flags import FlagError, KillSwitch

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
_SECRET_FILE = "console-secret-key"


def create_app(config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None) -> Flask:
    """The console. `config` is the last configuration layer (see console.config); `environ` replaces os.environ
    (tests). Raises ConfigError naming the bad setting."""
    settings = load_settings(config, environ)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="cloudops_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_s),
        MAX_CONTENT_LENGTH=256 * 1024,
        TESTING=settings.testing,
    )
    app.session_interface = TlsAwareSessions()
    if settings.behind_tls_proxy:  # one proxy in front: its X-Forwarded-Proto and -For are the client's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep documents in their natural order
    app.extensions["console"] = ConsoleServices.build(settings)
    for blueprint in pages.BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    app.jinja_env.globals.update(
        csrf_token=csrf_token, csrf_field=CSRF_FIELD, principal=current_principal, kill_switch_state=_kill_switch_state
    )
    app.before_request(_before_page)
    app.after_request(_headers)
    app.register_error_handler(Exception, _error)
    return app


def _secret_key(settings: ConsoleSettings) -> str:
    """The configured key; in tests a random one; otherwise one generated once and kept under the state dir."""
    if settings.secret_key:
        if len(settings.secret_key) < 16:
            raise ConfigError("console setting secret_key is too short: use at least 16 random characters")
        return settings.secret_key
    if settings.testing:
        return secrets.token_hex(32)
    path = Path(settings.state_dir) / _SECRET_FILE
    try:
        if path.exists():
            kept = path.read_text().strip()
            if len(kept) < 32:
                raise ConfigError(f"the generated secret key in {path} is damaged: delete the file to make a new one")
            return kept
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(key)
    except OSError as exc:
        raise ConfigError(
            f"no secret_key configured, and cannot keep a generated one at {path}: {exc.strerror}"
        ) from exc
    log.warning(
        "no SECRET_KEY configured: using a generated one kept in %s. In production set CONSOLE_SECRET_KEY "
        "(or secret_key in the config file) to a long random value shared by every console instance.",
        path,
    )
    return key


def _kill_switch_state() -> KillSwitch | None:
    """The engaged global kill switch, for the banner on every page; None when released or unknown."""
    try:
        switches = services().store.kill_switches()
    except FlagError:
        return None  # the page itself will say the store is down
    return next((s for s in switches if s.is_global and s.engaged), None)


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _before_page() -> None:
    if _is_api() or request.endpoint in (None, "static", "healthz"):
        return
    load_page_principal()
    check_csrf()


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error(exc: Exception) -> ResponseReturnValue:
    problem = problem_for(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="cloudops-console"'} if problem.status == 401 and _is_api() else {}
    if _is_api():
        return jsonify(problem.to_json()), problem.status, headers
    return render_template("error.html", problem=problem), problem.status
