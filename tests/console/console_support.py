"""Shared helpers for the console's tests: a migrated SQLite database, users and tokens, signing in through the
real login form, and a RoutingRunner over scripted paths that reads the same database the console writes.

Imported by the test modules of this directory (pytest puts it on sys.path); not a test module itself.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

import migrations
from console.identity import hash_token
from flags import FlagClient, SqlFlagStore
from router.contract import ErrorKind, OperationError, OperationRequest, OperationResult, Path, ResultStatus
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.records import BufferedRecorder, SqlRecordStore
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.testing import ScriptedRunner

PASSWORDS = {"alice": "alice-password", "victor": "victor-password"}
TOKENS = {"editor": "editor-token-0123456789", "viewer": "viewer-token-0123456789"}
# pbkdf2 with few iterations keeps the tests fast; the hash format is the one production uses.
_FAST_HASH = "pbkdf2:sha256:1000"


_TEMPLATE: list[FsPath] = []


def database(tmp_path: FsPath, name: str = "console.db") -> str:
    """A SQLite database with every cloudops table (flags, router, rollouts), as `cloudops db upgrade` makes it:
    migrated once per session, then copied (a copy takes a millisecond, a migration a third of a second)."""
    if not _TEMPLATE:
        template = FsPath(tempfile.mkdtemp(prefix="console-db-")) / "template.db"
        migrations.upgrade(f"sqlite:///{template}")
        _TEMPLATE.append(template)
    shutil.copyfile(_TEMPLATE[0], tmp_path / name)
    return f"sqlite:///{tmp_path / name}"


def console_config(url: str, **extra: Any) -> dict[str, Any]:
    """A console configuration: alice (editor), victor (viewer), an editor and a viewer token, Temporal nowhere."""
    return {
        "DATABASE_URL": url,
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-0123456789",
        "USERS": {
            "alice": {"role": "editor", "password_hash": generate_password_hash(PASSWORDS["alice"], _FAST_HASH)},
            "victor": {"role": "viewer", "password_hash": generate_password_hash(PASSWORDS["victor"], _FAST_HASH)},
        },
        "TOKENS": {
            "deployer": {"role": "editor", "sha256": hash_token(TOKENS["editor"])},
            "grafana": {"role": "viewer", "sha256": hash_token(TOKENS["viewer"])},
        },
        "TEMPORAL_ADDRESS": "127.0.0.1:9",
        "TEMPORAL_TIMEOUT_S": 0.5,
        **extra,
    }


def bearer(kind: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[kind]}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: FlaskClient, user: str) -> str:
    """Sign in through the login form; returns the session's CSRF token for later forms."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": user, "password": PASSWORDS[user], "csrf_token": token})
    assert response.status_code == 302, response.text
    return csrf_of(client.get("/scopes").text)


PLAN_TEMPLATE = {"operation": "resizeServerGroup", "compensateOnFailure": False, "facts": {}}


def plan_for(request: OperationRequest, desired: int) -> dict[str, Any]:
    mutation = {
        "kind": "resizeServerGroup",
        "region": "us-east-1",
        "target": f"{request.application}-main-v001",
        "params": {"capacity": {"min": 1, "max": 4, "desired": desired}},
    }
    return {**PLAN_TEMPLATE, "mutations": [mutation]}


def script(request: OperationRequest, path: Path) -> OperationResult:
    """Both paths plan alike, except that durable plans one more instance for operation ids ending in 7: the
    mismatches the dashboard must show with their field diff. Operation ids starting with `fail-` are refused by
    the cloud on both paths (a business failure), for the operations list."""
    if request.operation_id.startswith("fail-"):
        refusal = OperationError(
            ErrorKind.BUSINESS, "capacity 9999 is over this account's limit <100>", "CapacityOutOfBounds"
        )
        ids = {"task_id": f"task-{request.operation_id}"} if path is Path.LEGACY else {}
        ids |= {"workflow_id": f"cloudop-{request.operation_id}"} if path is Path.DURABLE else {}
        return OperationResult(ResultStatus.FAILED, path, request.operation_id, errors=(refusal,), **ids)
    desired = 3 if path is Path.DURABLE and request.operation_id.endswith("7") else 2
    return OperationResult(ResultStatus.SUCCEEDED, path, request.operation_id, plan=plan_for(request, desired))


def request_for(operation_id: str, application: str = "api", operation: str = "resizeServerGroup") -> OperationRequest:
    return OperationRequest(operation_id, operation, "resizeServerGroup", "prod", application, "aws", {"capacity": 2})


@dataclass
class Router:
    """A RoutingRunner over scripted paths, deciding by the flags in `url`, recording into the same database."""

    runner: RoutingRunner
    legacy: ScriptedRunner
    durable: ScriptedRunner
    flags: FlagClient
    recorder: BufferedRecorder
    shadows: ShadowExecutor

    def run(self, ids: list[str], application: str = "api") -> list[Path]:
        """Refresh the flags (what a router's poll would do), run each operation, wait for its records."""
        self.flags.refresh()
        paths = [self.runner.run(request_for(i, application)).path for i in ids]
        assert self.shadows.drain(10) and self.recorder.flush(10)
        return paths

    def decide(self, ids: list[str], application: str = "api") -> list[Path]:
        self.flags.refresh()
        return [self.runner.decide(request_for(i, application)).primary for i in ids]


@contextmanager
def scripted_router(url: str) -> Iterator[Router]:
    store = SqlFlagStore(url)
    metrics = RouterMetrics()
    recorder = BufferedRecorder(SqlRecordStore(store.engine), metrics)
    shadows = ShadowExecutor(
        ShadowSettings(max_concurrency=1000, timeout_s=5), publish=recorder.record_comparison, metrics=metrics
    )
    legacy, durable = ScriptedRunner(Path.LEGACY, script), ScriptedRunner(Path.DURABLE, script)
    flags = FlagClient(store, start=False)
    runner = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags,
        owners=InMemoryOwnership(),
        records=recorder,
        shadows=shadows,
        metrics=metrics,
    )
    try:
        yield Router(runner, legacy, durable, flags, recorder, shadows)
    finally:
        shadows.close()
        recorder.close()
        store.close()
