"""The package surface: `router` exports the seam eagerly and the runners lazily, so importing it (or coding
against the contract alone) never imports temporalio."""

from __future__ import annotations

import subprocess
import sys

import pytest
from infra import REPO_ROOT

import router


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_importing_router_and_its_contract_does_not_import_temporalio() -> None:
    code = (
        "import router, router.contract, sys; "
        "from router import CloudOperationRunner, OperationHandle, RunOptions; "
        "assert 'temporalio' not in sys.modules, sorted(m for m in sys.modules if m.startswith('temporalio'))"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr


def test_the_runners_load_on_first_use() -> None:
    done = _run(
        "import router, sys; runner = router.DurableRunner; "
        "assert 'temporalio' in sys.modules and runner.__module__ == 'router.durable'"
    )
    assert done.returncode == 0, done.stderr


def test_every_exported_name_resolves() -> None:
    assert sorted(router.__all__) == sorted(set(router.__all__))
    for name in router.__all__:
        assert getattr(router, name) is not None, name
    assert set(dir(router)) >= set(router.__all__)
    with pytest.raises(AttributeError):
        _ = router.NoSuchRunner  # type: ignore[attr-defined]
