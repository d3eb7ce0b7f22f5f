"""Helpers every page blueprint shares: the acting user, and sending a refused form back with its reason."""

from __future__ import annotations

from flask import flash, redirect
from flask.typing import ResponseReturnValue

from console.responses import problem_for
from console.security import current_principal

__all__ = ["actor", "fail_back"]


def actor() -> str:
    """The signed-in user's name, as the audit trail records it."""
    principal = current_principal()
    assert principal is not None, "actor() is only called behind login_required"
    return principal.actor


def fail_back(exc: Exception, url: str) -> ResponseReturnValue:
    """Show why a form was refused on the page it came from (303: the browser follows with a GET)."""
    flash(problem_for(exc).message, "error")
    return redirect(url, code=303)
