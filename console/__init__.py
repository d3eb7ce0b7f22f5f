"""The flag console: staged rollout in the browser, with explain, audit and the rollout dashboard.

`create_app(config=None)` builds the Flask app: server-rendered pages (the scopes matrix with its scope pages and
the reviewed stage editor with the kill switch, explain, audit with restore, rollout dashboard, live durable
operations, guarded rollouts) and a JSON API under /api described at /api/openapi.json. `cloudops console`
serves it on waitress. The matrix starts in `console.matrix`, the editor's review in `console.edit_review`.

May import: `flags`, `router`, `rollouts`, `cloud` (the catalogue's operation names and the cloud's accounts).
"""

from console.app import create_app

__all__ = ["create_app"]
