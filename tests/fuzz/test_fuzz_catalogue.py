"""Fuzzing the catalogue's parser: real stage contexts broken at any depth, several places at once.

Beyond "never raises" (tests/cloud/test_catalogue_property.py breaks one top-level field at a time), every error
must point at the context itself: its path's parent exists in the context, and a type or range error points at a
value that is there. That is what lets a person (or Deck) put each message next to the field it is about.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from cloud.catalogue import ErrorCode, parse_operation, parse_operation_list

PAYLOADS = Path(__file__).resolve().parent.parent / "cloud" / "payloads"
_SEGMENT = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()


def _reference_items() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(PAYLOADS.glob("*.json")):
        body = json.loads(path.read_text())
        for item in body if isinstance(body, list) else [body]:
            found.extend(item.items())
    return found


REFERENCE = _reference_items()
leaves = st.none() | st.booleans() | st.integers(-(2**66), 2**66) | st.floats() | st.text(max_size=10)
# Keys without path syntax, so that an error's path can be walked back unambiguously.
keys = st.text(st.characters(blacklist_characters=".[]"), min_size=1, max_size=6)
values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8
)


def _segments(path: str) -> list[str | int]:
    return [m.group(1) if m.group(1) is not None else int(m.group(2)) for m in _SEGMENT.finditer(path)]


def _lookup(context: Any, segments: list[str | int]) -> Any:
    current = context
    for segment in segments:
        if isinstance(segment, int) and isinstance(current, list) and segment < len(current):
            current = current[segment]
        elif isinstance(segment, str) and isinstance(current, dict) and segment in current:
            current = current[segment]
        else:
            return _MISSING
    return current


def _containers(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The paths of every non-empty object and list inside `value`, itself included."""
    found: list[tuple[str | int, ...]] = []
    if isinstance(value, dict) and value:
        found.append(path)
        for key, inner in value.items():
            found += _containers(inner, (*path, key))
    elif isinstance(value, list) and value:
        found.append(path)
        for index, inner in enumerate(value):
            found += _containers(inner, (*path, index))
    return found


@st.composite
def broken_contexts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real context with 1 to 4 places, at any depth, deleted or replaced by an arbitrary JSON value."""
    name, original = draw(st.sampled_from(REFERENCE))
    context = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 4))):
        places = _containers(context)
        if not places:
            break
        container = _lookup(context, list(draw(st.sampled_from(places))))
        if isinstance(container, dict):
            key = draw(st.sampled_from(sorted(container)))
            if draw(st.booleans()):
                del container[key]
            else:
                container[key] = draw(values)
        elif isinstance(container, list):
            container[draw(st.integers(0, len(container) - 1))] = draw(values)
    return name, context


def _assert_errors_point_into(context: dict[str, Any], errors: tuple[Any, ...]) -> None:
    for error in errors:
        assert error.code != ErrorCode.INTERNAL, error  # the parser's never-raise guard was hit: a bug
        assert error.message.strip(), error
        segments = _segments(error.path)
        if not segments:
            continue  # about the whole context (a wrong provider, an unknown operation)
        assert _lookup(context, segments[:-1]) is not _MISSING, f"{error.path}: its parent is not in the context"
        if error.code in (ErrorCode.TYPE, ErrorCode.RANGE):
            assert _lookup(context, segments) is not _MISSING, f"a {error.code} error at {error.path}: no value there"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_contexts(), st.sampled_from([None, "aws", "titus"]))
def test_every_error_of_a_broken_context_points_into_that_context(
    broken: tuple[str, dict[str, Any]], provider: str | None
) -> None:
    name, context = broken
    before = copy.deepcopy(context)
    result = parse_operation(name, context, provider=provider)
    assert context == before  # parsing never changes what it was given
    assert (result.operation is None) == bool(result.errors)
    _assert_errors_point_into(context, result.errors)
    if result.operation is not None:
        json.dumps(result.operation.to_json())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(broken_contexts(), min_size=1, max_size=3))
def test_an_ops_body_of_broken_contexts_reports_each_error_under_its_item(
    items: list[tuple[str, dict[str, Any]]],
) -> None:
    body = [{name: context} for name, context in items]
    operations, errors = parse_operation_list(body)
    assert not (operations and errors)
    for error in errors:
        index = int(error.path[1 : error.path.index("]")])
        name, context = items[index]
        assert error.path.startswith(f"[{index}].{name}")
        inner = error.path[len(f"[{index}].{name}") :].lstrip(".")
        assert _lookup(context, _segments(inner)[:-1]) is not _MISSING, error.path
