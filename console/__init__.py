"""The flag console: staged rollout in the browser, with explain, audit and the rollout dashboard.

`create_app(config=None)` builds the Flask app: server-rendered pages (scopes matrix and stage editor with the
kill switch, explain, audit with restore, rollout dashboard, live durable operations, guarded rollouts) and a JSON
API under /api described at /api/openapi.json. `cloudops console` serves it on waitress.

May import: `flags`, `router`.
"""

from console.app import create_app

__all__ = ["create_app"]
