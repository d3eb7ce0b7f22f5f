"""cloudops properties served to any OpenFeature client: `CloudopsProvider`.

    from openfeature import api
    api.set_provider(CloudopsProvider(FlagClient.from_url(url, redis_url=redis_url)))
    details = api.get_client().get_string_details("cloudops.migration.stage", "legacy", context_for(dims, attrs))
    details.variant, details.reason, details.flag_metadata["propertyId"]

The evaluation is the flag client's own (`FlagClient.decide`: the most specific property, sticky buckets, kill
switches), so an OpenFeature caller and the router can never disagree. The context mapping is
`flags.openfeature_context`. Reasons: a property that matched gives TARGETING_MATCH, or SPLIT when a canary's
percent bucketed the request; no property gives DEFAULT; a kill switch or a key's off switch gives DISABLED; a
decision that could not be made gives ERROR with an error code, and the default. The variant is the stage (or the
value as text); the flag metadata carries the deciding property's id and version, the percent, the bucket and
whether the request is inside the rollout. Each new snapshot (a Redis push, or the poll) emits
PROVIDER_CONFIGURATION_CHANGED with the keys whose properties changed, so hooks and caches refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from flags.client import FlagClient
from flags.decision import Decision, DecisionError, ReasonKind
from flags.openfeature_context import request_of
from flags.snapshot import Snapshot

__all__ = ["CloudopsProvider", "changed_keys", "resolution_of"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

ERROR_CODES = {
    DecisionError.STORE_UNAVAILABLE: ErrorCode.PROVIDER_NOT_READY,
    DecisionError.UNKNOWN_KEY: ErrorCode.FLAG_NOT_FOUND,
    DecisionError.UNKNOWN_DIMENSION: ErrorCode.INVALID_CONTEXT,
    DecisionError.MALFORMED_PROPERTY: ErrorCode.PARSE_ERROR,
    DecisionError.EVALUATION_FAILED: ErrorCode.GENERAL,
}


def _reason(decision: Decision) -> Reason:
    if decision.reason_kind is ReasonKind.MATCH:
        return Reason.SPLIT if decision.bucket is not None else Reason.TARGETING_MATCH
    if decision.reason_kind is ReasonKind.NO_MATCH:
        return Reason.DEFAULT
    if decision.reason_kind in (ReasonKind.KILL_SWITCH, ReasonKind.KEY_OFF):
        return Reason.DISABLED
    return Reason.ERROR


def _metadata(decision: Decision) -> dict[str, bool | int | float | str]:
    found: dict[str, bool | int | float | str | None] = {
        "propertyId": decision.property_id,
        "propertyVersion": decision.property_version,
        "percent": decision.percent,
        "bucket": decision.bucket,
        "bucketBy": decision.bucket_by,
        "inRollout": decision.in_rollout,
        "killSwitch": decision.kill_switch,
        "explanation": decision.reason,
    }
    return {k: v for k, v in found.items() if v is not None}


def resolution_of(decision: Decision, default: _T, wanted: type | tuple[type, ...]) -> FlagResolutionDetails[_T]:
    """A decision as OpenFeature's resolution of a flag of type `wanted` (the caller's `default` on an error or a
    type the key's value is not)."""
    variant = decision.stage.value if decision.stage else str(decision.value)
    if decision.error is not None:
        return FlagResolutionDetails(
            value=default,
            error_code=ERROR_CODES[decision.error],
            error_message=decision.reason,
            reason=Reason.ERROR,
            flag_metadata=_metadata(decision),
        )
    value = decision.value
    if isinstance(value, bool) and wanted is not bool or not isinstance(value, wanted):
        return FlagResolutionDetails(
            value=default,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"{decision.key} is {type(value).__name__} ({value!r}), not what was asked for",
            reason=Reason.ERROR,
        )
    if wanted == (int, float):
        value = float(value)  # type: ignore[arg-type]  # OpenFeature's float flags are floats, never ints
    return FlagResolutionDetails(
        value=value,  # type: ignore[arg-type]
        variant=variant,
        reason=_reason(decision),
        flag_metadata=_metadata(decision),
    )


def changed_keys(previous: Snapshot | None, current: Snapshot) -> list[str]:
    """The keys whose properties or switches differ between two snapshots (every key of the first one)."""
    if previous is None:
        return sorted(current.keys())
    keys = set(previous.keys()) | set(current.keys())
    changed = {k for k in keys if previous.properties_for(k) != current.properties_for(k)}
    changed |= {k for k in keys if previous.key_switch(k) != current.key_switch(k)}
    if previous.global_switch != current.global_switch:
        changed = keys
    return sorted(changed)


class CloudopsProvider(AbstractProvider):
    """An OpenFeature provider over a `FlagClient` (its snapshot refresher keeps it current)."""

    def __init__(self, client: FlagClient, *, name: str = "cloudops") -> None:
        super().__init__()
        self.client = client
        self._name = name
        self._last: Snapshot | None = None
        client.add_listener(self._on_snapshot)

    def get_metadata(self) -> Metadata:
        return Metadata(name=self._name)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        self._last = self.client.snapshot

    def shutdown(self) -> None:
        self.client.close()

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        try:
            keys = changed_keys(self._last, snapshot)
            self._last = snapshot
            if keys:
                self.emit_provider_configuration_changed(
                    ProviderEventDetails(flags_changed=keys, message=f"flag snapshot version {snapshot.version}")
                )
        except Exception:  # a listener must never break the refresher
            log.exception("could not emit the OpenFeature change event")

    def _resolve(
        self, key: str, default: _T, context: EvaluationContext | None, wanted: type | tuple[type, ...]
    ) -> FlagResolutionDetails[_T]:
        dimensions, attributes = request_of(context)
        return resolution_of(self.client.decide(key, dimensions, attributes), default, wanted)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, bool)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, str)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, int)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, (int, float))

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        return self._resolve(flag_key, default_value, evaluation_context, (list, dict))
