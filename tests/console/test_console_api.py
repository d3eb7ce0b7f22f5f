"""The console through its Flask app: who may do what (tokens, roles, sessions, CSRF), what each page and API route
shows, and that every change goes through the flag store's audit with its user and reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Any

import pytest
from console_support import bearer, console_config, csrf_of, database, scripted_router, sign_in
from flask import Flask
from flask.testing import FlaskClient

from console import create_app
from console.names import CATALOGUE_OPERATIONS
from console.services import ConsoleServices
from flags import STAGE_KEY, SqlFlagStore
from router.contract import Path


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


API_READS = [
    "/api/me",
    "/api/scopes",
    "/api/properties",
    "/api/properties/p1",
    "/api/explain",
    "/api/audit",
    "/api/kill-switch",
    "/api/dashboard",
    "/api/operations",
    "/api/rollouts",
    "/api/rollouts/ro-1",
]
API_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/api/properties", {"value": "durable", "scope": {"application": "api"}, "reason": "r"}),
    ("/api/properties/p1/delete", {"reason": "r"}),
    ("/api/properties/p1/restore", {"version": 1, "reason": "r"}),
    ("/api/kill-switch", {"engaged": True, "reason": "r"}),
    ("/api/rollouts", {"scope": "application=api", "reason": "r"}),
    ("/api/rollouts/ro-1/pause", {"reason": "r"}),
    ("/api/rollouts/ro-1/resume", {"reason": "r"}),
    ("/api/rollouts/ro-1/abort", {"reason": "r"}),
    ("/api/rollouts/ro-1/tick", {}),
]


def _assert_error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"] == error and body["message"], body


# -- who may do what ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", API_READS)
def test_api_reads_refuse_missing_or_wrong_tokens(client: FlaskClient, path: str) -> None:
    _assert_error(client.get(path), 401, "unauthorized")
    assert client.get(path).headers["WWW-Authenticate"].startswith("Bearer")
    _assert_error(client.get(path, headers={"Authorization": "Bearer not-a-token"}), 401, "unauthorized")
    _assert_error(client.get(path, headers={"Authorization": "Basic YWxpY2U6eA=="}), 401, "unauthorized")


@pytest.mark.parametrize(("path", "body"), API_WRITES)
def test_api_writes_refuse_anonymous_and_viewer_tokens(
    client: FlaskClient, store: SqlFlagStore, path: str, body: dict[str, Any]
) -> None:
    _assert_error(client.post(path, json=body), 401, "unauthorized")
    _assert_error(client.post(path, json=body, headers=bearer("viewer")), 403, "forbidden")
    assert store.history() == [] and store.kill_switches() == []


def test_the_api_ignores_the_session_cookie(client: FlaskClient) -> None:
    """A signed-in browser cannot be made to call the API cross-site: the API wants the bearer header only."""
    sign_in(client, "alice")
    assert client.get("/scopes").status_code == 200
    _assert_error(client.get("/api/me"), 401, "unauthorized")
    _assert_error(client.post("/api/kill-switch", json={"engaged": True, "reason": "r"}), 401, "unauthorized")


def test_editor_token_changes_are_audited_with_the_token_name(client: FlaskClient, store: SqlFlagStore) -> None:
    assert client.get("/api/me", headers=bearer("viewer")).get_json() == {
        "name": "grafana",
        "role": "viewer",
        "kind": "token",
    }
    body = {"value": "shadow", "scope": {"application": "api"}, "reason": "start shadowing api", "ticket": "CHG-1"}
    created = client.post("/api/properties", json=body, headers=bearer("editor"))
    assert created.status_code == 201, created.text
    assert created.get_json()["updatedBy"] == "token:deployer"
    [change] = store.history()
    assert (change.actor, change.reason, change.ticket) == ("token:deployer", "start shadowing api", "CHG-1")


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/audit?key=x")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/audit")
    login = client.get("/login")
    token = csrf_of(login.text)
    wrong = client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    unknown = client.post("/login", data={"username": "mallory", "password": "nope", "csrf_token": token})
    assert unknown.status_code == 401 and "wrong user name or password" in unknown.text
    # After signing in, only a path on this site is a destination: no open redirect.
    data = {"username": "alice", "password": "alice-password", "csrf_token": token, "next": "//evil.example/x"}
    response = client.post("/login", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/scopes"


def test_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and cookie.startswith("cloudops_console=")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_login_and_every_page_form_refuse_a_missing_or_wrong_csrf_token(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    login = {"username": "alice", "password": "alice-password"}
    assert client.post("/login", data=login).status_code == 400
    token = sign_in(client, "alice")
    forms = [
        ("/scopes/edit", {"application": "api", "stage": "durable", "reason": "r"}),
        ("/kill-switch", {"engaged": "true", "reason": "r", "confirm": "legacy"}),
        ("/audit/restore", {"property_id": "p1", "version": "1", "reason": "r"}),
        ("/scopes/properties/p1/delete", {"reason": "r"}),
        ("/rollouts", {"scope": "application=api", "reason": "r"}),
        ("/rollouts/ro-1/pause", {"reason": "r"}),
        ("/logout", {}),
    ]
    for path, data in forms:
        for bad in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
            response = client.post(path, data={**data, **bad})
            assert response.status_code == 400, (path, bad, response.status_code)
            assert "CSRF token" in response.text
    assert store.history() == [] and store.kill_switches() == []
    assert client.get("/scopes").status_code == 200  # still signed in: /logout was refused too


def test_a_viewer_sees_pages_but_cannot_change_anything(client: FlaskClient, store: SqlFlagStore) -> None:
    token = sign_in(client, "victor")
    for page in ("/scopes", "/explain", "/audit", "/dashboard", "/operations", "/rollouts"):
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'id="stage-form"' not in response.text and 'id="kill-form"' not in response.text
    data = {"application": "api", "stage": "durable", "reason": "r", "csrf_token": token}
    response = client.post("/scopes/edit", data=data)
    assert response.status_code == 403 and "editor role" in response.text
    kill = {"engaged": "true", "reason": "r", "confirm": "legacy", "csrf_token": token}
    assert client.post("/kill-switch", data=kill).status_code == 403
    assert store.history() == [] and store.kill_switches() == []


def test_changing_a_password_ends_that_users_sessions(url: str) -> None:
    first = create_app(console_config(url), environ={})
    client = first.test_client()
    sign_in(client, "alice")
    assert client.get("/scopes").status_code == 200
    changed = console_config(url)
    changed["USERS"] = {"alice": {"role": "editor", "password_hash": changed["USERS"]["victor"]["password_hash"]}}
    second = create_app(changed, environ={})
    second_client = second.test_client()
    cookie = client.get_cookie("cloudops_console")
    assert cookie is not None
    second_client.set_cookie("cloudops_console", cookie.value)
    assert second_client.get("/scopes").status_code == 302
    for app in (first, second):
        app.extensions["console"].close()


# -- what the pages show, and that writes are audited -------------------------------------------------------------


def test_everything_is_escaped(client: FlaskClient, store: SqlFlagStore) -> None:
    evil = "<script>alert(1)</script>"
    store.set_property(STAGE_KEY, "shadow", {"application": "<b>x</b>"}, actor="<img src=x>", reason=evil)
    token = sign_in(client, "alice")
    pages = [client.get(p).text for p in ("/scopes", "/audit", "/explain?application=<b>x</b>")]
    failed = client.post("/scopes/edit", data={"csrf_token": token, "application": evil, "stage": "x", "reason": evil})
    assert failed.status_code == 400
    for html in [*pages, failed.text]:
        assert evil not in html and "<b>x</b>" not in html and "<img src=x>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
    assert "&lt;b&gt;x&lt;/b&gt;" in pages[0]


def test_setting_a_stage_needs_a_reason_and_is_audited_with_the_user(client: FlaskClient, store: SqlFlagStore) -> None:
    token = sign_in(client, "alice")
    form = {"csrf_token": token, "application": "api", "stage": "canary", "percent": "10", "bucket_by": "execution_id"}
    missing = client.post("/scopes/edit", data=form)
    assert missing.status_code == 400 and "reason is required" in missing.text
    no_percent = client.post("/scopes/edit", data={**form, "percent": "", "reason": "ramp"})
    assert no_percent.status_code == 400 and "needs a percent" in no_percent.text
    unknown = client.post("/scopes/edit", data={**form, "reason": "ramp api", "expires": "7d"})
    assert unknown.status_code == 400 and "unknown application &#39;api&#39;" in unknown.text
    assert store.history() == []  # nothing operates "api" yet: refused until confirmed as new
    saved = client.post(
        "/scopes/edit", data={**form, "reason": "ramp api", "expires": "7d", "confirm_new_names": "yes"}
    )
    assert saved.status_code == 302
    prop = store.find_property(STAGE_KEY, {"application": "api"})
    assert prop is not None and (prop.value, prop.percent, prop.bucket_by) == ("canary", 10.0, "execution_id")
    assert prop.expires_at is not None and (prop.updated_by, prop.reason) == ("alice", "ramp api")
    page = client.get("/scopes").text
    assert "canary 10%" in page and f"{prop.id} v1" in page and "saved" in page
    api = client.post("/api/properties", json={"value": "durable"}, headers=bearer("editor"))
    _assert_error(api, 400, "invalid_input")
    assert api.get_json()["field"] == "reason"


def test_matrix_shows_each_cells_stage_and_the_property_that_decides_it(
    client: FlaskClient, store: SqlFlagStore, url: str
) -> None:
    def put(value: str, scope: dict[str, str], **kw: Any) -> str:
        return store.set_property(STAGE_KEY, value, scope, actor="setup", reason="setup", **kw).id

    glob = put("shadow", {})
    api = put("canary", {"application": "api"}, percent=10)
    api_create = put("durable", {"application": "api", "operation": "createServerGroup"})
    api_deploy = put("complete", {"application": "api", "stage_type": "deploy"})
    web_prod = put("durable", {"application": "web", "account": "prod"})
    with scripted_router(url) as router:
        router.run(["b-1", "b-2"], application="billing")  # rows and accounts also come from recent operations
    matrix = client.get("/api/scopes", headers=bearer("viewer")).get_json()
    assert matrix["applications"] == ["api", "billing", "web"] and matrix["accounts"] == ["prod"]
    assert matrix["operations"] == list(CATALOGUE_OPERATIONS)  # a column per catalogue operation
    cells = {(c["application"], c["account"], c["operation"]): c for c in matrix["cells"]}
    create, resize = cells[("api", "prod", "createServerGroup")], cells[("api", "prod", "resizeServerGroup")]
    assert (create["label"], create["decidedBy"], create["badges"]) == ("durable", api_create, [])
    assert (resize["label"], resize["decidedBy"]) == ("canary 10%", api)
    assert resize["badges"] == [
        {"propertyId": api_deploy, "propertyVersion": 1, "dimensions": {"stage_type": "deploy"}, "label": "complete"}
    ]
    billing = cells[("billing", "prod", "resizeServerGroup")]
    assert billing["decidedBy"] == glob and billing["dimensions"]["provider"] == "aws"  # the account's provider
    assert billing["stats"] == {
        "operations": 2,
        "failures": 0,
        "failureRate": 0.0,
        "comparisons": 2,
        "mismatchRate": 0.0,
    }
    web = cells[("web", "prod", "resizeServerGroup")]
    assert (web["label"], web["decidedBy"]) == ("durable", web_prod)  # account-scoped, with no filter
    assert client.get("/api/scopes?stage=durable", headers=bearer("viewer")).get_json()["applications"] == [
        "api",
        "web",
    ]
    paged = client.get("/api/scopes?search=BiL&per_page=1", headers=bearer("viewer")).get_json()
    assert (paged["applications"], paged["pages"], paged["totalApplications"]) == (["billing"], 1, 1)
    second = client.get("/api/scopes?per_page=2&page=2", headers=bearer("viewer")).get_json()
    assert (second["applications"], second["pages"]) == (["web"], 2)
    _assert_error(client.get("/api/scopes?per_page=0", headers=bearer("viewer")), 400, "invalid_input")
    sign_in(client, "alice")
    page = client.get("/scopes").text
    assert 'data-application="web" data-account="prod" data-operation="resizeServerGroup"' in page
    assert web_prod in page and f"{api_deploy}: complete for stage_type=deploy" in page


def test_explain_shows_the_decision_the_route_and_every_candidate(client: FlaskClient, store: SqlFlagStore) -> None:
    broad = store.set_property(STAGE_KEY, "shadow", {}, actor="a", reason="r")
    narrow = store.set_property(STAGE_KEY, "durable", {"application": "api"}, actor="a", reason="r")
    other = store.set_property(STAGE_KEY, "canary", {"application": "web"}, actor="a", reason="r", percent=50)
    query = "application=api&operation=resizeServerGroup&operation_id=op-1"
    body = client.get(f"/api/explain?{query}", headers=bearer("viewer")).get_json()
    assert body["decision"]["propertyId"] == narrow.id and body["decision"]["stage"] == "durable"
    assert body["route"]["primary"] == "durable" and body["route"]["shadow"] == "legacy"
    outcomes = {c["property"]["id"]: c["outcome"] for c in body["candidates"]}
    assert outcomes == {narrow.id: "won", broad.id: "lost", other.id: "no_match"}
    sign_in(client, "victor")
    page = client.get(f"/explain?{query}").text
    assert 'id="decision-path">durable<' in page and "wants application=web" in page


def test_audit_shows_diffs_and_restores_an_earlier_version(client: FlaskClient, store: SqlFlagStore) -> None:
    first = store.set_property(STAGE_KEY, "shadow", {"application": "api"}, actor="bob", reason="shadow first")
    store.set_property(STAGE_KEY, "canary", {"application": "api"}, actor="bob", reason="ramp", percent=5)
    changes = client.get("/api/audit", headers=bearer("viewer")).get_json()["changes"]
    assert [c["action"] for c in changes] == ["update", "create"]
    assert {"path": "value", "before": "shadow", "after": "canary"} in changes[0]["diff"]
    assert {"path": "percent", "before": None, "after": 5.0} in changes[0]["diff"]
    assert [c["restorable"] for c in changes] == [False, True]
    token = sign_in(client, "alice")
    page = client.get("/audit").text
    assert "Restore v1" in page and "shadow first" in page
    data = {"csrf_token": token, "property_id": first.id, "version": "1", "reason": "canary too early"}
    assert client.post("/audit/restore", data=data).status_code == 303
    restored = store.get_property(first.id)
    assert (restored.value, restored.percent, restored.version) == ("shadow", None, 3)
    latest = store.history()[0]
    assert (latest.action.value, latest.actor, latest.reason, latest.restored_from) == (
        "restore",
        "alice",
        "canary too early",
        1,
    )


def test_kill_switch_needs_a_typed_confirmation_and_then_forces_legacy(
    client: FlaskClient, store: SqlFlagStore
) -> None:
    store.set_property(STAGE_KEY, "durable", {"application": "api"}, actor="a", reason="r")
    token = sign_in(client, "alice")
    refused = client.post("/kill-switch", data={"csrf_token": token, "engaged": "true", "reason": "incident 7"})
    assert refused.status_code == 400 and store.kill_switches() == []
    # Shown again at once, at the field, with the typed reason kept (no redirect that loses it).
    assert "type &#39;legacy&#39; to confirm" in refused.text
    assert 'id="kill-reason" value="incident 7"' in refused.text
    assert 'id="kill-confirm" value="" required autocomplete="off" aria-invalid="true"' in refused.text
    data = {"csrf_token": token, "engaged": "true", "reason": "incident 7", "confirm": "legacy"}
    assert client.post("/kill-switch", data=data).status_code == 302
    [switch] = store.kill_switches()
    assert switch.engaged and (switch.updated_by, switch.reason) == ("alice", "incident 7")
    assert 'id="kill-banner"' in client.get("/dashboard").text
    cell = next(c for c in client.get("/api/scopes", headers=bearer("viewer")).get_json()["cells"])
    assert cell["label"] == "legacy (kill switch)" and cell["decidedBy"] == "kill switch"
    release = {"csrf_token": token, "engaged": "false", "reason": "incident over"}
    assert client.post("/kill-switch", data=release).status_code == 302
    assert client.get("/api/kill-switch", headers=bearer("viewer")).get_json()["engaged"] is False


def test_dashboard_shows_paths_failure_rates_latencies_and_mismatches(
    client: FlaskClient, store: SqlFlagStore, url: str
) -> None:
    ids = [f"op-{i}" for i in range(20)]
    with scripted_router(url) as router:
        store.set_property(STAGE_KEY, "shadow", {"application": "api"}, actor="a", reason="r")
        assert set(router.run(ids)) == {Path.LEGACY}
        store.set_property(STAGE_KEY, "durable", {"application": "api"}, actor="a", reason="r")
        assert set(router.run([f"d{i}" for i in ids])) == {Path.DURABLE}
    body = client.get("/api/dashboard?hours=1", headers=bearer("viewer")).get_json()
    [scope] = body["scopes"]
    assert scope["scope"] == {"application": "api", "operation": "resizeServerGroup"}
    assert {p: s["operations"] for p, s in scope["paths"].items()} == {"legacy": 20, "durable": 20}
    assert scope["paths"]["legacy"]["failureRate"] == 0 and set(scope["paths"]["legacy"]["latency"]) == {
        "p50",
        "p95",
        "p99",
    }
    assert scope["stages"] == {"shadow": 20, "durable": 20}
    mismatching = sum(1 for i in ids if i.endswith("7")) * 2  # op-7, op-17 in each phase
    assert scope["shadow"]["comparisons"] == 40 and scope["shadow"]["outcomes"]["mismatch"] == mismatching
    assert scope["shadow"]["matchRate"] == pytest.approx((40 - mismatching) / 40)
    diffs = {(m["operationId"], m["controlPath"]): m["diffs"] for m in body["mismatches"]}
    assert diffs[("op-7", "legacy")][0] == {
        "path": "plan.mutations[0].params.capacity.desired",
        "control": 2,
        "candidate": 3,
        "ignoredBy": None,
    }
    assert diffs[("dop-17", "durable")][0]["control"] == 3
    grouped = client.get("/api/dashboard?groupBy=account", headers=bearer("viewer")).get_json()
    assert [s["scope"] for s in grouped["scopes"]] == [{"account": "prod"}]
    sign_in(client, "victor")
    page = client.get("/dashboard").text
    assert "plan.mutations[0].params.capacity.desired" in page and 'data-operation-id="op-7"' in page
    assert 'class="match-rate">90.0%<' in page
    split = re.search(r'<svg [^>]*id="chart-split".*?</svg>', page, re.S)  # the window's path split, over time
    assert split and ": legacy 20</title>" in split.group(0) and ": durable 20</title>" in split.group(0)
    assert 'id="chart-failure-rate"' in page


def test_the_dashboard_shows_the_busiest_scopes_and_says_how_to_see_the_others(client: FlaskClient, url: str) -> None:
    """Past `console.dashboard.SCOPES` scopes, the JSON and the page show the busiest with their latencies and
    say how many more there are and how to see them (a filter, or fewer dimensions)."""
    import sqlalchemy as sa

    from console.dashboard import SCOPES
    from router.tables import operation_outcomes

    now = datetime.now(UTC) - timedelta(minutes=5)
    dims = {"operation": "resizeServerGroup", "stage_type": "resize", "account": "prod", "provider": "aws"}
    rows = [
        {
            "operation_id": f"op-{app}-{i}",
            **dims,
            "application": f"app{app:03d}",
            "path": "legacy",
            "stage": "legacy",
            "status": "succeeded",
            "errors": [],
            "decision": {},
            "duration_s": 1.0 + i,
            "finished_at": now,
        }
        for app in range(SCOPES + 5)
        for i in range(1 + (app == 42) * 3)  # app042 is the busiest
    ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)
    engine.dispose()
    body = client.get("/api/dashboard?hours=1", headers=bearer("viewer")).get_json()
    assert (len(body["scopes"]), body["scopeCount"], body["moreScopes"]) == (SCOPES, SCOPES + 5, 5)
    assert body["scopes"][0]["scope"]["application"] == "app042" and body["scopes"][0]["operations"] == 4
    assert all(s["paths"]["legacy"]["latency"] for s in body["scopes"])  # every scope shown has its latencies
    hint = body["moreScopesHint"]
    assert f"the {SCOPES} busiest of {SCOPES + 5} scopes (5 more)" in hint and "filter by application" in hint
    filtered = client.get("/api/dashboard?hours=1&application=app007", headers=bearer("viewer")).get_json()
    assert [s["scope"]["application"] for s in filtered["scopes"]] == ["app007"] and filtered["moreScopes"] == 0
    assert filtered["moreScopesHint"] is None
    sign_in(client, "victor")
    page = client.get("/dashboard?hours=1").text
    assert 'id="more-scopes"' in page and f"busiest of {SCOPES + 5} scopes (5 more)" in page
    assert page.count('data-path="legacy"') == SCOPES
    assert 'id="more-scopes"' not in client.get("/dashboard?hours=1&application=app007").text


def test_rollouts_start_pause_resume_and_abort_from_the_console(client: FlaskClient, store: SqlFlagStore) -> None:
    token = sign_in(client, "alice")
    start = {"csrf_token": token, "scope": "application=api", "steps": "10,50", "reason": "migrate api"}
    response = client.post("/rollouts", data=start)
    assert response.status_code == 303
    rollout_id = response.headers["Location"].rsplit("/", 1)[1]
    prop = store.find_property(STAGE_KEY, {"application": "api"})
    assert prop is not None and prop.value == "shadow" and prop.updated_by == f"rollout:{rollout_id}"
    for action in ("pause", "resume"):
        data = {"csrf_token": token, "reason": f"{action} for the test"}
        assert client.post(f"/rollouts/{rollout_id}/{action}", data=data).status_code == 303
    paused = client.post(
        f"/api/rollouts/{rollout_id}/pause", json={"reason": "hold on"}, headers=bearer("editor")
    ).get_json()
    assert paused["status"] == "paused"
    twice = client.post(f"/api/rollouts/{rollout_id}/pause", json={"reason": "again"}, headers=bearer("editor"))
    _assert_error(twice, 409, "invalid_transition")
    assert client.post(f"/rollouts/{rollout_id}/abort", data={"csrf_token": token, "reason": "stop"}).status_code == 303
    page = client.get(f"/rollouts/{rollout_id}").text
    assert 'id="rollout-status" class="status status-aborted">aborted<' in page
    kinds = [
        e["kind"] for e in client.get(f"/api/rollouts/{rollout_id}", headers=bearer("viewer")).get_json()["timeline"]
    ]
    assert kinds == ["started", "paused", "resumed", "paused", "aborted"]
    assert "paused by alice" in page and "aborted by alice, back to legacy: stop" in page
    assert "paused by token:deployer" in page
    prop = store.find_property(STAGE_KEY, {"application": "api"})
    assert prop is not None and prop.value == "legacy"


# -- errors --------------------------------------------------------------------------------------------------------


def test_bad_input_gets_a_json_error_never_a_500(client: FlaskClient) -> None:
    editor = bearer("editor")
    _assert_error(client.post("/api/properties", data="{not json", headers=editor), 400, "invalid_input")
    _assert_error(client.post("/api/properties", json=["a"], headers=editor), 400, "invalid_input")
    bad_stage = {"value": "sideways", "reason": "r"}
    _assert_error(client.post("/api/properties", json=bad_stage, headers=editor), 400, "invalid_input")
    bad_dim = {"value": "durable", "scope": {"region": "x"}, "reason": "r"}
    _assert_error(client.post("/api/properties", json=bad_dim, headers=editor), 400, "invalid_input")
    _assert_error(client.get("/api/properties/p404", headers=editor), 404, "not_found")
    _assert_error(client.get("/api/nothing-here", headers=editor), 404, "not_found")
    _assert_error(client.delete("/api/properties", headers=editor), 405, "method_not_allowed")
    _assert_error(client.get("/api/dashboard?hours=soon", headers=editor), 400, "invalid_input")
    _assert_error(client.get("/api/dashboard?groupBy=region", headers=editor), 400, "invalid_input")
    _assert_error(client.get("/api/audit?limit=0", headers=editor), 400, "invalid_input")
    _assert_error(client.get("/api/rollouts?status=lost", headers=editor), 400, "invalid_input")
    restore = {"version": 9, "reason": "r"}
    _assert_error(client.post("/api/properties/p1/restore", json=restore, headers=editor), 404, "not_found")
    _assert_error(client.post("/api/rollouts", json={"scope": "", "reason": "r"}, headers=editor), 400, "invalid_input")


def test_a_database_without_the_schema_answers_503_saying_what_to_do(tmp_path: FsPath) -> None:
    app = create_app(console_config(f"sqlite:///{tmp_path / 'empty.db'}"), environ={})
    client = app.test_client()
    _assert_error(client.get("/api/properties", headers=bearer("viewer")), 503, "store_unavailable")
    assert "cloudops db upgrade" in client.get("/api/dashboard", headers=bearer("viewer")).get_json()["message"]
    sign_in_page = client.get("/login")
    assert sign_in_page.status_code == 200
    app.extensions["console"].close()


def test_live_operations_say_when_temporal_is_unreachable(client: FlaskClient) -> None:
    view = client.get("/api/operations", headers=bearer("viewer")).get_json()
    assert view["operations"] == [] and "127.0.0.1:9" in view["error"] and "unreachable" in view["error"]
    sign_in(client, "victor")
    page = client.get("/operations")
    assert page.status_code == 200 and 'id="temporal-error"' in page.text


def test_odd_numbers_and_absurd_nesting_are_refused_not_crashed_on(client: FlaskClient) -> None:
    editor = bearer("editor")
    _assert_error(client.get("/api/audit?limit=%C2%B2", headers=editor), 400, "invalid_input")  # "²".isdigit()
    body = {"value": "shadow", "reason": "r", "expectedVersion": "²"}
    _assert_error(client.post("/api/properties", json=body, headers=editor), 400, "invalid_input")
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/properties", data=deep, headers={**editor, "Content-Type": "application/json"})
    _assert_error(response, 400, "invalid_input")
