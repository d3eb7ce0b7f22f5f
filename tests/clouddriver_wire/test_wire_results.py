"""The plan and EXCEPTION result objects of a Clouddriver task (clouddriver_wire.results).

The EXCEPTION object follows kork's ExceptionSummary as Clouddriver's orchestration processor fills it on a failed
task (spinnaker/clouddriver: clouddriver-core/src/main/groovy/com/netflix/spinnaker/clouddriver/orchestration/
DefaultOrchestrationProcessor.groovy; spinnaker/kork: kork-exceptions ExceptionSummary). Orca's MonitorKatoTask
reads `type == "EXCEPTION"` among a task's resultObjects to fail the stage with its message.
"""

from __future__ import annotations

from clouddriver_wire.results import (
    EXCEPTION_TYPE,
    PLAN_TYPE,
    exception_attributes,
    exception_of,
    exception_summary,
    last_plan,
    own_results,
    plan_object,
)

DEPLOYED = {"serverGroupNames": ["us-east-1:app-main-v001"], "serverGroupNameByRegion": {"us-east-1": "app-main-v001"}}


def test_an_exception_summary_has_kork_shape_and_reads_back() -> None:
    summary = exception_summary("DeployAtomicOperation", "quota hit", retryable=False, attributes={"code": "Quota"})
    assert summary == {
        "type": EXCEPTION_TYPE,
        "operation": "DeployAtomicOperation",
        "message": "quota hit",
        "cause": "quota hit",
        "details": [
            {
                "message": "quota hit",
                "userMessage": "quota hit",
                "retryable": False,
                "additionalAttributes": {"code": "Quota"},
            }
        ],
        "retryable": False,
    }
    assert exception_of([DEPLOYED, summary]) is summary
    assert exception_attributes(summary) == {"code": "Quota"}


def test_attributes_of_a_malformed_exception_are_empty() -> None:
    assert exception_attributes({"type": EXCEPTION_TYPE}) == {}
    assert exception_attributes({"type": EXCEPTION_TYPE, "details": ["not a map"]}) == {}
    assert exception_attributes({"type": EXCEPTION_TYPE, "details": [{"additionalAttributes": []}]}) == {}
    assert exception_of([DEPLOYED]) is None


def test_own_results_leave_out_plan_and_exception_objects_in_order() -> None:
    later = {"loadBalancers": {"us-east-1": "app-lb"}}
    objects = [
        DEPLOYED,
        plan_object({"steps": []}, dry_run=False),
        later,
        exception_summary("", "x", retryable=None, attributes={}),
    ]
    assert own_results(objects) == [DEPLOYED, later]


def test_the_last_plan_wins_and_a_plan_object_keeps_its_dry_run() -> None:
    first, second = plan_object({"n": 1}, dry_run=True), plan_object({"n": 2}, dry_run=False)
    assert first == {"type": PLAN_TYPE, "plan": {"n": 1}, "dryRun": True}
    assert last_plan([first, DEPLOYED, second]) == {"n": 2}
    assert last_plan([DEPLOYED, {"type": PLAN_TYPE, "plan": "not a map"}]) is None
