"""A real staged rollout driven through the console in Debian's chromium: sign in, then legacy, shadow, canary
10%, durable, and the kill switch. After each step the test checks what the page shows and what a RoutingRunner
reading the same database then does with real operations. The console runs as `cloudops console` (waitress) in
a subprocess; screenshots of every step are kept in test-artifacts/console/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml
from console_support import PASSWORDS, console_config, database, scripted_router
from infra import REPO_ROOT, Process, cloudops_argv, free_port, http_ok, start_process
from playwright.sync_api import Browser, Page, sync_playwright

from flags import STAGE_KEY, SqlFlagStore
from router.contract import Path

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
CELL = 'td[data-application="api"][data-account="prod"][data-operation="resizeServerGroup"]'


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def console_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """`cloudops console` on a free port, configured by a YAML file as an operator would."""
    state = tmp_path_factory.mktemp("state")
    settings = {k.lower(): v for k, v in console_config(db_url).items() if k not in ("TESTING", "DATABASE_URL")}
    config = state / "console.yaml"
    config.write_text(yaml.safe_dump({"console": settings}))
    port = free_port()
    argv = cloudops_argv("console", "--port", str(port), "--db", db_url, "--config", str(config))
    proc = start_process(
        argv,
        port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
        env={"CLOUDOPS_STATE_DIR": str(state)},
        name="console",
        timeout=30,
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, console_server: Process) -> Iterator[Page]:
    context = browser.new_context(base_url=console_server.url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation prompts of console.js
    yield page
    context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Page, user: str) -> None:
    page.goto("/scopes")
    page.fill("#username", user)
    page.fill("#password", PASSWORDS[user])
    page.click("#sign-in")
    page.wait_for_selector("#matrix")


def _set_stage(page: Page, stage: str, reason: str, percent: str = "") -> None:
    page.goto("/scopes#editor")
    page.fill("#f-application", "api")
    page.select_option("#f-stage", stage)
    page.fill("#f-percent", percent)
    page.fill("#f-reason", reason)
    page.click("#save-stage")
    page.wait_for_selector(".flash.ok")


def _cell(page: Page) -> tuple[str, str]:
    stage = page.inner_text(f"{CELL} .stage")
    by = page.inner_text(f"{CELL} .by")
    return stage, by


def test_a_staged_rollout_and_the_kill_switch_through_the_browser(page: Page, db_url: str) -> None:
    store = SqlFlagStore(db_url)
    with scripted_router(db_url) as router:
        # Legacy: nothing configured; the matrix learns the scope from the operations the router records.
        assert set(router.run([f"legacy-{i}" for i in range(10)])) == {Path.LEGACY}
        _sign_in(page, "alice")
        assert page.inner_text("#signed-in-as") == "alice (editor)"
        assert _cell(page) == ("legacy", "default")
        _shot(page, "01-legacy")

        # Shadow: legacy stays authoritative; durable plans every operation in dry run, never executing it.
        _set_stage(page, "shadow", "shadow api before the canary")
        prop = store.find_property(STAGE_KEY, {"application": "api"})
        assert prop is not None and (prop.updated_by, prop.reason) == ("alice", "shadow api before the canary")
        assert _cell(page) == ("shadow", prop.id)
        assert set(router.run([f"shadow-{i}" for i in range(20)])) == {Path.LEGACY}
        assert (len(router.durable.executed), len(router.durable.dry_runs)) == (0, 20)
        _shot(page, "02-shadow")

        # Canary 10%: about a tenth of operations run on durable, each one always on the same path.
        _set_stage(page, "canary", "canary api at 10%", percent="10")
        assert _cell(page) == ("canary 10%", prop.id)
        canary_ids = [f"canary-{i}" for i in range(200)]
        paths = router.run(canary_ids)
        on_durable = paths.count(Path.DURABLE)
        assert 8 <= on_durable <= 34, on_durable
        assert len(router.durable.executed) == on_durable
        with scripted_router(db_url) as fresh:  # another router, no memory of these operations: same answer
            assert fresh.decide(canary_ids) == paths
        _shot(page, "03-canary-10")
        first_durable = canary_ids[paths.index(Path.DURABLE)]
        page.goto(f"/explain?application=api&operation=resizeServerGroup&operation_id={first_durable}")
        assert page.inner_text("#decision-path") == "durable"
        assert page.inner_text("#decision-shadow").startswith("legacy")
        _shot(page, "04-explain-canary")
        page.goto("/dashboard?hours=1")
        durable_row = page.locator('#scopes-stats tr[data-path="durable"] .ops')
        assert durable_row.inner_text() == str(on_durable)
        assert page.locator("#mismatches tr.field-diff").count() > 0
        _shot(page, "05-dashboard")

        # Durable: every operation on durable; legacy plans them in dry run for comparison.
        _set_stage(page, "durable", "canary healthy, api goes durable")
        assert _cell(page) == ("durable", prop.id)
        dry_before = len(router.legacy.dry_runs)
        assert set(router.run([f"durable-{i}" for i in range(20)])) == {Path.DURABLE}
        assert len(router.legacy.dry_runs) == dry_before + 20
        _shot(page, "06-durable")

        # The kill switch: a typed confirmation, then everything is legacy at once, with no shadows.
        page.goto("/scopes#kill-switch")
        page.fill("#kill-reason", "incident 42: back to legacy")
        page.fill("#kill-confirm", "legacy")
        page.click("#kill-engage")
        page.wait_for_selector("#kill-banner")
        assert "incident 42" in page.inner_text("#kill-banner")
        assert _cell(page) == ("legacy (kill switch)", "kill switch")
        dry_runs = (len(router.legacy.dry_runs), len(router.durable.dry_runs))
        assert set(router.run([f"killed-{i}" for i in range(20)])) == {Path.LEGACY}
        assert (len(router.legacy.dry_runs), len(router.durable.dry_runs)) == dry_runs
        _shot(page, "07-kill-switch")

        page.goto("/audit")
        actors = page.locator("#audit td.actor").all_inner_texts()
        reasons = page.locator("#audit td.reason").all_inner_texts()
        # Newest first: this story's four changes (other tests of the module may have added older ones).
        assert actors[:4] == ["alice"] * 4
        assert reasons[0] == "incident 42: back to legacy" and reasons[3] == "shadow api before the canary"
        _shot(page, "08-audit")
    store.close()


def test_a_viewer_sees_the_matrix_but_no_editor(page: Page) -> None:
    page.goto("/login")
    page.fill("#username", "victor")
    page.fill("#password", "not his password")
    page.click("#sign-in")
    assert page.inner_text("#login-error") == "wrong user name or password"
    _sign_in(page, "victor")
    assert page.locator("#stage-form").count() == 0 and page.locator("#kill-form").count() == 0
    _shot(page, "09-viewer")


def test_a_rollout_is_started_paused_resumed_and_aborted_with_its_timeline(page: Page, db_url: str) -> None:
    _sign_in(page, "alice")
    page.goto("/rollouts")
    page.fill('#start-rollout input[name="scope"]', "application=web")
    page.fill('#start-rollout input[name="steps"]', "5,50")
    page.fill('#start-rollout input[name="reason"]', "move web to durable")
    page.click("#start-rollout button")
    page.wait_for_selector("#timeline")
    assert page.inner_text("#rollout-status") == "running" and page.inner_text("#rollout-phase") == "shadow"
    for action in ("pause", "resume"):
        page.fill(f'#rollout-actions form[action$="/{action}"] input[name="reason"]', f"{action} from the browser")
        page.click(f"#rollout-{action}")
        page.wait_for_selector(f'#timeline li[data-kind="{action}d"]')
    page.fill('#rollout-actions form[action$="/abort"] input[name="reason"]', "not today")
    page.click("#rollout-abort")
    page.wait_for_selector('#timeline li[data-kind="aborted"]')
    kinds = [li.get_attribute("data-kind") for li in page.locator("#timeline li").all()]
    assert kinds == ["aborted", "resumed", "paused", "started"]
    assert "aborted by alice, back to legacy: not today" in page.inner_text("#timeline")
    store = SqlFlagStore(db_url)
    prop = store.find_property(STAGE_KEY, {"application": "web"})
    assert prop is not None and prop.value == "legacy"
    store.close()
    _shot(page, "10-rollout-timeline")


def test_the_operations_list_shows_failures_filters_them_and_updates_without_a_reload(page: Page, db_url: str) -> None:
    """The list in chromium: a refused operation shows as failed with its error, the status filter narrows the
    list to it, and an operation that fails later appears through console.js's poll of `/operations/rows`, with no
    page reload (a value set on `window` survives, and the page has had exactly one navigation)."""
    with scripted_router(db_url) as router:
        router.run(["ok-ops-1", "fail-ops-2"], application="opsapp")
        _sign_in(page, "victor")
        page.goto("/operations?application=opsapp")
        page.wait_for_selector('tr[data-operation-id="fail-ops-2"]')
        failed = page.locator('tr[data-operation-id="fail-ops-2"]')
        assert failed.locator("td.status").inner_text() == "failed"
        assert "capacity 9999 is over this account's limit <100>" in failed.locator("td.first-error").inner_text()
        assert page.locator('tr[data-operation-id="ok-ops-1"]').count() == 1

        page.select_option("select[name=status]", "failed")
        page.click("#operations-form button[type=submit]")
        page.wait_for_url("**/operations?*status=failed*")
        assert page.locator("#operation-rows tr").evaluate_all("rows => rows.map(r => r.dataset.operationId)") == [
            "fail-ops-2"
        ]
        page.evaluate("window.cloudopsMarker = 'still here'")

        router.run(["fail-ops-3", "ok-ops-4"], application="opsapp")
        page.wait_for_selector('tr[data-operation-id="fail-ops-3"]', timeout=15_000)
        ids = page.locator("#operation-rows tr").evaluate_all("rows => rows.map(r => r.dataset.operationId)")
        assert ids == ["fail-ops-3", "fail-ops-2"]  # newest first, and still only the failures
        assert page.evaluate("window.cloudopsMarker") == "still here"
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.get_attribute("#operation-rows", "data-poll-error") is None
        _shot(page, "10-operations")


def test_the_scope_page_shows_its_charts_and_its_rollouts_gate_table(page: Page, db_url: str) -> None:
    """A rollout on its own application, ticked after five shadowed operations: the scope page shows the gate
    table with what the shadow hold still needs, the thresholds, and the four SVG charts, drawn (not empty). The
    staged-rollout story leaves the kill switch engaged (no shadows would run): released here, engaged again after."""
    store = SqlFlagStore(db_url)
    engaged = [k for k in store.kill_switches() if k.engaged]
    for switch in engaged:
        store.set_kill_switch(False, key=None if switch.target == "*" else switch.target, actor="test", reason="charts")
    try:
        _scope_page_story(page, db_url)
    finally:
        for switch in engaged:
            key = None if switch.target == "*" else switch.target
            store.set_kill_switch(True, key=key, actor="test", reason=switch.reason)
        store.close()


def _scope_page_story(page: Page, db_url: str) -> None:
    _sign_in(page, "alice")
    page.goto("/rollouts")
    page.fill('#start-rollout input[name="scope"]', "application=chartapp")
    page.fill('#start-rollout input[name="reason"]', "charts")
    page.click("#start-rollout button")
    page.wait_for_selector("#timeline")
    with scripted_router(db_url) as router:
        router.run([f"chart-{i}" for i in range(5)], application="chartapp")
    page.click("#rollout-tick")
    page.wait_for_selector('#gate-table tr[data-check="mismatch"]')
    page.goto("/scope?application=chartapp&account=prod&operation=resizeServerGroup")
    mismatch = page.locator('#scope-gates tr[data-check="mismatch"]')
    assert mismatch.locator("td.verdict").inner_text() == "hold"
    assert mismatch.locator("td.needs").inner_text() == "needs 15 more matched comparisons"
    assert page.locator("#rollout-thresholds tr").count() > 5
    for chart in ("chart-split", "chart-failure-rate", "chart-shadow", "chart-latency"):
        box = page.locator(f"svg#{chart}").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
    assert (page.locator("svg#chart-split rect title").first.text_content() or "").endswith("legacy 5")
    assert page.locator("svg#chart-shadow rect").count() >= 1 and page.locator("svg#chart-latency circle").count() >= 2
    _shot(page, "11-scope-charts")
