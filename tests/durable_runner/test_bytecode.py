"""The worker writes the `.pyc` of the modules the workflow sandbox re-imports per run (durable_runner/bytecode.py):
the workflow's module and its packages, beside the source, or under `sys.pycache_prefix` when the source's
directory is read-only. Real files and the real import machinery; no Temporal needed."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from durable_runner.bytecode import cache_workflow_bytecode, sandbox_reimported_files
from durable_runner.workflows import UntypedCloudOperationRunner


@pytest.fixture
def package(tmp_path: Path) -> Iterator[type]:
    """A package `bcpkg` with a module `bcpkg.flows` holding one class, imported without writing bytecode."""
    root = tmp_path / "src"
    (root / "bcpkg").mkdir(parents=True)
    (root / "bcpkg" / "__init__.py").write_text('"""A package."""\n')
    (root / "bcpkg" / "flows.py").write_text("class Flow:\n    pass\n")
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("bcpkg.flows").Flow
    finally:
        sys.path.remove(str(root))
        sys.dont_write_bytecode = saved
        for name in ("bcpkg.flows", "bcpkg"):
            sys.modules.pop(name, None)


def _is_pyc(path: Path) -> bool:
    return path.read_bytes()[:4] == importlib.util.MAGIC_NUMBER


def test_the_files_are_the_workflow_module_and_its_package() -> None:
    files = sandbox_reimported_files([UntypedCloudOperationRunner])
    assert [f.name for f in files] == ["__init__.py", "workflows.py"]
    assert all(f.parent.name == "durable_runner" for f in files)


def test_the_bytecode_is_written_beside_the_source(package: type) -> None:
    written = cache_workflow_bytecode([package])
    sources = sandbox_reimported_files([package])
    assert [s.name for s in sources] == ["__init__.py", "flows.py"]
    assert written == [Path(importlib.util.cache_from_source(str(s))) for s in sources]
    assert all(p.parent.name == "__pycache__" and _is_pyc(p) for p in written)


def test_a_tree_that_cannot_hold_a_pycache_gets_its_bytecode_under_a_pycache_prefix(
    package: type, tmp_path: Path
) -> None:
    # A regular file where __pycache__ would go: no one, root included, can write the .pyc beside the source
    # (a read-only directory would stop everyone but root, who runs these tests in some containers).
    (tmp_path / "src" / "bcpkg" / "__pycache__").write_text("not a directory")
    saved = sys.pycache_prefix
    try:
        sys.pycache_prefix = None
        written = cache_workflow_bytecode([package])
        assert sys.pycache_prefix is not None and len(written) == 2
        assert all(str(p).startswith(sys.pycache_prefix) and _is_pyc(p) for p in written)
        # The import machinery looks there too: the path it would read is the one written.
        flows = sandbox_reimported_files([package])[1]
        assert Path(importlib.util.cache_from_source(str(flows))) == written[1]
    finally:
        sys.pycache_prefix = saved
