"""The operations list (`/operations`, `/operations/rows`): recent operations of both paths from the router's
outcomes table, as a RoutingRunner over scripted paths records them into the same database, with filters on every
dimension, path, status and window, paging, escaping, and links into Temporal's UI. Temporal is unreachable here
(the config points at 127.0.0.1:9): the list of finished operations must not depend on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path as FsPath

import pytest
from console_support import console_config, database, scripted_router, sign_in
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.errors import InputError
from console.operation_list import PAGE_SIZE, OperationFilter, first_error, parse_filter
from console.services import ConsoleServices
from flags import STAGE_KEY, SqlFlagStore

UI = "https://temporal.example.com"


@pytest.fixture
def url(tmp_path: FsPath) -> str:
    return database(tmp_path)


@pytest.fixture
def client(url: str) -> Iterator[FlaskClient]:
    app: Flask = create_app(console_config(url, TEMPORAL_UI_URL=UI), environ={})
    client = app.test_client()
    sign_in(client, "victor")
    yield client
    services = app.extensions["console"]
    assert isinstance(services, ConsoleServices)
    services.close()


def _ids(html: str) -> list[str]:
    return re.findall(r'data-operation-id="([^"]+)"', html)


@pytest.fixture
def recorded(url: str) -> None:
    """api on legacy: ok-1, fail-2 (refused); billing on durable: ok-3, fail-4 (refused); oldest first."""
    store = SqlFlagStore(url)
    store.set_property(STAGE_KEY, "durable", {"application": "billing"}, actor="setup", reason="setup")
    with scripted_router(url) as router:
        router.run(["ok-1", "fail-2"], application="api")
        router.run(["ok-3", "fail-4"], application="billing")
    store.close()


def test_the_list_shows_both_paths_newest_first_with_errors_and_links(client: FlaskClient, recorded: None) -> None:
    page = client.get("/operations")
    assert page.status_code == 200
    assert _ids(page.text) == ["fail-4", "ok-3", "fail-2", "ok-1"]
    assert 'id="temporal-error"' in page.text  # the running ones are missing, and the page says why
    durable_failure = page.text.split('data-operation-id="fail-4"')[1].split("</tr>")[0]
    assert 'class="status failed"' in durable_failure and "business" in durable_failure
    assert "capacity 9999 is over this account&#39;s limit &lt;100&gt;" in durable_failure  # escaped
    assert f'href="{UI}/namespaces/default/workflows/cloudop-fail-4"' in durable_failure
    assert "application=billing" in durable_failure and "<td>durable</td>" in durable_failure
    legacy_failure = page.text.split('data-operation-id="fail-2"')[1].split("</tr>")[0]
    assert "<code>task-fail-2</code>" in legacy_failure and "temporal-link" not in legacy_failure
    assert 'data-poll-url="/operations/rows?hours=24"' in page.text
    assert f'href="{UI}/namespaces/default/workflows?query=Outcome%20%3D%20%27failed%27"' in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", ["fail-4", "fail-2"]),
        ("status=succeeded&path=legacy", ["ok-1"]),
        ("path=durable", ["fail-4", "ok-3"]),
        ("application=api&status=failed", ["fail-2"]),
        (
            "account=prod&operation=resizeServerGroup&provider=aws&stage_type=resizeServerGroup",
            ["fail-4", "ok-3", "fail-2", "ok-1"],
        ),
        ("account=test", []),
        ("status=running", []),  # finished rows are never running; running ones come from Temporal (down here)
        ("hours=0.0001&application=nobody", []),
    ],
)
def test_filters_narrow_the_page_and_its_rows_fragment(
    client: FlaskClient, recorded: None, query: str, expected: list[str]
) -> None:
    assert _ids(client.get(f"/operations?{query}").text) == expected
    fragment = client.get(f"/operations/rows?{query}")
    assert fragment.status_code == 200 and "<html" not in fragment.text and _ids(fragment.text) == expected


def test_bad_filters_are_one_line_400s(client: FlaskClient) -> None:
    page = client.get("/operations?status=broken")
    assert page.status_code == 400 and "status must be one of running, succeeded, failed" in page.text
    assert 'id="filter-error"' in page.text and 'id="operations"' not in page.text
    fragment = client.get("/operations/rows?hours=lots")
    assert fragment.status_code == 400 and fragment.text == "hours must be a number, got 'lots'"


def test_the_list_is_paged(client: FlaskClient, url: str) -> None:
    with scripted_router(url) as router:
        router.run([f"op-{i:03d}" for i in range(PAGE_SIZE + 3)])
    first = client.get("/operations?application=api")
    assert len(_ids(first.text)) == PAGE_SIZE and _ids(first.text)[0] == f"op-{PAGE_SIZE + 2:03d}"
    assert 'href="/operations?application=api&amp;hours=24&amp;page=1" rel="next"' in first.text
    second = client.get("/operations?application=api&page=1")
    assert _ids(second.text) == ["op-002", "op-001", "op-000"] and 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text


def test_the_rows_need_a_session(url: str) -> None:
    app = create_app(console_config(url), environ={})
    anonymous = app.test_client().get("/operations/rows")
    assert anonymous.status_code in (302, 303, 401)
    app.extensions["console"].close()


def test_the_scope_page_links_to_its_operations(client: FlaskClient) -> None:
    scope = client.get("/scope?application=api&account=prod&operation=resizeServerGroup")
    assert (
        'href="/operations?application=api&amp;account=prod&amp;operation=resizeServerGroup" id="scope-operations"'
        in scope.text
    )


def test_parse_filter_and_first_error() -> None:
    wanted = parse_filter({"application": " api ", "path": "durable", "status": "failed", "hours": "2", "page": "3"})
    assert wanted == OperationFilter({"application": "api"}, "durable", "failed", 2.0, 3)
    assert parse_filter({"hours": "", "page": "", "application": ""}) == OperationFilter()  # a blank form
    assert wanted.query_args(page=0) == {"application": "api", "path": "durable", "status": "failed", "hours": "2"}
    for bad, field in (({"path": "sideways"}, "path"), ({"hours": "0"}, "hours"), ({"page": "-1"}, "page")):
        with pytest.raises(InputError) as refused:
            parse_filter(bad)
        assert refused.value.field == field
    assert first_error([{"message": "first line\nsecond"}, {"message": "other"}]) == "first line"
    assert first_error(["plain"]) == "plain" and first_error([]) == "" and first_error({"truncated": True}) == ""
