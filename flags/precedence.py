"""Which property wins, and which writes would make two properties tie: pure functions over scopes.

Precedence is fixed by dimension: application > account > operation > stage_type > provider. A property that
names application beats every one that does not; among those that agree on application, naming account decides,
and so on. So a scope's rank is its tuple of named-or-not flags in that order, compared lexicographically.

A tie needs two properties of one key that (a) could both match one request and (b) rank equally. (b) means they
name the same dimensions. Values match exactly, so (a) then means they name the same values: two properties tie
exactly when they have the same scope. `ties` implements the general rule and the tests check that reasoning by
brute force over small universes.
"""

from __future__ import annotations

from collections.abc import Iterable

from flags.model import Property, Scope

__all__ = ["could_both_match", "find_ties", "outranks", "ties"]


def could_both_match(a: Scope, b: Scope) -> bool:
    """Whether some request matches both scopes: they agree on every dimension both of them name."""
    return all(x is None or y is None or x == y for x, y in zip(a.values(), b.values(), strict=True))


def ties(a: Scope, b: Scope) -> bool:
    """Whether properties with these scopes (same key) would tie for some request."""
    return a.specificity() == b.specificity() and could_both_match(a, b)


def outranks(a: Scope, b: Scope) -> bool:
    """Whether a property with scope `a` beats one with scope `b` on a request that both match."""
    return a.specificity() > b.specificity()


def find_ties(scope: Scope, others: Iterable[Property]) -> list[Property]:
    """The properties among `others` (same key) that a property with `scope` would tie with."""
    return [p for p in others if ties(scope, p.scope)]
