"""Safe stage edits and the scope page through the Flask app (issue 20, items 1 and 3): a review before an edit
that overrides another property, a confirmation that counts only for the review it answered, unknown names
refused until confirmed, a rollout that drives the scope paused first on request, a scope page per cell whose
editor link starts from the cell's effective stage, and names refused by validation kept out of the matrix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path as FsPath

import pytest
import sqlalchemy as sa
from console_support import bearer, console_config, database, sign_in
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.errors import ConfigError
from console.services import ConsoleServices
from flags import STAGE_KEY, SqlFlagStore
from rollouts.model import RolloutPlan, RolloutStatus
from router.tables import operation_outcomes


@pytest.fixture
def url(tmp_path: FsPath) -> str:
    return database(tmp_path)


@pytest.fixture
def app(url: str) -> Iterator[Flask]:
    app = create_app(console_config(url), environ={})
    yield app
    services = app.extensions["console"]
    assert isinstance(services, ConsoleServices)
    services.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(url: str) -> Iterator[SqlFlagStore]:
    store = SqlFlagStore(url)
    yield store
    store.close()


def _fingerprint(html: str) -> str:
    found = re.search(r'name="reviewed" value="([0-9a-f]+)"', html)
    assert found, "the page offers no confirmation"
    return found.group(1)


def test_an_edit_that_overrides_a_property_is_reviewed_then_saved_once_confirmed(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    wide = store.set_property(
        STAGE_KEY, "canary", {"application": "billing", "account": "test"}, actor="a", reason="r", percent=25
    )
    token = sign_in(client, "alice")
    form = {
        "csrf_token": token,
        "application": "billing",
        "account": "test",
        "operation": "resizeServerGroup",
        "stage": "legacy",
        "reason": "hold resizes back",
    }
    review = client.post("/scopes/edit", data=form)
    assert review.status_code == 409 and len(store.history()) == 1  # nothing saved yet
    assert (
        f"this overrides {wide.id} (application=billing, account=test: canary 25%) for application=billing, "
        "account=test, operation=resizeServerGroup" in review.text
    )
    assert 'id="f-reason" value="hold resizes back"' in review.text  # what was typed stays
    stale = client.post("/scopes/edit", data={**form, "reviewed": "0123456789abcdef"})
    assert stale.status_code == 409 and len(store.history()) == 1  # a confirmation of another review
    saved = client.post("/scopes/edit", data={**form, "reviewed": _fingerprint(review.text)})
    assert saved.status_code == 302
    narrow = store.find_property(
        STAGE_KEY, {"application": "billing", "account": "test", "operation": "resizeServerGroup"}
    )
    assert narrow is not None and (narrow.value, narrow.reason) == ("legacy", "hold resizes back")


def test_unknown_names_are_refused_at_their_field_until_confirmed_as_new(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    store.set_property(STAGE_KEY, "shadow", {"application": "billing"}, actor="a", reason="r")
    token = sign_in(client, "alice")
    form = {
        "csrf_token": token,
        "application": "biling",
        "operation": "resizeServerGrop",
        "stage": "shadow",
        "reason": "r",
    }
    refused = client.post("/scopes/edit", data=form)
    assert refused.status_code == 400 and len(store.history()) == 1
    assert 'aria-invalid="true" aria-describedby="err-f-application" autofocus' in refused.text
    assert (
        'id="err-f-application" role="alert">unknown application &#39;biling&#39; (did you mean &#39;billing&#39;?)'
        in refused.text
    )
    assert (
        'id="err-f-operation" role="alert">unknown operation &#39;resizeServerGrop&#39; (did you mean '
        "&#39;resizeServerGroup&#39; or &#39;createServerGroup&#39;?)" in refused.text
    )
    saved = client.post("/scopes/edit", data={**form, "confirm_new_names": "yes"})
    assert saved.status_code == 302
    assert store.find_property(STAGE_KEY, {"application": "biling", "operation": "resizeServerGrop"}) is not None


def test_editing_a_scope_a_rollout_drives_offers_to_pause_it_first(
    app: Flask, client: FlaskClient, store: SqlFlagStore
) -> None:
    services = app.extensions["console"]
    rollout = services.rollouts.start(RolloutPlan(scope={"application": "web"}), actor="bob", reason="move web")
    token = sign_in(client, "alice")
    form = {"csrf_token": token, "application": "web", "stage": "legacy", "reason": "incident 9"}
    review = client.post("/scopes/edit", data=form)
    assert review.status_code == 409
    assert f"rollout {rollout.id} (running, at shadow) manages this scope" in review.text
    assert f'name="pause_rollout" value="{rollout.id}"' in review.text
    data = {**form, "reviewed": _fingerprint(review.text), "pause_rollout": rollout.id}
    assert client.post("/scopes/edit", data=data).status_code == 302
    paused = services.rollouts.get(rollout.id)
    assert paused.status is RolloutStatus.PAUSED
    prop = store.find_property(STAGE_KEY, {"application": "web"})
    assert prop is not None and (prop.value, prop.updated_by) == ("legacy", "alice")


def test_a_cell_has_a_scope_page_whose_editor_link_starts_from_its_effective_stage(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    glob = store.set_property(STAGE_KEY, "shadow", {}, actor="a", reason="r")
    billing = store.set_property(
        STAGE_KEY, "canary", {"application": "billing", "account": "test"}, actor="a", reason="r", percent=25
    )
    deploy = store.set_property(
        STAGE_KEY,
        "durable",
        {"application": "billing", "account": "test", "stage_type": "deploy"},
        actor="a",
        reason="r",
    )
    sign_in(client, "alice")
    matrix = client.get("/scopes").text
    link = "/scope?application=billing&amp;account=test&amp;operation=resizeServerGroup"
    assert f'<a class="stage" href="{link}">canary 25%</a>' in matrix
    page = client.get("/scope?application=billing&account=test&operation=resizeServerGroup")
    assert page.status_code == 200
    html = page.text
    assert 'id="scope-stage">canary 25%<' in html and f">{billing.id}</a> v1" in html
    assert f'data-property="{billing.id}"' in html and f'data-property="{glob.id}"' in html  # both match
    assert f"{deploy.id}: durable for stage_type=deploy" in html  # the narrower one, as a badge
    edit = re.search(r'id="edit-cell" href="([^"]+)"', html)
    assert edit is not None
    prefilled = client.get(edit.group(1).replace("&amp;", "&")).text
    assert 'id="f-operation" value="resizeServerGroup"' in prefilled
    assert '<option value="canary" selected>' in prefilled and 'id="f-percent" value="25"' in prefilled
    missing = client.get("/scope?application=billing")
    assert missing.status_code == 400 and "operation is required" in missing.text


def test_operations_refused_by_validation_are_not_known_names(client: FlaskClient, url: str) -> None:
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    rows = [
        ("ok-1", "resizeServerGroup", "succeeded", None),
        ("typo-1", "resizeServerGrup", "failed", "validation"),
        ("boom-1", "upsertScalingPolicy", "failed", "infrastructure"),
    ]
    with engine.begin() as conn:
        for op_id, operation, status, kind in rows:
            conn.execute(
                operation_outcomes.insert().values(
                    operation_id=op_id,
                    operation=operation,
                    stage_type="s",
                    account="prod",
                    application="api",
                    provider="aws",
                    path="legacy",
                    stage="legacy",
                    status=status,
                    error_kind=kind,
                    errors=[],
                    decision={},
                    duration_s=0.1,
                    finished_at=now,
                )
            )
    engine.dispose()
    matrix = client.get("/api/scopes", headers=bearer("viewer")).get_json()
    assert "resizeServerGrup" not in matrix["operations"] and "resizeServerGrup" not in matrix["choices"]["operation"]
    assert matrix["operations"][-1] == "upsertScalingPolicy"  # seen and not refused: a column after the catalogue
    stats = {(c["operation"]): c["stats"] for c in matrix["cells"] if c["stats"]}
    assert stats["upsertScalingPolicy"]["failureRate"] == 1.0 and stats["resizeServerGroup"]["failureRate"] == 0.0


def test_the_clouds_accounts_are_known_names_and_a_cloud_that_does_not_answer_is_said(url: str) -> None:
    with pytest.raises(ConfigError, match="console setting cloud: unknown cloud 'nowhere'"):
        create_app(console_config(url, CLOUD="nowhere"), environ={})
    app = create_app(console_config(url, CLOUD="sim"), environ={})
    matrix = app.test_client().get("/api/scopes", headers=bearer("viewer")).get_json()
    assert matrix["accounts"] == ["prod", "test", "titusprod", "titustest"] and matrix["notes"] == []
    app.extensions["console"].close()
    down = create_app(console_config(url, CLOUD="http://127.0.0.1:9"), environ={})
    matrix = down.test_client().get("/api/scopes", headers=bearer("viewer")).get_json()
    assert matrix["accounts"] == [None] and any("the cloud's accounts are unavailable" in n for n in matrix["notes"])
    down.extensions["console"].close()


def test_a_new_name_that_also_overrides_a_property_is_confirmed_in_one_step(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    glob = store.set_property(STAGE_KEY, "shadow", {"account": "test"}, actor="a", reason="r")
    token = sign_in(client, "alice")
    form = {"csrf_token": token, "application": "ledger", "account": "test", "stage": "durable", "reason": "r"}
    refused = client.post("/scopes/edit", data=form)
    assert refused.status_code == 400 and "unknown application &#39;ledger&#39;" in refused.text
    assert f"this overrides {glob.id} (account=test: shadow) for application=ledger, account=test" in refused.text
    data = {**form, "confirm_new_names": "yes", "reviewed": _fingerprint(refused.text)}
    assert client.post("/scopes/edit", data=data).status_code == 302
    assert store.find_property(STAGE_KEY, {"application": "ledger", "account": "test"}) is not None
