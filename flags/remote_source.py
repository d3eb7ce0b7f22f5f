"""What every flag source over another vendor's SDK shares (LaunchDarkly's, OpenFeature's): the fail-safe shell.

`decide` never raises: a request naming an unknown dimension, or an evaluation that raises, gives the key's
default with the reason, counted like every other decision; a caller's `default` replaces the key's when a default
was used. Subclasses write `_decide` for a request whose dimensions are known, and name their backend.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flags._index import default_decision
from flags.counters import DecisionCounters
from flags.decision import Decision, DecisionError, Explanation, ReasonKind
from flags.evaluator import MISSING, _Missing, with_default
from flags.model import DIMENSIONS, JsonValue

__all__ = ["RemoteFlagSource"]

log = logging.getLogger(__name__)

_EMPTY: Mapping[str, str] = {}
_DIMENSION_NAMES = frozenset(d.value for d in DIMENSIONS)


class RemoteFlagSource:
    """A FlagSource (decide/explain, never raising) whose evaluation `_decide` another SDK makes."""

    backend = "remote"  # in reasons and logs: "LaunchDarkly evaluation failed: ..."

    def __init__(self) -> None:
        self._counters = DecisionCounters()

    def decide(
        self,
        key: str,
        dimensions: Mapping[str, str],
        attributes: Mapping[str, str] = _EMPTY,
        *,
        default: JsonValue | _Missing = MISSING,
    ) -> Decision:
        """The value of `key` for a request, from the backend; never raises."""
        unknown = sorted(set(dimensions) - _DIMENSION_NAMES)
        try:
            if unknown:
                decision = default_decision(
                    key,
                    ReasonKind.ERROR,
                    f"unknown dimension {unknown[0]!r} in the request",
                    error=DecisionError.UNKNOWN_DIMENSION,
                )
            else:
                decision = self._decide(key, dimensions, attributes)
        except Exception as exc:  # an SDK should not raise; if it does, the default, counted
            log.exception("%s evaluation of %s failed", self.backend, key)
            decision = default_decision(
                key,
                ReasonKind.ERROR,
                f"{self.backend} evaluation failed: {exc!r}",
                error=DecisionError.EVALUATION_FAILED,
            )
        decision = with_default(decision, default)
        self._counters.count(decision)
        return decision

    def explain(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str] = _EMPTY) -> Explanation:
        """The decision; a remote backend does not list the rules that lost, so there are no candidates."""
        return Explanation(
            decision=self.decide(key, dimensions, attributes), dimensions=dict(dimensions), attributes=dict(attributes)
        )

    def counters(self) -> dict[str, int]:
        return self._counters.snapshot()

    def _decide(self, key: str, dimensions: Mapping[str, str], attributes: Mapping[str, str]) -> Decision:
        raise NotImplementedError
