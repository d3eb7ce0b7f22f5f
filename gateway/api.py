"""The gateway's HTTP routes, Clouddriver's: `POST /{provider}/ops`, `POST /ops` (and their `/{name}` forms),
`GET /task/{id}`, `GET /task`, `POST /task/{id}:resume`.

The four POST forms are Clouddriver's wire (clouddriver_wire.ops). POST validates synchronously (400 with every
error) and answers `{id, resourceUri}` at once; the driver runs the operations. The stage type of the operations
comes from the `X-Spinnaker-Stage-Type` header (or each operation's `stageType`); kork's `X-Spinnaker-Execution-Id`
header becomes the operations' execution id.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from clouddriver_wire.ops import OpsRequest, ops_blueprint
from gateway.model import EXECUTION_ID_HEADER, STAGE_TYPE_HEADER
from gateway.service import Gateway

__all__ = ["MAX_DEPTH", "gateway", "ops", "tasks"]

# Operation contexts are a few levels deep; a deeper body is refused before it reaches the tables or the runner.
MAX_DEPTH = 64


def gateway() -> Gateway:
    found = current_app.extensions["cloudops_gateway"]
    assert isinstance(found, Gateway)
    return found


def _submit(req: OpsRequest) -> dict[str, str]:
    return gateway().submit(
        req.operations,
        req.provider,
        req.client_request_id,
        stage_type=request.headers.get(STAGE_TYPE_HEADER) or None,
        execution_id=request.headers.get(EXECUTION_ID_HEADER) or None,
    )


ops = ops_blueprint("gateway_ops", _submit, max_depth=MAX_DEPTH)
tasks = Blueprint("gateway_tasks", __name__)


@tasks.get("/task/<task_id>")
def get_task(task_id: str) -> dict[str, Any]:
    return gateway().task(task_id)


@tasks.get("/task")
def list_tasks() -> ResponseReturnValue:
    return jsonify(gateway().running())


@tasks.post("/task/<task_id>:resume")
def resume_task(task_id: str) -> dict[str, str]:
    return gateway().resume(task_id)
