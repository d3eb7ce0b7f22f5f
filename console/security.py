"""Authentication and CSRF for the console, as Flask glue over `console.identity`.

Pages: a signed session cookie (HttpOnly, SameSite=Lax, Secure whenever the console is reached over TLS or is
configured as behind a TLS proxy) carries a server-side session's id (console/sessions.py): sign-out revokes it,
and it ends after an idle timeout and an absolute lifetime. The user's role is read from configuration on every
request, so removing a user or changing a role takes effect at once, and changing a password ends that user's
sessions. Every POST to a page must carry the session's CSRF token (a hidden `csrf_token` field), compared in
constant time.

The JSON API (/api/...) never reads the cookie: it takes `Authorization: Bearer <token>` only, which a browser
never sends on its own, so cross-site requests cannot use it and CSRF does not apply there.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import Forbidden, Unauthorized

from console.identity import Principal, Role, User, find_token
from console.services import services

__all__ = [
    "CSRF_FIELD",
    "TlsAwareSessions",
    "api_principal",
    "check_csrf",
    "csrf_token",
    "current_principal",
    "editor_required",
    "load_page_principal",
    "login_required",
    "safe_next",
    "sign_in",
    "sign_out",
]

F = TypeVar("F", bound=Callable[..., Any])

CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _fingerprint(user: User) -> str:
    """Changes when the user's password hash does, which ends the sessions signed in with the old one."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def csrf_token() -> str:
    """The session's CSRF token, created on first use (the login form needs one before anyone signs in)."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing page request whose form lacks the session's CSRF token."""
    if request.method in _SAFE_METHODS:
        return
    expected = session.get("csrf")
    presented = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not presented or not hmac.compare_digest(expected, presented):
        abort(400, description="the form's CSRF token is missing or out of date: reload the page and try again")


class TlsAwareSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie marked Secure whenever the request came over TLS (directly,
    or through a proxy the console is configured to trust: ProxyFix sets the scheme), not only when configured."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def sign_in(user: User) -> None:
    """Start a fresh server-side session for `user` (a new CSRF token too, so a token seen before login is
    worthless)."""
    session.clear()
    session.permanent = True
    session["sid"] = services().sessions.create(user.name, _fingerprint(user), time.time())
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out() -> None:
    """Revoke the session in the database, so a copy of its cookie signs nobody in, then forget it here."""
    sid = session.get("sid")
    if isinstance(sid, str):
        services().sessions.revoke(sid, time.time())
    session.clear()


def load_page_principal() -> None:
    """Before each page request: who is signed in, from a live server-side session, re-checked against
    configuration."""
    g.principal = None
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    row = services().sessions.lookup(sid, time.time())
    user = services().settings.users.get(row.user_name) if row else None
    if row is None or user is None or row.fingerprint != _fingerprint(user):
        session.clear()
        return
    g.principal = Principal(name=user.name, role=user.role, kind="user")


def api_principal() -> Principal:
    """The API caller from its bearer token; 401 without a valid one."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Unauthorized("send an API token: Authorization: Bearer <token> (see `cloudops console new-token`)")
    token = find_token(services().settings.tokens, presented.strip())
    if token is None:
        raise Unauthorized("the bearer token is not valid (unknown, revoked, or mistyped)")
    return Principal(name=token.name, role=token.role, kind="token")


def current_principal() -> Principal | None:
    found = g.get("principal")
    return found if isinstance(found, Principal) else None


def safe_next(target: str | None) -> str:
    """A post-login destination on this site only (no scheme, no host, no `//`), else the home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("scopes.index")


def login_required(view: F) -> F:
    """A page for any signed-in user; others are sent to the login page (and back afterwards)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_principal() is None:
            if request.method in _SAFE_METHODS:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            raise Unauthorized("sign in first")
        return view(*args, **kwargs)

    return cast(F, wrapped)


def editor_required(view: F) -> F:
    """A page action for editors only: 403 for a viewer."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        assert principal is not None
        if not principal.role.allows(Role.EDITOR):
            raise Forbidden(f"{principal.name} is a {principal.role.value}: changes need the editor role")
        return view(*args, **kwargs)

    return cast(F, wrapped)
