"""Issue 20 in Debian's chromium, as a new user met it: 25 applications, five stage properties and 45 recorded
operations, the console running as `cloudops console` with the sim cloud's accounts. The unfiltered matrix shows
the account-scoped stages; a cell opens its scope page, whose editor link starts from the cell's stage; an edit
that overrides another property is reviewed first; a refused edit is shown at its field, focused and announced,
with what was typed kept (the kill switch's reason too); unknown names need a confirmation; search, paging and
folded columns keep the page short; a rollout that drives a scope is offered to be paused first. Screenshots go
to test-artifacts/console/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import yaml
from console_support import PASSWORDS, console_config, database
from infra import REPO_ROOT, Process, cloudops_argv, free_port, http_ok, start_process
from playwright.sync_api import Browser, Page, sync_playwright

from flags import STAGE_KEY, SqlFlagStore
from rollouts.controller import RolloutController
from rollouts.model import RolloutPlan, RolloutStatus
from router.tables import operation_outcomes

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
APPS = [f"svc-{i:02d}" for i in range(22)] + ["billing", "checkout", "search"]
OPERATIONS = ("createServerGroup", "resizeServerGroup", "disableServerGroup")


def _seed(url: str) -> dict[str, str]:
    """The issue's console: 45 operations of the 25 applications, five stage properties; returns their ids."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for i in range(45):
            conn.execute(
                operation_outcomes.insert().values(
                    operation_id=f"seed-{i}",
                    operation=OPERATIONS[i % 3],
                    stage_type="deploy",
                    account=("prod", "test")[i % 2],
                    application=APPS[i % 25],
                    provider="aws",
                    path="legacy",
                    stage="legacy",
                    status="failed" if i == 1 else "succeeded",
                    error_kind="infrastructure" if i == 1 else None,
                    errors=[],
                    decision={},
                    duration_s=0.2,
                    finished_at=now,
                )
            )
    engine.dispose()
    store = SqlFlagStore(url)
    put = [
        ("billing", "canary", {"application": "billing", "account": "test"}, 25.0),
        ("checkout", "shadow", {"application": "checkout", "account": "test"}, None),
        ("search", "durable", {"application": "search", "account": "test"}, None),
        ("svc-03", "shadow", {"application": "svc-03"}, None),
        ("svc-04", "durable", {"application": "svc-04", "stage_type": "bake"}, None),
    ]
    ids = {}
    for name, stage, scope, percent in put:
        ids[name] = store.set_property(STAGE_KEY, stage, scope, actor="setup", reason="setup", percent=percent).id
    store.close()
    return ids


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database(tmp_path_factory.mktemp("matrix-browser"))


@pytest.fixture(scope="module")
def seeded(db_url: str) -> dict[str, str]:
    return _seed(db_url)


@pytest.fixture(scope="module")
def console_server(db_url: str, seeded: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    state = tmp_path_factory.mktemp("state")
    settings = {k.lower(): v for k, v in console_config(db_url).items() if k not in ("TESTING", "DATABASE_URL")}
    config = state / "console.yaml"
    config.write_text(yaml.safe_dump({"console": {**settings, "cloud": "sim"}}))
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
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/scopes")
    page.fill("#username", "alice")
    page.fill("#password", PASSWORDS["alice"])
    page.click("#sign-in")
    page.wait_for_selector("#matrix")
    yield page
    context.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _cell(app: str, account: str, operation: str) -> str:
    return f'td[data-application="{app}"][data-account="{account}"][data-operation="{operation}"]'


def _focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def test_account_scoped_stages_show_unfiltered_and_a_cell_edit_starts_from_its_stage(
    page: Page, seeded: dict[str, str]
) -> None:
    """The first bullet of issue 20: these three read "legacy · default" until one filtered on the account."""
    for app, label in (("billing", "canary 25%"), ("checkout", "shadow"), ("search", "durable")):
        assert page.inner_text(f"{_cell(app, 'test', 'createServerGroup')} .stage") == label
        assert page.inner_text(f"{_cell(app, 'test', 'destroyServerGroup')} .by") == seeded[app]
        assert page.inner_text(f"{_cell(app, 'prod', 'createServerGroup')} .stage") == "legacy"
    assert page.locator("#matrix thead th[data-operation]").count() >= 10  # a column per catalogue operation
    badge = page.locator(f"{_cell('svc-04', 'prod', 'resizeServerGroup')} .badge.narrower")
    assert badge.inner_text() == f"{seeded['svc-04']}: durable for stage_type=bake"
    failed = page.inner_text(f"{_cell('svc-01', 'test', 'resizeServerGroup')} .num.failures")
    assert failed == "fail 100.0%"
    _shot(page, "matrix-01-unfiltered")
    # The editor is a Tab and an Enter away, however long the matrix is.
    page.keyboard.press("Tab")
    assert _focused(page) == "skip-editor"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert _focused(page) == "f-application"

    page.click(f"{_cell('billing', 'test', 'resizeServerGroup')} a.stage")
    page.wait_for_selector("#scope-stage")
    assert page.inner_text("#scope-stage") == "canary 25%"
    assert page.locator(f'#scope-candidates tr[data-property="{seeded["billing"]}"]').count() == 1
    _shot(page, "matrix-02-scope-page")
    page.click("#edit-cell")
    page.wait_for_selector("#stage-form")
    assert page.input_value("#f-stage") == "canary" and page.input_value("#f-percent") == "25"
    assert page.input_value("#f-operation") == "resizeServerGroup" and page.input_value("#f-account") == "test"
    page.fill("#f-percent", "50")
    page.fill("#f-reason", "resizes of billing/test go faster")
    page.click("#save-stage")
    page.wait_for_selector("#review")
    notice = page.inner_text('#review-notices li[data-kind="overrides"]')
    assert notice.startswith(f"this overrides {seeded['billing']} (application=billing, account=test: canary 25%)")
    _shot(page, "matrix-03-review")
    page.click("#save-stage")
    page.wait_for_selector(".flash.ok")
    cell = _cell("billing", "test", "resizeServerGroup")
    assert page.inner_text(f"{cell} .stage") == "canary 50%"
    assert page.inner_text(f"{_cell('billing', 'test', 'createServerGroup')} .stage") == "canary 25%"


def test_a_refused_edit_is_shown_at_its_field_focused_and_announced_with_what_was_typed(page: Page) -> None:
    page.fill("#f-application", "checkout")
    page.select_option("#f-stage", "durable")
    page.fill("#f-percent", "10")
    page.fill("#f-reason", "checkout to durable")
    page.click("#save-stage")
    page.wait_for_selector("#err-f-percent")
    assert _focused(page) == "f-percent"
    field = page.locator("#f-percent")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby") == "err-f-percent"
    message = page.locator("#err-f-percent")
    assert message.get_attribute("role") == "alert" and "applies to a canary only" in message.inner_text()
    assert message.is_visible() and page.evaluate(
        "(() => { const r = document.getElementById('err-f-percent').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; })()"
    )
    assert page.input_value("#f-reason") == "checkout to durable" and page.input_value("#f-application") == "checkout"
    _shot(page, "matrix-04-refused-percent")

    page.fill("#f-percent", "")
    page.fill("#f-application", "chekout")
    page.click("#save-stage")
    page.wait_for_selector("#err-f-application")
    assert _focused(page) == "f-application"
    assert "did you mean 'checkout'?" in page.inner_text("#err-f-application")
    page.fill("#f-application", "checkout")
    page.click("#save-stage")
    page.wait_for_selector("#review")  # a new application-wide property: the test account keeps its own
    assert "is narrower and stays in force" in page.inner_text("#review-notices")
    page.click("#save-stage")
    page.wait_for_selector(".flash.ok")
    assert page.inner_text(f"{_cell('checkout', 'prod', 'createServerGroup')} .stage") == "durable"
    assert page.inner_text(f"{_cell('checkout', 'test', 'createServerGroup')} .stage") == "shadow"

    page.fill("#kill-reason", "incident 12")
    page.fill("#kill-confirm", "yes")
    page.click("#kill-engage")
    page.wait_for_selector("#err-kill-confirm")
    assert _focused(page) == "kill-confirm" and page.input_value("#kill-reason") == "incident 12"
    assert page.locator("#kill-banner").count() == 0
    _shot(page, "matrix-05-kill-switch-refused")


def test_search_paging_and_folded_columns_keep_the_page_short(page: Page) -> None:
    page.fill("#q-search", "svc-1")
    page.fill("#q-per_page", "5")
    page.click("#filter")
    page.wait_for_selector("#pager")
    apps = {r.get_attribute("data-application") for r in page.locator("#matrix tbody tr").all()}
    assert apps == {"svc-10", "svc-11", "svc-12", "svc-13", "svc-14"}
    assert page.inner_text("#page-count") == "2"
    page.click("#next-page")
    page.wait_for_selector("#pager")
    assert page.inner_text("#page-number") == "2"
    page.select_option("#q-account", "test")
    page.click("#filter")
    page.wait_for_selector("#pager")
    assert {r.get_attribute("data-account") for r in page.locator("#matrix tbody tr").all()} == {"test"}
    page.click('#matrix thead th[data-operation="createServerGroup"] a.fold')
    page.wait_for_selector('#matrix thead th.folded[data-operation="createServerGroup"]')
    assert page.locator("td.cell.folded").count() == page.locator("#matrix tbody tr").count()
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2500, height
    _shot(page, "matrix-06-search-page-fold")


def test_editing_a_scope_a_rollout_drives_offers_to_pause_it_first(page: Page, db_url: str) -> None:
    store = SqlFlagStore(db_url)
    controller = RolloutController(store.engine, store)
    rollout = controller.start(RolloutPlan(scope={"application": "svc-07"}), actor="bob", reason="move svc-07")
    page.goto("/scopes?search=svc-07")
    assert page.inner_text(f"{_cell('svc-07', 'prod', 'createServerGroup')} .badge.rollout").startswith(rollout.id)
    page.fill("#f-application", "svc-07")
    page.select_option("#f-stage", "legacy")
    page.fill("#f-reason", "hold svc-07")
    page.click("#save-stage")
    page.wait_for_selector("#pause-and-save")
    assert f"rollout {rollout.id} (running, at shadow) manages this scope" in page.inner_text("#review-notices")
    _shot(page, "matrix-07-rollout-review")
    page.click("#pause-and-save")
    page.wait_for_selector(".flash.ok")
    assert controller.get(rollout.id).status is RolloutStatus.PAUSED
    prop = store.find_property(STAGE_KEY, {"application": "svc-07"})
    assert prop is not None and (prop.value, prop.updated_by) == ("legacy", "alice")
    store.close()
