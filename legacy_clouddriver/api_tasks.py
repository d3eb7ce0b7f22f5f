"""The `tasks` resource: `GET /task/{id}`, `GET /task` (running tasks), `POST /task/{id}:resume`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from clouddriver_wire.errors import TaskNotFound
from legacy_clouddriver.api_ops import service

__all__ = ["bp"]

bp = Blueprint("tasks", __name__)


@bp.get("/task/<task_id>")
def get_task(task_id: str) -> dict[str, Any]:
    task = service().repository.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    return task.to_json()


@bp.get("/task")
def list_tasks() -> ResponseReturnValue:
    return jsonify([t.to_json() for t in service().repository.list_running()])


@bp.post("/task/<task_id>:resume")
def resume_task(task_id: str) -> dict[str, str]:
    task = service().processor.resume(task_id)
    return {"id": task.id, "resourceUri": f"/task/{task.id}"}
