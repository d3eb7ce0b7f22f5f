"""The `ops` resource: submit operations (`POST /{provider}/ops`, `POST /ops`, and their `/{name}` forms).

The four forms are Clouddriver's wire (clouddriver_wire.ops); what is this service's is what a request starts.
Validation is synchronous (400 with every error); execution is not: the answer is `{id, resourceUri}` at once.
"""

from __future__ import annotations

from flask import current_app

from clouddriver_wire.ops import OpsRequest, ops_blueprint
from legacy_clouddriver.operations import resolve_operations
from legacy_clouddriver.service import Clouddriver

__all__ = ["MAX_DEPTH", "bp", "service"]

# As deep as Python's JSON parser goes before its recursion limit: the depth this service has always accepted.
MAX_DEPTH = 1000


def service() -> Clouddriver:
    found = current_app.extensions["clouddriver"]
    assert isinstance(found, Clouddriver)
    return found


def _start(req: OpsRequest) -> dict[str, str]:
    svc = service()
    operations = resolve_operations(req.operations, req.provider, svc.accounts.get())
    task = svc.processor.process(operations, req.client_request_id)
    return {"id": task.id, "resourceUri": f"/task/{task.id}"}


bp = ops_blueprint("ops", _start, max_depth=MAX_DEPTH)
