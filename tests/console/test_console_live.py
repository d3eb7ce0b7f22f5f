"""Live operations against the Temporal dev server: a real durable operation, started by the router's
DurableRunner and run by the real worker over a sim cloud whose instances take a minute to become healthy, shows
on the console with its progress (the workflow's `progress` query), its dimensions and a link into Temporal's UI."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path as FsPath
from typing import Any

import pytest
from console_support import bearer, console_config, database, sign_in
from temporalio.testing import WorkflowEnvironment

from cloud.sim import SimCloud
from console import create_app
from durable_runner.worker import WorkerTuning, build_worker
from router.contract import OperationRequest
from router.durable import DurableRunner

pytestmark = pytest.mark.temporal

UI = "http://temporal-ui.example:8233"


def _context(app: str) -> dict[str, Any]:
    return {
        "cloudProvider": "aws",
        "application": app,
        "stack": "main",
        "freeFormDetails": "",
        "credentials": "test",
        "availabilityZones": {"us-east-1": ["us-east-1a"]},
        "capacity": {"min": 1, "max": 2, "desired": 1},
        "amiName": f"{app}-1.0-ami",
        "instanceType": "m5.large",
        "securityGroups": [app],
    }


async def test_running_operations_show_their_progress_and_link_into_temporal(
    temporal_env: WorkflowEnvironment, tmp_path: FsPath
) -> None:
    client = temporal_env.client
    queue = f"console-{uuid.uuid4().hex}"
    operation_id = f"live-{uuid.uuid4().hex[:8]}"
    request = OperationRequest(
        operation_id, "createServerGroup", "createServerGroup", "test", "liveapp", "aws", _context("liveapp")
    )
    address = client.service_client.config.target_host
    app = create_app(
        console_config(database(tmp_path), TEMPORAL_ADDRESS=address, TEMPORAL_UI_URL=UI, TEMPORAL_TIMEOUT_S=5),
        environ={},
    )
    http = app.test_client()
    # Healthy only after a minute: the operation is still running (waiting for capacity) while the test looks.
    tuning = WorkerTuning(max_concurrent_activities=4, health_poll_seconds=0.05, wait_slice_seconds=5.0)
    async with build_worker(client, SimCloud(health_delay_s=60), task_queue=queue, tuning=tuning):
        handle = await DurableRunner(client, task_queue=queue).start_async(request)
        workflow_id = handle.run_id
        try:
            mine = await _listed_with_progress(http, workflow_id)
            assert mine["dimensions"] == {
                "application": "liveapp",
                "account": "test",
                "operation": "createServerGroup",
                "provider": "aws",
                "stage_type": "createServerGroup",
            }
            progress = mine["progress"]
            assert progress["operation_id"] == operation_id and progress["state"] == "running"
            assert progress["steps"][:2] == ["validate", "plan"] and progress["completed"] >= 2
            assert mine["uiUrl"] == f"{UI}/namespaces/default/workflows/{workflow_id}"
            await asyncio.to_thread(sign_in, http, "victor")
            page = (await asyncio.to_thread(http.get, "/operations")).text
            assert f'data-workflow-id="{workflow_id}"' in page and f'href="{mine["uiUrl"]}"' in page
            assert 'class="state">running<' in page and 'id="temporal-error"' not in page
        finally:
            await client.get_workflow_handle(workflow_id).terminate("test over")
    app.extensions["console"].close()


async def _listed_with_progress(http: Any, workflow_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """Visibility is eventually consistent, and the first steps take a moment: ask until both are there."""
    deadline = time.monotonic() + timeout
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await asyncio.to_thread(http.get, "/api/operations", headers=bearer("viewer"))
        view = response.get_json()
        assert view["error"] is None, view["error"]
        found = [o for o in view["operations"] if o["workflowId"] == workflow_id]
        if found and found[0]["progress"] and found[0]["progress"]["completed"] >= 2:
            return dict(found[0])
        await asyncio.sleep(0.2)
    raise AssertionError(f"{workflow_id} never showed with progress: {view}")
