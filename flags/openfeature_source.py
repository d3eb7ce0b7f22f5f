"""Route from the flags a team already has: a FlagSource backed by any OpenFeature provider.

    from openfeature import api
    api.set_provider(FlagdProvider(...))            # or LaunchDarkly's OpenFeature provider, or CloudopsProvider
    source = OpenFeatureFlagSource(api.get_client("cloudops"))
    build_routing_runner(config, flags=source)

Each decision asks the provider with the evaluation context of `flags.openfeature_context` (targeting key = the
operation id, attributes = the dimensions). The same rules hold as with our own store:
- fail-safe: a provider error (flag not found, not ready, a parse error, a wrong type, an exception) or a value
  that breaks the key's rules gives the key's default (legacy, for the stage), with the provider's reason, counted;
- kill switch: a boolean flag (`cloudops.force-legacy` by default) is evaluated first; true forces every default;
  a DISABLED resolution (the provider's off switch) does too;
- sticky buckets: a canary's percent comes from the flag metadata (`percent`); when the provider says whether the
  request is inside the rollout (`inRollout`, as CloudopsProvider does, or a split of its own done on the targeting
  key) that stands, otherwise the request is bucketed here exactly as our evaluator buckets it (LaunchDarkly's
  algorithm on `bucketBy`, default the operation id), so a cohort does not change with the backend.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from openfeature.client import OpenFeatureClient
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason

from flags._index import default_decision, stage_of
from flags.bucketing import bucket_fraction, in_rollout, salt_for
from flags.decision import Decision, DecisionError, ReasonKind
from flags.keys import STAGE_KEY, default_for, problem
from flags.model import DEFAULT_BUCKET_BY, JsonValue, MigrationStage
from flags.openfeature_context import context_for
from flags.remote_source import RemoteFlagSource

__all__ = ["FORCE_LEGACY_FLAG", "OpenFeatureFlagSource"]

log = logging.getLogger(__name__)

FORCE_LEGACY_FLAG = "cloudops.force-legacy"
_EMPTY: Mapping[str, str] = {}
_ERRORS = {
    ErrorCode.PROVIDER_NOT_READY: DecisionError.STORE_UNAVAILABLE,
    ErrorCode.PROVIDER_FATAL: DecisionError.STORE_UNAVAILABLE,
    ErrorCode.FLAG_NOT_FOUND: DecisionError.UNKNOWN_KEY,
    ErrorCode.PARSE_ERROR: DecisionError.MALFORMED_PROPERTY,
    ErrorCode.TYPE_MISMATCH: DecisionError.MALFORMED_PROPERTY,
    ErrorCode.INVALID_CONTEXT: DecisionError.UNKNOWN_DIMENSION,
    ErrorCode.TARGETING_KEY_MISSING: DecisionError.UNKNOWN_DIMENSION,
}


class OpenFeatureFlagSource(RemoteFlagSource):
    """A FlagSource (decide/explain, never raising) over an OpenFeature client."""

    backend = "OpenFeature"

    def __init__(self, client: OpenFeatureClient, *, kill_switch_flag: str | None = FORCE_LEGACY_FLAG) -> None:
        super().__init__()
        self.client = client
        self.kill_switch_flag = kill_switch_flag

    @property
    def provider_name(self) -> str:
        try:
            return self.client.provider.get_metadata().name
        except Exception:
            return "unknown"

    def close(self) -> None:
        """Nothing to release: the provider belongs to whoever registered it with the OpenFeature API."""

    def _decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str]) -> Decision:
        context = context_for(dimensions, attributes)
        provider = self.provider_name
        if self.kill_switch_flag:
            switch = self.client.get_boolean_details(self.kill_switch_flag, False, context)
            if switch.error_code not in (None, ErrorCode.FLAG_NOT_FOUND):
                return _failed(key, provider, switch)
            if switch.value is True:
                why = f"OpenFeature flag {self.kill_switch_flag} ({provider}) forces defaults"
                return default_decision(key, ReasonKind.KILL_SWITCH, why, kill_switch=True)
        details = self._details(key, context)
        if details.error_code is not None:
            return _failed(key, provider, details)
        if details.reason == Reason.DISABLED:
            return default_decision(key, ReasonKind.KEY_OFF, f"{provider} has {key} disabled", kill_switch=True)
        return _to_decision(key, details, dimensions, attributes, provider)

    def _details(self, key: str, context: Any) -> FlagEvaluationDetails[Any]:
        default = default_for(key)
        if isinstance(default, bool):
            return self.client.get_boolean_details(key, default, context)
        if isinstance(default, int | float):
            return self.client.get_float_details(key, float(default), context)
        if isinstance(default, str) or default is None:
            return self.client.get_string_details(key, default or "", context)
        return self.client.get_object_details(key, default, context)  # type: ignore[arg-type]


def _failed(key: str, provider: str, details: FlagEvaluationDetails[Any]) -> Decision:
    code = details.error_code
    error = _ERRORS.get(code, DecisionError.EVALUATION_FAILED) if code is not None else DecisionError.EVALUATION_FAILED
    why = f"OpenFeature provider {provider} could not evaluate {details.flag_key}: {code}"
    if details.error_message:
        why += f" ({details.error_message})"
    return default_decision(key, ReasonKind.ERROR, why, error=error)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _to_decision(
    key: str,
    details: FlagEvaluationDetails[Any],
    dimensions: Mapping[str, str],
    attributes: Mapping[str, str],
    provider: str,
) -> Decision:
    value: JsonValue = details.value
    if isinstance(value, float) and value.is_integer() and isinstance(default_for(key), int):
        value = int(value)  # asked as a float (OpenFeature has no "number"); the key wants an integer
    meta = details.flag_metadata or {}
    percent = _number(meta.get("percent")) if key == STAGE_KEY else None
    bucket_by = str(meta.get("bucketBy") or DEFAULT_BUCKET_BY) if percent is not None else None
    broken = problem(key, value, percent, None)
    if broken:
        return default_decision(
            key,
            ReasonKind.ERROR,
            f"OpenFeature provider {provider} gives {key} a malformed value ({broken})",
            error=DecisionError.MALFORMED_PROPERTY,
        )
    stage = stage_of(key, value)
    bucket, inside = _rollout(stage, percent, bucket_by, meta, dimensions, attributes)
    version = meta.get("propertyVersion")
    provider_default = details.reason == Reason.DEFAULT and value == default_for(key)
    rollout = f" at {percent:g}%, {'inside' if inside else 'outside'} the rollout" if percent is not None else ""
    return Decision(
        key=key,
        value=value,
        reason=f"OpenFeature {provider}: {details.reason or 'resolved'}, variant {details.variant}{rollout}",
        reason_kind=ReasonKind.NO_MATCH if provider_default else ReasonKind.MATCH,
        stage=stage,
        percent=percent,
        bucket=bucket,
        in_rollout=inside,
        bucket_by=bucket_by,
        property_id=_property_id(meta, provider, details.variant or str(value), provider_default),
        property_version=int(version) if isinstance(version, int) and not isinstance(version, bool) else None,
        default_used=provider_default,
    )


def _property_id(meta: Mapping[str, Any], provider: str, variant: str, provider_default: bool) -> str | None:
    """What decided: the provider's property id (CloudopsProvider gives ours), else the provider and variant; none
    when the provider fell back to the key's default, as our evaluator names none."""
    if meta.get("propertyId"):
        return str(meta["propertyId"])
    return None if provider_default else f"{provider}:{variant}"


def _rollout(
    stage: MigrationStage | None,
    percent: float | None,
    bucket_by: str | None,
    meta: Mapping[str, Any],
    dimensions: Mapping[str, str],
    attributes: Mapping[str, str],
) -> tuple[float | None, bool]:
    """The request's bucket (0-100) and whether it is inside a canary's percent: the provider's word when it gives
    one, else our own sticky bucket of `bucket_by` (as flags.evaluator computes it)."""
    if stage is not MigrationStage.CANARY or percent is None or bucket_by is None:
        return None, False
    given = meta.get("inRollout")
    bucket = _number(meta.get("bucket"))
    if isinstance(given, bool):
        return bucket, given
    by_value = dimensions.get(bucket_by) or attributes.get(bucket_by)
    if not by_value:
        return None, False  # nothing to bucket by: outside the rollout, as our evaluator does
    fraction = bucket_fraction(STAGE_KEY, salt_for(STAGE_KEY), by_value)
    return fraction * 100.0, in_rollout(fraction, percent)
