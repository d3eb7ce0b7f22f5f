"""Each package's public names are pinned: `__all__` of every package is exactly what this file lists, and every
name in it resolves. A change to a package's surface is then a change to this file too, made on purpose and seen
in review (httpx pins its `__all__` the same way).

`router` resolves its runners and `build_routing_runner` lazily (so importing the contract does not import
temporalio); resolving them here imports them, which is what a user who names them gets.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, frozenset[str]] = {
    "cloud": frozenset(),
    "clouddriver_wire": frozenset(
        {
            "ClouddriverError",
            "EXCEPTION_TYPE",
            "InvalidRequest",
            "OpsRequest",
            "PLAN_TYPE",
            "ServiceUnavailable",
            "Submit",
            "TaskNotFound",
            "TaskNotRetryable",
            "ValidationFailed",
            "error_body",
            "error_message",
            "exception_attributes",
            "exception_of",
            "exception_summary",
            "internal_error_body",
            "last_plan",
            "ops_blueprint",
            "ops_request",
            "own_results",
            "parse_body",
            "plan_object",
            "register_error_handlers",
        }
    ),
    "legacy_clouddriver": frozenset(
        {
            "create_app",
        }
    ),
    "durable_runner": frozenset(),
    "flags": frozenset(
        {
            "Candidate",
            "CandidateOutcome",
            "Change",
            "ChangeAction",
            "CloudopsProvider",
            "ChangeFeed",
            "ChangeNotifier",
            "ClientStatus",
            "ConcurrentModification",
            "DEFAULT_BUCKET_BY",
            "DIMENSIONS",
            "Decision",
            "DecisionError",
            "Dimension",
            "Explanation",
            "FlagClient",
            "FlagError",
            "FlagSchemaNotMigrated",
            "FlagSource",
            "FlagStore",
            "FlagStoreUnavailable",
            "FlagTestData",
            "InvalidInput",
            "JsonValue",
            "KNOWN_KEYS",
            "KeySpec",
            "KillSwitch",
            "LaunchDarklyFlagSource",
            "MemoryFlagStore",
            "MigrationStage",
            "NotFound",
            "OpenFeatureFlagSource",
            "Property",
            "PropertyConflict",
            "RETRY_WINDOW_KEY",
            "ReasonKind",
            "RedisChangeBus",
            "SHADOW_SAMPLE_KEY",
            "STAGE_KEY",
            "Scope",
            "Snapshot",
            "SnapshotSource",
            "SqlFlagStore",
            "decide",
            "explain",
            "to_launchdarkly_data",
        }
    ),
    "router": frozenset(
        {
            "CloudOperationRunner",
            "ConfigurationError",
            "DEFAULT_OPTIONS",
            "DurablePathRunner",
            "DurableRunner",
            "ErrorKind",
            "LegacyRunner",
            "OperationError",
            "OperationHandle",
            "OperationRequest",
            "OperationResult",
            "OperationState",
            "OperationStatus",
            "OwnershipUnavailable",
            "Path",
            "PathRunner",
            "ResultStatus",
            "RetentionUnavailable",
            "RouteDecision",
            "RouterError",
            "RoutingRunner",
            "RunOptions",
            "RunnerUnavailable",
            "Timings",
            "UnknownHandle",
            "build_routing_runner",
            "format_handle",
            "parse_handle",
        }
    ),
    "rollouts": frozenset(
        {
            "InvalidPlan",
            "InvalidTransition",
            "Rollout",
            "RolloutConflict",
            "RolloutController",
            "RolloutError",
            "RolloutEvent",
            "RolloutNotFound",
            "RolloutPlan",
            "RolloutStatus",
            "RolloutStoreUnavailable",
            "Thresholds",
            "TickAction",
            "TickResult",
        }
    ),
    "gateway": frozenset(
        {
            "EXECUTION_ID_HEADER",
            "Gateway",
            "GatewaySettings",
            "PRIOR_RESULTS_KEY",
            "STAGE_TYPE_HEADER",
            "build_gateway",
            "create_app",
            "load_gateway_settings",
            "operation_id_for",
        }
    ),
    "console": frozenset(
        {
            "create_app",
        }
    ),
    "processes": frozenset(
        {
            "ChildProcess",
            "ProcessFailed",
            "child_environment",
            "free_port",
            "http_ok",
            "launch",
            "module_argv",
            "port_open",
        }
    ),
    "cloudops": frozenset(),
    "bench": frozenset(),
    "migrations": frozenset(
        {
            "MigrationError",
            "alembic_config",
            "current",
            "downgrade",
            "head",
            "upgrade",
        }
    ),
}


def test_every_package_is_pinned() -> None:
    from test_architecture import ALLOWED

    assert set(PUBLIC) == set(ALLOWED), "a package was added or removed: pin its __all__ here"


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_the_package_exports_exactly_its_pinned_names(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package}/__init__.py has no __all__"
    assert len(exported) == len(set(exported)), f"{package}.__all__ names something twice"
    assert set(exported) == PUBLIC[package], (
        f"{package}.__all__ changed: added {sorted(set(exported) - PUBLIC[package])}, "
        f"removed {sorted(PUBLIC[package] - set(exported))}"
    )
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
