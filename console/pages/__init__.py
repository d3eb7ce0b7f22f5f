"""The console's server-rendered pages, one blueprint per resource (the JSON API is `console.api`)."""

from __future__ import annotations

from flask import Blueprint

from console.pages import audit, auth, dashboard, explain, operations, rollouts, scope, scopes

__all__ = ["BLUEPRINTS"]

BLUEPRINTS: tuple[Blueprint, ...] = (
    auth.bp,
    scopes.bp,
    scope.bp,
    explain.bp,
    audit.bp,
    dashboard.bp,
    operations.bp,
    rollouts.bp,
)
