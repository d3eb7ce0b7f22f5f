"""Fast-Properties-style scoped dynamic flags.

A pure evaluator over an in-memory snapshot (most specific scope wins, LaunchDarkly-compatible sticky buckets),
stores that push changes (SQL through SQLAlchemy, Redis pub/sub), an audit trail with restore, kill switches, and
LaunchDarkly as an alternative backend.

    client = FlagClient.from_url("sqlite:///.cloudops/cloudops.db", redis_url="redis://localhost:6379/0")
    decision = client.decide("cloudops.migration.stage", request.dimensions(), {"operation_id": request.operation_id})
    decision.stage, decision.in_rollout, decision.reason

Write with `SqlFlagStore(url).set_property(key, value, scope, actor=..., reason=...)`; test with `FlagTestData`.
OpenFeature both ways (the `openfeature` extra): `CloudopsProvider` serves these flags to any OpenFeature client;
`OpenFeatureFlagSource` routes from any OpenFeature provider (flagd, LaunchDarkly's, ...); docs/openfeature.md.
The SQL store, the Redis bus and the LaunchDarkly backend are imported on first use (they pull in heavy packages).

May import: nothing of ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flags.client import ClientStatus, FlagClient
from flags.decision import (
    Candidate,
    CandidateOutcome,
    Decision,
    DecisionError,
    Explanation,
    FlagSource,
    ReasonKind,
)
from flags.errors import (
    ConcurrentModification,
    FlagError,
    FlagSchemaNotMigrated,
    FlagStoreUnavailable,
    InvalidInput,
    NotFound,
    PropertyConflict,
)
from flags.evaluator import decide, explain
from flags.keys import KNOWN_KEYS, RETRY_WINDOW_KEY, SHADOW_SAMPLE_KEY, STAGE_KEY, KeySpec
from flags.memory_store import MemoryFlagStore
from flags.model import (
    DEFAULT_BUCKET_BY,
    DIMENSIONS,
    Change,
    ChangeAction,
    Dimension,
    JsonValue,
    KillSwitch,
    MigrationStage,
    Property,
    Scope,
)
from flags.snapshot import Snapshot
from flags.store import ChangeFeed, ChangeNotifier, FlagStore, SnapshotSource
from flags.testing import FlagTestData

if TYPE_CHECKING:
    from flags.launchdarkly import LaunchDarklyFlagSource
    from flags.launchdarkly_export import to_launchdarkly_data
    from flags.openfeature_provider import CloudopsProvider
    from flags.openfeature_source import OpenFeatureFlagSource
    from flags.redis_bus import RedisChangeBus
    from flags.sql_store import SqlFlagStore

__all__ = [
    "DEFAULT_BUCKET_BY",
    "DIMENSIONS",
    "KNOWN_KEYS",
    "RETRY_WINDOW_KEY",
    "SHADOW_SAMPLE_KEY",
    "STAGE_KEY",
    "Candidate",
    "CandidateOutcome",
    "Change",
    "ChangeAction",
    "CloudopsProvider",
    "ChangeFeed",
    "ChangeNotifier",
    "ClientStatus",
    "ConcurrentModification",
    "Decision",
    "DecisionError",
    "Dimension",
    "Explanation",
    "FlagClient",
    "FlagError",
    "FlagSource",
    "FlagStore",
    "FlagTestData",
    "InvalidInput",
    "JsonValue",
    "KeySpec",
    "KillSwitch",
    "LaunchDarklyFlagSource",
    "MemoryFlagStore",
    "MigrationStage",
    "NotFound",
    "OpenFeatureFlagSource",
    "Property",
    "PropertyConflict",
    "ReasonKind",
    "RedisChangeBus",
    "FlagSchemaNotMigrated",
    "Scope",
    "Snapshot",
    "SnapshotSource",
    "SqlFlagStore",
    "FlagStoreUnavailable",
    "decide",
    "explain",
    "to_launchdarkly_data",
]

_LAZY = {
    "LaunchDarklyFlagSource": "flags.launchdarkly",
    "to_launchdarkly_data": "flags.launchdarkly_export",
    "CloudopsProvider": "flags.openfeature_provider",
    "OpenFeatureFlagSource": "flags.openfeature_source",
    "RedisChangeBus": "flags.redis_bus",
    "SqlFlagStore": "flags.sql_store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flags' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
