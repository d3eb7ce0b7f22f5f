"""The names the console knows for each dimension, and the check that refuses a name nothing else uses.

A property scoped on a misspelt application matches no request and changes nothing, silently; so the editor
refuses a name that is not known unless the person confirms it is new. Known names come from three places: the
cloud's accounts (with their providers), the operation catalogue (`cloud.catalogue.OperationName`), and what the
router recorded (operations seen in `operation_outcomes`, except those refused by validation), plus every name a
stage property already uses. Pure: the IO (the cloud, the tables) happens in the callers.

The matrix (`console.matrix`) takes its rows and columns from here; the editor (`console.edit_review`) checks
against it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloud.catalogue import OperationName
from flags import Property

__all__ = ["CHECKED_DIMENSIONS", "CATALOGUE_OPERATIONS", "KnownNames", "SeenNames", "UnknownName", "known_names"]

CATALOGUE_OPERATIONS: tuple[str, ...] = tuple(op.value for op in OperationName)
"""Every operation the catalogue can run: one matrix column each."""

CHECKED_DIMENSIONS = ("application", "account", "operation")
"""The dimensions whose names the editor checks: the console has no list of stage types, and a provider is named
by the cloud's accounts, so those two are not checked."""


@dataclass(frozen=True, slots=True)
class SeenNames:
    """Distinct dimension values of recent operations (read by `console.queries.RouterTables.seen_names`)."""

    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    account_providers: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def of(self, dimension: str) -> frozenset[str]:
        return self.values.get(dimension, frozenset())


@dataclass(frozen=True, slots=True)
class UnknownName:
    """A scope value that no source knows, with the closest known names (a likely typo)."""

    dimension: str
    value: str
    suggestions: tuple[str, ...]

    def message(self) -> str:
        hint = f" (did you mean {' or '.join(repr(s) for s in self.suggestions)}?)" if self.suggestions else ""
        return (
            f"unknown {self.dimension.replace('_', ' ')} {self.value!r}{hint}: no cloud account, catalogue operation, "
            "recent operation or property names it, so the property would match nothing; fix it, or tick "
            '"these names are new" to save it anyway'
        )


@dataclass(frozen=True, slots=True)
class KnownNames:
    """Sorted known values per dimension; `account_providers` maps an account to its provider when only one is
    known (so a matrix cell can carry the provider a real request of that account has)."""

    values: Mapping[str, tuple[str, ...]]
    account_providers: Mapping[str, str]
    cloud_accounts: bool  # whether the cloud answered (otherwise accounts come from operations and properties)
    cloud_problem: str | None = None

    def of(self, dimension: str) -> tuple[str, ...]:
        return self.values.get(dimension, ())

    def unknown(self, scope: Mapping[str, str]) -> list[UnknownName]:
        """The checked dimensions of `scope` whose value is not known, in dimension order."""
        found = []
        for dimension in CHECKED_DIMENSIONS:
            value = scope.get(dimension)
            if value and value not in self.of(dimension):
                close = tuple(difflib.get_close_matches(value, self.of(dimension), n=2, cutoff=0.6))
                found.append(UnknownName(dimension, value, close))
        return found


def known_names(
    properties: Iterable[Property],
    seen: SeenNames,
    cloud_accounts: Iterable[tuple[str, str]] | None,
    *,
    cloud_problem: str | None = None,
) -> KnownNames:
    """Known names from stage `properties`, `seen` operations and the cloud's (account, provider) pairs (None
    when the console has no cloud configured or it did not answer: `cloud_problem` says why)."""
    props = list(properties)
    accounts = list(cloud_accounts or ())
    values: dict[str, set[str]] = {d: set(seen.of(d)) for d in ("application", "account", "operation")}
    values["stage_type"] = set(seen.of("stage_type"))
    values["provider"] = set(seen.of("provider")) | {provider for _, provider in accounts}
    values["account"] |= {name for name, _ in accounts}
    values["operation"] |= set(CATALOGUE_OPERATIONS)
    for prop in props:
        for dimension, value in prop.scope.to_json().items():
            values[dimension].add(value)
    providers: dict[str, set[str]] = {a: set(p) for a, p in seen.account_providers.items()}
    for name, provider in accounts:
        providers[name] = {provider}  # the cloud's own word beats what operations claimed
    return KnownNames(
        values={d: tuple(sorted(v)) for d, v in values.items()},
        account_providers={a: next(iter(p)) for a, p in providers.items() if len(p) == 1},
        cloud_accounts=cloud_accounts is not None,
        cloud_problem=cloud_problem,
    )
