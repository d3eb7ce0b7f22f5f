"""Property: parsing never raises, whatever JSON arrives, and every error it returns is well-formed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from cloud.catalogue import ErrorCode, OperationName, ParseResult, parse_operation, parse_operation_list

PAYLOADS = Path(__file__).parent / "payloads"
KEYS = sorted(
    {
        "cloudProvider", "credentials", "account", "application", "stack", "freeFormDetails", "moniker", "region",
        "regions", "availabilityZones", "capacity", "min", "max", "desired", "amiName", "imageId", "instanceType",
        "subnetType", "serverGroupName", "asgName", "source", "useSourceCapacity", "instanceIds", "serverGroups",
        "name", "loadBalancerName", "listeners", "externalPort", "externalProtocol", "internalPort",
        "internalProtocol", "healthCheck", "isInternal", "securityGroups", "loadBalancers", "tags", "resources",
        "cpu", "memory", "disk", "env", "labels", "rollback", "onFailure", "targetAccount", "app", "detail",
        "us-east-1", "loadBalancerType", "healthCheckGracePeriod", "migrationPolicy", "blockDevices",
    }
)  # fmt: skip

leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
keys = st.sampled_from(KEYS) | st.text(max_size=8)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)
names = st.sampled_from([op.value for op in OperationName]) | st.text(max_size=10) | leaves
providers = st.sampled_from([None, "aws", "titus", "gce", ""])


def reference_contexts() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(PAYLOADS.glob("*.json")):
        body = json.loads(path.read_text())
        for item in body if isinstance(body, list) else [body]:
            found.extend(item.items())
    return found


def assert_well_formed(result: ParseResult) -> None:
    assert result.ok == (result.operation is not None)
    assert (result.operation is None) == bool(result.errors)
    reported = [(e.path, e.code) for e in result.errors]
    assert len(reported) == len(set(reported)), reported  # one problem, one error
    for error in result.errors:
        assert error.code != ErrorCode.INTERNAL, error  # the never-raise guard was hit: a bug
        assert error.code in set(ErrorCode) and error.message.strip()
        assert isinstance(error.path, str)
        json.dumps(error.to_json())
    if result.operation is not None:
        json.dumps(result.operation.to_json())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names, json_values, providers)
def test_parse_operation_never_raises_on_arbitrary_json(name: Any, context: Any, provider: str | None) -> None:
    assert_well_formed(parse_operation(name, context, provider=provider))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(reference_contexts()), st.sampled_from(KEYS), json_values, providers)
def test_breaking_one_field_of_a_real_payload_never_raises(
    item: tuple[str, dict[str, Any]], key: str, value: Any, provider: str | None
) -> None:
    name, context = item
    broken = dict(context) | {key: value}
    assert_well_formed(parse_operation(name, broken, provider=provider))
    for nested in ("capacity", "source", "availabilityZones", "resources", "moniker"):
        if isinstance(context.get(nested), dict):
            assert_well_formed(
                parse_operation(name, context | {nested: context[nested] | {key: value}}, provider=provider)
            )


@settings(max_examples=150, deadline=None)
@given(json_values, providers)
def test_parse_operation_list_never_raises(body: Any, provider: str | None) -> None:
    operations, errors = parse_operation_list(body, provider=provider)
    assert not (operations and errors)
    assert all(e.code != ErrorCode.INTERNAL for e in errors)
