"""A Clouddriver-compatible service: the legacy path, failure modes included.

`POST /{provider}/ops` validates and answers with a task id at once, runs the operations on a background
executor, and `GET /task/{id}` reports Clouddriver's task JSON. Task state lives in memory (lost on restart) or in
Redis (Clouddriver's key layout and TTLs). A process that dies mid-task leaves a zombie, exactly as Clouddriver does.

Public: `create_app(config=None)` (legacy_clouddriver.app); the task model (legacy_clouddriver.task); the
repositories (legacy_clouddriver.repository, legacy_clouddriver.redis_repository).

May import: `cloud`, `clouddriver_wire` (the wire format it shares with the gateway). Never `router`, `flags`,
`gateway` or `console`: this package deploys alone and is deleted when the migration ends.
"""

from legacy_clouddriver.app import create_app

__all__ = ["create_app"]
