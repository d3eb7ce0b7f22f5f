"""The packages import one another only as docs/architecture.md draws it, and the drawing has no cycle.

The rules that matter most: `legacy_clouddriver` and `durable_runner` deploy alone (and the legacy package is deleted
when the migration ends), so neither imports the router, the flags, the gateway or the console; `cloud` and the
wire format are leaves; the rollouts never import the gateway. Imports are read from the source (every `import` and
`from ... import`, including those inside functions), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra import REPO_ROOT

# Each package and the packages of ours it may import. Keep in step with docs/architecture.md.
ALLOWED: dict[str, frozenset[str]] = {
    "cloud": frozenset(),
    "clouddriver_wire": frozenset(),
    "flags": frozenset(),
    "migrations": frozenset(),
    "processes": frozenset(),
    "legacy_clouddriver": frozenset({"cloud", "clouddriver_wire"}),
    "durable_runner": frozenset({"cloud"}),
    "router": frozenset({"flags", "cloud", "clouddriver_wire", "durable_runner", "migrations"}),
    "rollouts": frozenset({"router", "flags"}),
    "gateway": frozenset({"router", "flags", "cloud", "clouddriver_wire", "durable_runner"}),
    "console": frozenset({"flags", "router", "rollouts", "cloud"}),
    "bench": frozenset(
        {
            "cloud",
            "clouddriver_wire",
            "legacy_clouddriver",
            "durable_runner",
            "flags",
            "router",
            "rollouts",
            "gateway",
            "migrations",
            "processes",
        }
    ),
    "cloudops": frozenset(
        {
            "cloud",
            "clouddriver_wire",
            "legacy_clouddriver",
            "durable_runner",
            "flags",
            "router",
            "rollouts",
            "gateway",
            "console",
            "migrations",
            "bench",
            "processes",
        }
    ),
}


def _imports(package: str) -> Iterator[tuple[Path, int, str]]:
    """(file, line, imported top-level package of ours) for every import in `package`."""
    root = REPO_ROOT / package
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in ALLOWED and top != package:
                    yield path.relative_to(REPO_ROOT), node.lineno, top


def _graph() -> dict[str, set[str]]:
    return {package: {top for _, _, top in _imports(package)} for package in ALLOWED}


def test_every_package_of_ours_is_in_the_table() -> None:
    on_disk = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    assert on_disk == set(ALLOWED), "a package was added or removed: give it its row in ALLOWED and the docs"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    wrong = [f"{path}:{line} imports {top}" for path, line, top in _imports(package) if top not in ALLOWED[package]]
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package]) or 'nothing of ours'}:\n" + "\n".join(wrong)


def test_the_packages_import_one_another_without_a_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if node in trail:
            cycle = " -> ".join((*trail[trail.index(node) :], node))
            raise AssertionError(f"import cycle between packages: {cycle}")
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, (*trail, node))
        done.add(node)

    for package in sorted(graph):
        visit(package, ())


def test_the_deployable_legacy_and_durable_packages_never_reach_the_migration_layer() -> None:
    forbidden = {"router", "flags", "gateway", "console", "rollouts"}
    for package in ("legacy_clouddriver", "durable_runner", "cloud", "clouddriver_wire"):
        reached = {top for _, _, top in _imports(package)} & forbidden
        assert not reached, f"{package} imports {sorted(reached)}"
