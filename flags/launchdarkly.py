"""LaunchDarkly as a flag backend: the same `decide`/`explain` over launchdarkly-server-sdk.

A request becomes a multi-kind context with one kind per dimension it has (`application`, `account`,
`operation`, `stage_type`, `provider`, each keyed by the dimension's value); bucketing attributes (operation_id,
...) ride on every kind, so a rollout can bucket by `bucketBy` on whichever kind its rule matched on.

Values follow our keys' rules. The migration stage is a stage name, or for a canary an object
`{"stage": "canary", "percent": 10, "inRollout": true}`: LaunchDarkly does the bucketing (a rollout between an
in-rollout and an out-of-rollout variation) and does not expose the bucket, so `Decision.bucket` is None here.
`variation_detail` reasons map onto Decision: OFF -> the key's off switch, ERROR -> the default with the cause,
RULE_MATCH/TARGET_MATCH/FALLTHROUGH -> a match (`property_id` is the rule id, or "fallthrough"/"target"). A
boolean flag (default `cloudops.force-legacy`) is the global kill switch, checked first.
`flags.launchdarkly_export` writes our snapshot as flag data that gives the same answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from ldclient import Context, LDClient

from flags._index import default_decision, stage_of
from flags.decision import Decision, DecisionError, ReasonKind
from flags.keys import STAGE_KEY, default_for, problem
from flags.model import DIMENSIONS, MigrationStage
from flags.remote_source import RemoteFlagSource

__all__ = ["FORCE_LEGACY_FLAG", "LaunchDarklyFlagSource", "context_for"]

log = logging.getLogger(__name__)

FORCE_LEGACY_FLAG = "cloudops.force-legacy"
_EMPTY: Mapping[str, str] = {}
_RULE_ID = re.compile(r"^(?P<id>.+)@v(?P<version>\d+)$")
_ERRORS = {
    "FLAG_NOT_FOUND": DecisionError.UNKNOWN_KEY,
    "CLIENT_NOT_READY": DecisionError.STORE_UNAVAILABLE,
    "MALFORMED_FLAG": DecisionError.MALFORMED_PROPERTY,
    "WRONG_TYPE": DecisionError.MALFORMED_PROPERTY,
    "USER_NOT_SPECIFIED": DecisionError.UNKNOWN_DIMENSION,
}


def context_for(dimensions: Mapping[str, str], attributes: Mapping[str, str] = _EMPTY) -> Context:
    """The multi-kind context of a request (invalid, with `.error`, when it has no dimension)."""
    builder = Context.multi_builder()
    for dim in DIMENSIONS:
        value = dimensions.get(dim.value)
        if value:
            single = Context.builder(value).kind(dim.value)
            for name, attr in attributes.items():
                if attr:
                    single.set(name, attr)
            builder.add(single.build())
    return builder.build()


class LaunchDarklyFlagSource(RemoteFlagSource):
    """A FlagSource over an LDClient (built by the caller: SDK key, data source, `send_events`)."""

    backend = "LaunchDarkly"

    def __init__(self, client: LDClient, *, kill_switch_flag: str | None = FORCE_LEGACY_FLAG) -> None:
        super().__init__()
        self.client = client
        self.kill_switch_flag = kill_switch_flag

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def _decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str]) -> Decision:
        context = context_for(dimensions, attributes)
        if not context.valid:
            return default_decision(
                key,
                ReasonKind.ERROR,
                f"no usable dimensions for LaunchDarkly ({context.error})",
                error=DecisionError.UNKNOWN_DIMENSION,
            )
        if self.kill_switch_flag and self.client.variation(self.kill_switch_flag, context, False) is True:
            return default_decision(
                key,
                ReasonKind.KILL_SWITCH,
                f"LaunchDarkly flag {self.kill_switch_flag} forces defaults",
                kill_switch=True,
            )
        detail = self.client.variation_detail(key, context, default_for(key))
        return _to_decision(key, detail.value, detail.reason or {})


def _to_decision(key: str, value: Any, reason: Mapping[str, Any]) -> Decision:
    kind = reason.get("kind")
    if kind == "OFF":
        return default_decision(key, ReasonKind.KEY_OFF, f"LaunchDarkly flag {key} is off", kill_switch=True)
    if kind == "PREREQUISITE_FAILED":
        why = f"LaunchDarkly prerequisite {reason.get('prerequisiteKey')} of {key} failed"
        return default_decision(key, ReasonKind.KEY_OFF, why, kill_switch=True)
    if kind not in ("RULE_MATCH", "TARGET_MATCH", "FALLTHROUGH"):
        error_kind = str(reason.get("errorKind", "EXCEPTION"))
        return default_decision(
            key,
            ReasonKind.ERROR,
            f"LaunchDarkly could not evaluate {key}: {error_kind}",
            error=_ERRORS.get(error_kind, DecisionError.EVALUATION_FAILED),
        )
    property_id, version, where = _origin(kind, reason)
    percent, in_rollout, bucket_by = None, False, None
    if key == STAGE_KEY and isinstance(value, dict):
        percent, in_rollout, bucket_by = value.get("percent"), value.get("inRollout") is True, value.get("bucketBy")
        value = value.get("stage")
    broken = problem(key, value, percent, None)
    if broken:
        return default_decision(
            key,
            ReasonKind.ERROR,
            f"LaunchDarkly {where} of {key} gives a malformed value ({broken})",
            error=DecisionError.MALFORMED_PROPERTY,
            property_id=property_id,
            property_version=version,
        )
    stage = stage_of(key, value)
    rollout = f" at {percent:g}%, {'inside' if in_rollout else 'outside'} the rollout" if percent is not None else ""
    return Decision(
        key=key,
        value=value,
        reason=f"LaunchDarkly {where}{rollout}",
        reason_kind=ReasonKind.MATCH,
        stage=stage,
        percent=float(percent) if percent is not None else None,
        in_rollout=in_rollout and stage is MigrationStage.CANARY,
        bucket_by=bucket_by if percent is not None else None,
        property_id=property_id,
        property_version=version,
    )


def _origin(kind: str, reason: Mapping[str, Any]) -> tuple[str, int | None, str]:
    if kind == "RULE_MATCH":
        rule_id = str(reason.get("ruleId") or f"rule{reason.get('ruleIndex')}")
        found = _RULE_ID.match(rule_id)
        where = f"rule {reason.get('ruleIndex')} ({rule_id})"
        if found:
            return found["id"], int(found["version"]), where
        return rule_id, None, where
    if kind == "TARGET_MATCH":
        return "target", None, "individual target"
    return "fallthrough", None, "fallthrough"
