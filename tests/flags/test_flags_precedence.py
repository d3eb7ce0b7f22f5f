"""Precedence and ties, checked by brute force over small universes of scopes and requests."""

from __future__ import annotations

import itertools

from hypothesis import given, settings, strategies as st

from flags import DIMENSIONS, Property, Scope, Snapshot, decide
from flags.precedence import could_both_match, outranks, ties

_VALUES = ("a", "b")
_REQUESTS = [
    dict(zip([d.value for d in DIMENSIONS], combo, strict=True)) for combo in itertools.product(_VALUES, repeat=5)
]

_scopes = st.builds(
    lambda picks: Scope.of({d.value: v for d, v in zip(DIMENSIONS, picks, strict=True) if v is not None}),
    st.tuples(*[st.sampled_from((None, *_VALUES)) for _ in DIMENSIONS]),
)


@settings(max_examples=400, deadline=None)
@given(a=_scopes, b=_scopes)
def test_ties_is_exactly_some_request_matched_by_both_with_equal_rank(a: Scope, b: Scope) -> None:
    both = [r for r in _REQUESTS if a.matches(r) and b.matches(r)]
    assert could_both_match(a, b) == bool(both)
    assert ties(a, b) == (bool(both) and a.specificity() == b.specificity())


@settings(max_examples=400, deadline=None)
@given(a=_scopes, b=_scopes)
def test_with_exact_values_a_tie_means_the_same_scope(a: Scope, b: Scope) -> None:
    assert ties(a, b) == (a == b)


def test_each_dimension_beats_every_later_one_together() -> None:
    names = [d.value for d in DIMENSIONS]
    for i, name in enumerate(names):
        alone = Scope.of({name: "x"})
        later_all = Scope.of({n: "x" for n in names[i + 1 :]}) if i + 1 < len(names) else Scope()
        assert outranks(alone, later_all), name


@settings(max_examples=200, deadline=None)
@given(scopes=st.lists(_scopes, min_size=1, max_size=12, unique_by=lambda s: s.key()))
def test_the_evaluator_picks_the_highest_ranked_matching_scope(scopes: list[Scope]) -> None:
    props = [Property(id=f"p{i}", key="k", value=i, scope=s, version=1) for i, s in enumerate(scopes)]
    snapshot = Snapshot.of(1, props)
    for request in _REQUESTS[::3]:
        matching = [p for p in props if p.scope.matches(request)]
        decision = decide(snapshot, "k", request)
        if not matching:
            assert decision.default_used
            continue
        best = max(matching, key=lambda p: p.scope.specificity())
        assert decision.property_id == best.id
