"""'Cannot be reached' is spelled one way: every such exception of ours is `<Thing>Unavailable`.

Read from the source, like the architecture test: a class named `...NotReady`, `...Down` or a bare `Unavailable`
is a new spelling of an old idea. Wire codes (the cloud's `"Unavailable"`, HTTP 503's "Service Unavailable") are
strings, not class names, and are not checked here.
"""

from __future__ import annotations

import ast
import re

from infra import REPO_ROOT
from test_architecture import ALLOWED

_OTHER_SPELLINGS = re.compile(r"(NotReady|NotAvailable|Down|Unreachable)$|^Unavailable$")


def _exception_classes() -> list[tuple[str, str]]:
    found = []
    for package in sorted(ALLOWED):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and node.bases:
                    found.append((f"{path.relative_to(REPO_ROOT)}", node.name))
    return found


def test_unavailable_is_spelled_one_way() -> None:
    classes = _exception_classes()
    wrong = [f"{path}: {name}" for path, name in classes if _OTHER_SPELLINGS.search(name)]
    assert not wrong, "name it <Thing>Unavailable:\n" + "\n".join(wrong)
    names = {name for _, name in classes}
    assert {"FlagStoreUnavailable", "RolloutStoreUnavailable", "RunnerUnavailable", "ServiceUnavailable"} <= names
