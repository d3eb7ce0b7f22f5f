"""Spinnaker's naming convention for clusters and server groups: `app-stack-detail-v003`.

The rules are those of Netflix's frigga library, which Clouddriver uses to build and parse names
(`AbstractServerGroupNameResolver`, frigga `Names`, `NameValidation`, `NameConstants`):
- application and stack: letters, digits, `.` and `_` (no hyphen: hyphens separate the parts);
- detail: the same plus `-`, `~` and `^`;
- an empty stack with a detail gives `app--detail`; the sequence suffix is `-v` and exactly three digits;
- the next sequence continues after the most recently created server group of the cluster, modulo 1000,
  skipping sequences still in use; when all 1000 are in use there is none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cloud.model import JSON

__all__ = [
    "SEQUENCE_SPACE",
    "Names",
    "cluster_name",
    "name_part_problem",
    "next_sequence",
    "parse_server_group_name",
    "server_group_name",
]

SEQUENCE_SPACE = 1000
"""Sequences run 0..999 and wrap."""

_NAME_CHARS = "a-zA-Z0-9._"
_NAME_HYPHEN_CHARS = "-a-zA-Z0-9._~^"
_PUSH = re.compile(f"([{_NAME_HYPHEN_CHARS}]*)-v([0-9]{{3}})")
_NAME = re.compile(f"([{_NAME_CHARS}]+)(?:-([{_NAME_CHARS}]*)(?:-([{_NAME_HYPHEN_CHARS}]*?))?)?")
_PART_RULES = {
    "application": (re.compile(f"[{_NAME_CHARS}]+"), "letters, digits, '.' and '_'"),
    "stack": (re.compile(f"[{_NAME_CHARS}]+"), "letters, digits, '.' and '_'"),
    "detail": (re.compile(f"[{_NAME_HYPHEN_CHARS}]+"), "letters, digits, '.', '_', '-', '~' and '^'"),
}


@dataclass(frozen=True, slots=True)
class Names:
    """The parts of a server group (or cluster) name. `stack`/`detail` are "" when absent, `sequence` None."""

    app: str
    stack: str
    detail: str
    cluster: str
    sequence: int | None

    @property
    def group(self) -> str:
        return self.cluster if self.sequence is None else f"{self.cluster}-v{self.sequence:03d}"

    def to_json(self) -> dict[str, JSON]:
        return {
            "app": self.app,
            "stack": self.stack,
            "detail": self.detail,
            "cluster": self.cluster,
            "sequence": self.sequence,
        }


def name_part_problem(kind: str, value: str) -> str | None:
    """Why `value` cannot be the `kind` ("application", "stack" or "detail") of a name, or None if it can."""
    pattern, allowed = _PART_RULES[kind]
    if kind == "application" and not value:
        return "the application must not be empty"
    if value and not pattern.fullmatch(value):
        return f"the {kind} {value!r} may only contain {allowed}"
    return None


def cluster_name(app: str, stack: str = "", detail: str = "") -> str:
    """`app`, `app-stack`, `app-stack-detail` or `app--detail`; raises ValueError on a part Spinnaker rejects."""
    for kind, value in (("application", app), ("stack", stack), ("detail", detail)):
        problem = name_part_problem(kind, value)
        if problem:
            raise ValueError(problem)
    if detail:
        return f"{app}-{stack}-{detail}"
    if stack:
        return f"{app}-{stack}"
    return app


def server_group_name(app: str, stack: str, detail: str, sequence: int) -> str:
    """`app-stack-detail-vNNN`; raises ValueError on a bad part or a sequence outside 0..999."""
    if isinstance(sequence, bool) or not 0 <= sequence < SEQUENCE_SPACE:
        raise ValueError(f"sequence {sequence!r} is invalid: it must be between 0 and {SEQUENCE_SPACE - 1}")
    return f"{cluster_name(app, stack, detail)}-v{sequence:03d}"


def parse_server_group_name(name: str) -> Names:
    """The parts of `name` (with or without a `-vNNN` suffix); raises ValueError if it is not a Spinnaker name."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{name!r} is not a server group name: it is empty")
    push = _PUSH.fullmatch(name)
    cluster = push.group(1) if push else name
    parts = _NAME.fullmatch(cluster)
    if parts is None:
        raise ValueError(
            f"{name!r} is not a Spinnaker name: expected app[-stack[-detail]][-vNNN] where app and stack use "
            "letters, digits, '.' and '_'"
        )
    return Names(
        app=parts.group(1),
        stack=parts.group(2) or "",
        detail=parts.group(3) or "",
        cluster=cluster,
        sequence=int(push.group(2)) if push else None,
    )


def next_sequence(existing_names: Iterable[str], *, latest: str | None = None) -> int:
    """The sequence the next server group of a cluster gets, given the names of the cluster's groups.

    Spinnaker continues after the most recently created group (`latest`; by default the one with the highest
    sequence), wraps at 1000 and skips sequences in use. Names that do not parse are ignored. Raises ValueError
    when all 1000 sequences are in use.
    """
    parsed = [n for n in (_try_parse(name) for name in existing_names) if n is not None]
    taken = {n.sequence for n in parsed if n.sequence is not None}
    latest_names = _try_parse(latest) if latest is not None else None
    if latest_names is None and parsed:
        latest_names = max(parsed, key=lambda n: -1 if n.sequence is None else n.sequence)
    start = 0 if latest_names is None else ((latest_names.sequence or 0) + 1) % SEQUENCE_SPACE
    for step in range(SEQUENCE_SPACE):
        candidate = (start + step) % SEQUENCE_SPACE
        if candidate not in taken:
            return candidate
    raise ValueError(f"all {SEQUENCE_SPACE} server group sequences of the cluster are in use: destroy old groups first")


def _try_parse(name: str) -> Names | None:
    try:
        return parse_server_group_name(name)
    except ValueError:
        return None
