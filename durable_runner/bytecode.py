"""Compiled bytecode for the modules the workflow sandbox re-imports at every workflow run.

The sandbox runs each workflow in a fresh copy of its module (and of that module's package), imported through
the ordinary import machinery. Where no `.pyc` exists that import compiles the source again, for every run:
under PYTHONDONTWRITEBYTECODE (set in many container images, and in our test and benchmark environment) or when
the code's directory is read-only, Python never writes one. `cloudops bench throughput` measured this compile as
about a twelfth of the worker's Python time per operation. `cache_workflow_bytecode` writes the `.pyc` once, at
worker start: beside the source (`__pycache__`), or where `sys.pycache_prefix` points when that fails (set to a
temporary directory of this process when unset). Python still checks each `.pyc` against its source's mtime and
size, so an edited module is compiled again; the sandbox's isolation and restrictions are untouched: only where
the code object comes from changes. Next: durable_runner/worker.py, which calls it.
"""

from __future__ import annotations

import importlib.util
import logging
import py_compile
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["cache_workflow_bytecode", "sandbox_reimported_files"]

log = logging.getLogger(__name__)


def sandbox_reimported_files(workflow_classes: Iterable[type]) -> list[Path]:
    """The source files the sandbox imports afresh for a run of each class: its module and every parent package
    (modules it imports under `imports_passed_through` come from outside the sandbox and are left out)."""
    files: list[Path] = []
    for cls in workflow_classes:
        parts = cls.__module__.split(".")
        for depth in range(1, len(parts) + 1):
            module = sys.modules.get(".".join(parts[:depth]))
            source = getattr(module, "__file__", None)
            if source and source.endswith(".py") and Path(source) not in files:
                files.append(Path(source))
    return files


def cache_workflow_bytecode(workflow_classes: Iterable[type]) -> list[Path]:
    """Write the `.pyc` of every file the sandbox re-imports per run; the `.pyc` paths written. Never raises: a
    file that cannot be compiled anywhere is logged and left to be compiled per run, as before."""
    written: list[Path] = []
    for source in sandbox_reimported_files(workflow_classes):
        target = _compile(source) or _compile_under_prefix(source)
        if target is None:
            log.warning("could not cache the bytecode of %s: the sandbox compiles it at every workflow run", source)
        else:
            written.append(target)
    return written


def _compile(source: Path) -> Path | None:
    target = importlib.util.cache_from_source(str(source))
    try:
        py_compile.compile(str(source), cfile=target, doraise=True)
    except (OSError, py_compile.PyCompileError) as err:
        log.debug("bytecode of %s not written at %s: %s", source, target, err)
        return None
    return Path(target)


def _compile_under_prefix(source: Path) -> Path | None:
    """Beside the source failed (read-only code): compile under `sys.pycache_prefix`, which the import machinery
    reads from as well. Setting it moves every later `.pyc` lookup of this process there, so it is set only when
    unset and only after writing beside the source failed."""
    if sys.pycache_prefix is None:
        sys.pycache_prefix = tempfile.mkdtemp(prefix="cloudops-worker-pycache-")
    return _compile(source)
