"""Spinnaker naming: building, parsing and sequencing `app-stack-detail-vNNN` names (frigga's rules)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cloud.catalogue.naming import (
    Names,
    cluster_name,
    name_part_problem,
    next_sequence,
    parse_server_group_name,
    server_group_name,
)


@pytest.mark.parametrize(
    ("app", "stack", "detail", "sequence", "expected"),
    [
        ("myapp", "main", "", 13, "myapp-main-v013"),
        ("myapp", "", "", 0, "myapp-v000"),
        ("myapp", "", "canary", 1, "myapp--canary-v001"),
        ("myapp", "main", "canary-east", 999, "myapp-main-canary-east-v999"),
        ("my.app_2", "st_1", "d~x^y", 7, "my.app_2-st_1-d~x^y-v007"),
    ],
)
def test_server_group_name_follows_spinnaker(app: str, stack: str, detail: str, sequence: int, expected: str) -> None:
    assert server_group_name(app, stack, detail, sequence) == expected


@pytest.mark.parametrize(
    ("app", "stack", "detail", "sequence", "fragment"),
    [
        ("my-app", "", "", 1, "application 'my-app'"),
        ("", "main", "", 1, "application must not be empty"),
        ("myapp", "ma-in", "", 1, "stack 'ma-in'"),
        ("myapp", "main", "a b", 1, "detail 'a b'"),
        ("myapp", "main", "", 1000, "sequence 1000"),
        ("myapp", "main", "", -1, "sequence -1"),
    ],
)
def test_server_group_name_rejects_what_spinnaker_rejects(
    app: str, stack: str, detail: str, sequence: int, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        server_group_name(app, stack, detail, sequence)


def test_cluster_name_handles_empty_parts() -> None:
    assert cluster_name("myapp") == "myapp"
    assert cluster_name("myapp", "main") == "myapp-main"
    assert cluster_name("myapp", "", "x") == "myapp--x"
    assert cluster_name("myapp", "main", "x-y") == "myapp-main-x-y"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("myapp-main-v013", Names("myapp", "main", "", "myapp-main", 13)),
        ("myapp--canary-v001", Names("myapp", "", "canary", "myapp--canary", 1)),
        ("myapp-main-canary-east-v002", Names("myapp", "main", "canary-east", "myapp-main-canary-east", 2)),
        ("myapp", Names("myapp", "", "", "myapp", None)),
        ("myapp-main", Names("myapp", "main", "", "myapp-main", None)),
        # frigga's push format is exactly three digits: v1000 is a stack, not a sequence.
        ("myapp-v1000", Names("myapp", "v1000", "", "myapp-v1000", None)),
    ],
)
def test_parse_server_group_name(name: str, expected: Names) -> None:
    parsed = parse_server_group_name(name)
    assert parsed == expected
    assert parsed.group == name


@pytest.mark.parametrize("name", ["", "   ", "bad name-v001", "-main-v001", "app!-v001", "myapp-v001\n"])
def test_parse_rejects_non_spinnaker_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        parse_server_group_name(name)


_APP = st.from_regex(r"[a-zA-Z0-9._]{1,8}", fullmatch=True)
_STACK = st.from_regex(r"[a-zA-Z0-9._]{0,8}", fullmatch=True)
_DETAIL = st.from_regex(r"[-a-zA-Z0-9._~^]{0,10}", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(_APP, _STACK, _DETAIL, st.integers(0, 999))
def test_names_round_trip(app: str, stack: str, detail: str, sequence: int) -> None:
    parsed = parse_server_group_name(server_group_name(app, stack, detail, sequence))
    assert (parsed.app, parsed.stack, parsed.detail, parsed.sequence) == (app, stack, detail, sequence)


def _names(*sequences: int) -> list[str]:
    return [f"myapp-main-v{s:03d}" for s in sequences]


def test_next_sequence_of_an_empty_cluster_is_zero() -> None:
    assert next_sequence([]) == 0


def test_next_sequence_follows_the_highest() -> None:
    assert next_sequence(_names(11, 12)) == 13
    assert next_sequence(_names(12, 3)) == 13


def test_next_sequence_wraps_at_999() -> None:
    assert next_sequence(_names(998, 999)) == 0


def test_next_sequence_skips_sequences_in_use_after_wrapping() -> None:
    assert next_sequence(_names(999, 0, 1)) == 2


def test_next_sequence_continues_after_the_latest_and_skips_gaps_in_use() -> None:
    # v005 was created last (after a wrap): continue from it, skipping v006 and v007 which are still in use.
    assert next_sequence(_names(997, 999, 5, 6, 7), latest="myapp-main-v005") == 8
    assert next_sequence(_names(997, 999, 5), latest="myapp-main-v005") == 6


def test_next_sequence_ignores_unparseable_names_and_counts_an_unsequenced_group() -> None:
    assert next_sequence(["not a name", "myapp-main-v004"]) == 5
    assert next_sequence(["myapp-main"]) == 1


def test_next_sequence_fails_when_every_sequence_is_taken() -> None:
    with pytest.raises(ValueError, match="all 1000"):
        next_sequence(_names(*range(1000)))


def test_name_part_problem() -> None:
    assert name_part_problem("application", "myapp") is None
    assert name_part_problem("stack", "") is None
    assert name_part_problem("detail", "canary-1") is None
    assert "may only contain" in str(name_part_problem("stack", "a-b"))
    assert "may only contain" in str(name_part_problem("application", "a b"))
