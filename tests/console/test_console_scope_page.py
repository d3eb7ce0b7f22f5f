"""The scope page and the rollout page with real records: a rollout on `api` in shadow, operations run by a
RoutingRunner over scripted paths (`console_support.scripted_router`) into the same SQLite database, a tick that
judges them, then the pages: the gate table (with what a hold still needs), the thresholds as a table, the raw
evidence behind a details, and the charts over time as inline SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path as FsPath

import pytest
from console_support import console_config, csrf_of, database, scripted_router, sign_in
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.services import ConsoleServices

SCOPE = "/scope?application=api&account=prod&operation=resizeServerGroup"


@pytest.fixture
def url(tmp_path: FsPath) -> str:
    return database(tmp_path)


@pytest.fixture
def client(url: str) -> Iterator[FlaskClient]:
    app: Flask = create_app(console_config(url), environ={})
    client = app.test_client()
    yield client
    services = app.extensions["console"]
    assert isinstance(services, ConsoleServices)
    services.close()


def _ticked_rollout(client: FlaskClient, url: str) -> str:
    token = sign_in(client, "alice")
    form = {"scope": "application=api", "steps": "5,50", "minOps": "10", "minDuration": "0s", "reason": "try it"}
    started = client.post("/rollouts", data={**form, "csrf_token": token})
    assert started.status_code == 303, started.text
    rollout_id = started.headers["Location"].rsplit("/", 1)[-1]
    with scripted_router(url) as router:
        router.run([f"op-{i}" for i in range(1, 6)])  # shadow: five comparisons, op-7 is not among them
    token = csrf_of(client.get(f"/rollouts/{rollout_id}").text)
    assert client.post(f"/rollouts/{rollout_id}/tick", data={"csrf_token": token}).status_code == 303
    return rollout_id


def _row(html: str, check: str) -> str:
    found = re.search(rf'<tr data-check="{check}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no {check} row"
    return found.group(1)


def test_the_scope_page_shows_the_gates_in_words_and_the_charts(client: FlaskClient, url: str) -> None:
    rollout_id = _ticked_rollout(client, url)
    page = client.get(SCOPE)
    assert page.status_code == 200
    assert f"Rollout {rollout_id}: its gates" in page.text
    mismatch = _row(page.text, "mismatch")
    assert "needs 15 more matched comparisons" in mismatch and ">hold<" in mismatch
    assert "mismatch rate 0.00% (0/5, 95% CI" in mismatch
    assert "needs 5 more shadow comparisons" in _row(page.text, "min_ops")
    assert '<th scope="row">matched comparisons needed</th><td>20</td>' in page.text
    assert '<details id="gate-raw">' in page.text
    for chart in ("chart-split", "chart-failure-rate", "chart-shadow", "chart-latency"):
        svg = re.search(rf'<svg [^>]*id="{chart}".*?</svg>', page.text, re.S)
        assert svg, f"no {chart}"
        ET.fromstring(svg.group(0))
    split = re.search(r'<svg [^>]*id="chart-split".*?</svg>', page.text, re.S)
    assert split and ": legacy 5</title>" in split.group(0)  # the five operations ran on legacy, in one bucket


def test_the_rollout_page_shows_the_same_gate_table(client: FlaskClient, url: str) -> None:
    rollout_id = _ticked_rollout(client, url)
    page = client.get(f"/rollouts/{rollout_id}").text
    assert "needs 15 more matched comparisons" in _row(page, "mismatch")
    assert 'id="rollout-thresholds"' in page
    assert '<th scope="row">operations per step</th><td>at least 10</td>' in page


def test_a_scope_without_rollout_or_records_still_has_empty_charts(client: FlaskClient) -> None:
    sign_in(client, "victor")
    page = client.get(SCOPE).text
    assert 'id="scope-gates"' not in page and 'id="chart-split"' in page


def test_the_scope_page_lists_its_recent_operations_and_mismatches(client: FlaskClient, url: str) -> None:
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from router.tables import shadow_comparisons

    _ticked_rollout(client, url)
    engine = sa.create_engine(url)
    dims = {"application": "api", "account": "prod", "operation": "resizeServerGroup"}
    diff = {"path": "plan.mutations[0].params.capacity.desired", "control": 3, "candidate": "<4>", "ignoredBy": None}
    with engine.begin() as conn:
        conn.execute(
            shadow_comparisons.insert().values(
                operation_id="op-mismatched",
                stage_type="resizeServerGroup",
                provider="aws",
                control_path="legacy",
                candidate_path="durable",
                outcome="mismatch",
                diffs=[diff],
                control={},
                candidate={},
                control_duration_s=1.0,
                candidate_duration_s=1.0,
                compared_at=datetime.now(UTC),
                **dims,
            )
        )
    engine.dispose()
    page = client.get(SCOPE).text
    recent = re.search(r'<table class="list" id="recent-operations">.*?</table>', page, re.S)
    assert recent, "no recent operations"
    assert sorted(re.findall(r'data-operation-id="(op-\d)"', recent.group(0))) == [f"op-{i}" for i in range(1, 6)]
    mismatches = re.search(r'<section id="scope-mismatches">.*?</section>', page, re.S)
    assert mismatches and 'data-operation-id="op-mismatched"' in mismatches.group(0)
    assert "plan.mutations[0].params.capacity.desired" in mismatches.group(0)
    assert '"\\u003c4\\u003e"' in mismatches.group(0) and "<4>" not in mismatches.group(0)  # tojson escapes it
