"""The `Outcome` search attribute and the workflow's details on the Temporal dev server: a business failure ends
COMPLETED (Temporal's "Failures 0"), so the workflow says what happened where the UI and visibility show it.

A worker runs in this process on a fresh task queue, over an in-process sim cloud. The pure mapping (result to
outcome word and details line) is tested without a server at the end.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import cast

import pytest
from durable_support import create_context, group_context, running_worker, seeded_group, workflow_input
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from cloud.sim import SimCloud
from durable_runner.contract import ErrorKind, WorkflowError, WorkflowResult, workflow_id_for
from durable_runner.outcome import OUTCOMES, details_of, outcome_of
from durable_runner.search_attributes import OUTCOME, typed_attributes
from durable_runner.workflows import UntypedCloudOperationRunner


async def _listed(client: Client, query: str, expected: set[str]) -> set[str]:
    found: set[str] = set()
    for _ in range(100):  # visibility is eventually consistent
        found = {w.id async for w in client.list_workflows(query)}
        if found == expected:
            break
        await asyncio.sleep(0.05)
    return found


@pytest.mark.temporal
async def test_a_business_failure_completes_with_outcome_failed_and_is_listed_by_it(temporal_env: object) -> None:
    client = cast(WorkflowEnvironment, temporal_env).client
    sim = SimCloud(health_delay_s=0)
    app = f"app{uuid.uuid4().hex[:8]}"
    refused = workflow_input(
        "resizeServerGroup",
        group_context(seeded_group(sim), capacity={"min": 0, "max": 100000, "desired": 100000}),
    )
    deployed = workflow_input("createServerGroup", create_context(app, desired=1))
    attrs = typed_attributes({"application": app, "account": "test", "operation": "", "provider": "aws"})
    handles = {}
    async with running_worker(client, sim) as tq:
        for name, inp in (("refused", refused), ("deployed", deployed)):
            handles[name] = await client.start_workflow(
                UntypedCloudOperationRunner.run,
                inp,
                id=workflow_id_for(inp.operation_id),
                task_queue=tq,
                search_attributes=attrs,
            )
            await handles[name].result()
        # What the UI shows as "Current details": the workflow's metadata query, answered by a worker.
        metadata = await handles["refused"].query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    details = metadata.current_details
    assert details.startswith("failed: resizeServerGroup in test") and "CapacityOutOfBounds" in details
    refused_description = await handles["refused"].describe()
    assert refused_description.status == WorkflowExecutionStatus.COMPLETED
    assert refused_description.typed_search_attributes.get(OUTCOME) == "failed"
    assert (await handles["deployed"].describe()).typed_search_attributes.get(OUTCOME) == "succeeded"

    failed = await _listed(client, f"Application = '{app}' AND Outcome = 'failed'", {handles["refused"].id})
    assert failed == {handles["refused"].id}
    assert await _listed(client, f"Application = '{app}'", set(handles[n].id for n in handles)) == {
        h.id for h in handles.values()
    }


def _result(ok: bool, *kinds: ErrorKind) -> WorkflowResult:
    errors = [WorkflowError(kind=k, message=f"{k} went wrong", code=f"{k}Code") for k in kinds]
    return WorkflowResult(ok=ok, operation_id="op-1", operation="resizeServerGroup", errors=errors)


def test_the_outcome_is_one_word_of_the_closed_set() -> None:
    assert outcome_of(_result(True)) == "succeeded"
    assert outcome_of(_result(False, ErrorKind.VALIDATION)) == "failed"
    assert outcome_of(_result(False, ErrorKind.BUSINESS)) == "failed"
    # A step that ran out of its retry window, even with a compensation error after it, is infrastructure.
    assert outcome_of(_result(False, ErrorKind.INFRASTRUCTURE, ErrorKind.BUSINESS)) == "errored"
    assert OUTCOMES == ("succeeded", "failed", "errored")


def test_the_details_say_what_ran_where_and_the_first_error() -> None:
    inp = workflow_input("resizeServerGroup", group_context("myapp-main-v000"))
    line = details_of(inp, _result(False, ErrorKind.BUSINESS, ErrorKind.BUSINESS))
    assert line.startswith("failed: resizeServerGroup")
    assert "business businessCode: business went wrong (+1 more)" in line
    assert details_of(inp, _result(True)).startswith("succeeded: resizeServerGroup")
