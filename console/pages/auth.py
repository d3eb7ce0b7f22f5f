"""Sign in and out. Users and their password hashes come from configuration; a failed sign-in says only that
the name or the password is wrong, and costs the same time whichever it was. Attempts are throttled per user and
per address (console/sessions.py) before any password is checked: past the limit, 429 with Retry-After and the
time left, whatever the password."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.identity import check_login
from console.security import current_principal, safe_next, sign_in, sign_out
from console.services import services

__all__ = ["bp"]

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


@bp.get("/login")
def login() -> ResponseReturnValue:
    if current_principal() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template(
        "login.html", next=safe_next(request.args.get("next")), configured=bool(services().settings.users)
    )


@bp.post("/login")
def login_submit() -> ResponseReturnValue:
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    verdict = services().throttle.attempt(name, request.remote_addr or "unknown", time.time())
    if not verdict.allowed:
        log.warning("console sign-in throttled for %r from %s", name[:64], request.remote_addr)
        page = render_template("login.html", next=target, error=verdict.message, username=name, configured=True)
        return page, 429, {"Retry-After": str(verdict.retry_after_s)}
    user = check_login(services().settings.users, name, password) if name and password else None
    if user is None:
        log.warning("failed console sign-in for %r from %s", name[:64], request.remote_addr)
        error = "wrong user name or password"
        return render_template("login.html", next=target, error=error, username=name, configured=True), 401
    services().throttle.succeeded(user.name)
    sign_in(user)
    log.info("console sign-in: %s (%s)", user.name, user.role.value)
    return redirect(target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    sign_out()
    flash("signed out", "ok")
    return redirect(url_for("auth.login"))
