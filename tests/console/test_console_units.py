"""The console's pure cores: configuration layers, identities, form and body parsing, explain, the dashboard
roll-up and the audit diff (the matrix and the edit review: test_console_matrix_units.py). No Flask app, no
database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

import console
import console.api
import migrations
from console.audit import audit_entries, field_changes
from console.config import load_settings
from console.edits import kill_switch_from, parse_expiry, property_from_json, stage_from_form
from console.errors import ConfigError, InputError
from console.explaining import explain_request, parse_explain
from console.identity import Role, check_login, find_token, hash_password, hash_token, parse_tokens, parse_users
from console.queries import RouterTables, Window
from console.rollup import DEFAULT_GROUP_BY
from flags import STAGE_KEY, FlagTestData
from router.config import RouterConfig
from router.contract import OperationRequest, Path
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.policy import DEFAULT_SHADOW_SAMPLE_PERCENT
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.tables import operation_outcomes, shadow_comparisons
from router.testing import ScriptedRunner, succeed_with_plan

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_the_public_api_is_create_app() -> None:
    assert console.__all__ == ["create_app"]
    assert console.api.__all__ == ["bp", "caller", "json_body"]


# -- configuration ------------------------------------------------------------------------------------------------


def test_config_layers_defaults_then_file_then_environment_then_given(tmp_path: FsPath) -> None:
    file = tmp_path / "console.yaml"
    file.write_text(
        "router:\n  legacy_url: http://x\n"
        "console:\n  temporal_ui_url: https://temporal.example\n  temporal_namespace: from-file\n"
        "  dashboard_window_hours: 6\n  database_url: sqlite:///file.db\n"
    )
    env = {
        "CLOUDOPS_DATABASE_URL": "sqlite:///cloudops.db",
        "CLOUDOPS_TEMPORAL_NAMESPACE": "from-cloudops-env",
        "CONSOLE_TEMPORAL_NAMESPACE": "from-console-env",
        "CONSOLE_TEMPORAL_TLS": "true",
        "CONSOLE_CONFIG_FILE": str(file),
    }
    settings = load_settings({"DASHBOARD_WINDOW_HOURS": 2}, env)
    assert settings.temporal.ui_url == "https://temporal.example"  # file over defaults
    assert settings.temporal.namespace == "from-console-env"  # CONSOLE_ over CLOUDOPS_ over the file
    assert settings.database_url == "sqlite:///cloudops.db"  # environment over the file
    assert settings.temporal.tls is True  # JSON-decoded from the environment
    assert settings.dashboard_window_hours == 2.0  # the given mapping last
    assert settings.temporal.workflow_url("cloudop-a/b") == (
        "https://temporal.example/namespaces/from-console-env/workflows/cloudop-a%2Fb"
    )
    defaults = load_settings({}, {"CLOUDOPS_STATE_DIR": str(tmp_path)})
    assert defaults.database_url == f"sqlite:///{tmp_path / 'cloudops.db'}"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"COLOUR": "blue"}, "unknown console setting 'colour'"),
        ({"TEMPORAL_TIMEOUT_S": "soon"}, "temporal_timeout_s must be a finite number"),
        ({"TEMPORAL_UI_URL": "temporal:8233"}, "must be an http(s) URL"),
        ({"USERS": {"alice": {"role": "editor", "password_hash": "hunter2"}}}, "plaintext password"),
        ({"USERS": {"alice": {"role": "admin", "password_hash": "pbkdf2:sha256:1$a$b"}}}, "role must be one of"),
        ({"TOKENS": {"ci": {"sha256": "abc"}}}, "64-hex-digit SHA-256"),
        ({"USERS": ["alice"]}, "must be a mapping"),
        ({"CONFIG_FILE": "/nonexistent/console.yaml"}, "cannot read the console configuration file"),
    ],
)
def test_bad_configuration_names_the_setting(given: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        load_settings(given, {})
    assert message in caught.value.message


def test_a_config_file_that_is_not_valid_says_so(tmp_path: FsPath) -> None:
    file = tmp_path / "console.json"
    file.write_text("{nope")
    with pytest.raises(ConfigError, match="is not valid .json"):
        load_settings({"CONFIG_FILE": str(file)}, {})


# -- identities ---------------------------------------------------------------------------------------------------


def test_passwords_are_salted_scrypt_hashes_and_tokens_sha256() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt:") and first != second and check_password_hash(first, "s3cret")
    users = parse_users({"alice": {"role": "editor", "password_hash": first}})
    assert check_login(users, "alice", "s3cret") == users["alice"] and users["alice"].role is Role.EDITOR
    assert check_login(users, "alice", "wrong") is None and check_login(users, "bob", "s3cret") is None
    tokens = parse_tokens([{"name": "ci", "sha256": hash_token("tok-1")}, {"name": "ro", "sha256": hash_token("t2")}])
    assert find_token(tokens, "tok-1") == tokens[0] and tokens[0].role is Role.VIEWER
    assert find_token(tokens, "tok-2") is None
    assert Role.EDITOR.allows(Role.VIEWER) and not Role.VIEWER.allows(Role.EDITOR)


# -- parsing edits ------------------------------------------------------------------------------------------------


def test_the_stage_form_refuses_a_percent_unless_canary_and_parses_expiry() -> None:
    form = {"application": "api", "stage": "durable", "reason": " go ", "expires": "2h"}
    edit = stage_from_form(form, NOW)
    assert (edit.key, edit.value, dict(edit.scope), edit.percent, edit.bucket_by) == (
        STAGE_KEY,
        "durable",
        {"application": "api"},
        None,
        None,
    )
    assert edit.reason == "go" and edit.expires_at == NOW + timedelta(hours=2)
    with pytest.raises(InputError, match="a percent applies to a canary only") as caught:
        stage_from_form({**form, "percent": "10"}, NOW)  # it used to be dropped without a word
    assert caught.value.field == "percent"
    with pytest.raises(InputError, match="bucket by applies to a canary only") as caught:
        stage_from_form({**form, "bucket_by": "x"}, NOW)
    assert caught.value.field == "bucket_by"
    canary = stage_from_form({**form, "stage": "canary", "percent": "12.5%", "bucket_by": "x"}, NOW)
    assert (canary.percent, canary.bucket_by) == (12.5, "x")
    assert parse_expiry("2030-02-01T10:00", NOW) == datetime(2030, 2, 1, 10, tzinfo=UTC)
    assert parse_expiry("", NOW) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "shadow"}, "reason"),
        ({"value": "shadow", "reason": "  "}, "reason"),
        ({"reason": "r"}, "value"),
        ({"value": "shadow", "reason": "r", "scope": {"region": "eu"}}, "scope"),
        ({"value": "shadow", "reason": "r", "scope": "api"}, "scope"),
        ({"value": "shadow", "reason": "r", "percent": "lots"}, "percent"),
        ({"value": "shadow", "reason": "r", "percent": True}, "percent"),
        ({"value": "shadow", "reason": "r", "expires": "tomorrow"}, "expires"),
        ({"value": "shadow", "reason": "r", "expectedVersion": 0}, "expectedVersion"),
        ({"value": "shadow", "reason": "r\x00"}, "reason"),
        (["value"], "body"),
    ],
)
def test_bad_property_bodies_name_the_field(body: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        property_from_json(body, NOW)
    assert caught.value.field == field


def test_the_kill_switch_form_needs_the_typed_word_but_the_api_does_not() -> None:
    with pytest.raises(InputError, match="type 'legacy' to confirm"):
        kill_switch_from({"engaged": "true", "reason": "r", "confirm": "yes"}, confirm_required=True)
    assert kill_switch_from({"engaged": "true", "reason": "r", "confirm": "LEGACY"}, confirm_required=True).engaged
    assert kill_switch_from({"engaged": True, "reason": "r"}, confirm_required=False).engaged
    released = kill_switch_from({"engaged": "false", "reason": "r"}, confirm_required=True)
    assert not released.engaged and released.key is None


# -- the matrix and explain ---------------------------------------------------------------------------------------


def test_explain_routes_a_canary_by_its_sticky_bucket() -> None:
    snapshot = FlagTestData().stage("canary", percent=50, application="api").snapshot()
    paths = set()
    for i in range(40):
        request = parse_explain({"application": "api", "operation_id": f"op-{i}"})
        explained = explain_request(snapshot, request)
        assert explained.route is not None
        again = explain_request(snapshot, request).route
        assert again is not None and again.primary is explained.route.primary  # sticky
        assert explained.route.shadow is not None and explained.route.shadow is not explained.route.primary
        paths.add(explained.route.primary)
    assert paths == {Path.LEGACY, Path.DURABLE}
    other_key = explain_request(snapshot, parse_explain({"key": "cloudops.shadow.sample_percent"}))
    assert other_key.route is None and other_key.explanation.decision.value == 0


class _NoRecords:
    def record_outcome(self, record: object) -> None: ...
    def record_comparison(self, record: object) -> None: ...


@pytest.mark.parametrize("sample", [None, 0, 30, 100], ids=["no sample property", "0%", "30%", "100%"])
@pytest.mark.parametrize("stage", ["shadow", "canary", "durable"])
def test_explain_routes_as_the_router_decides(stage: str, sample: int | None) -> None:
    td = FlagTestData().stage(stage, percent=50 if stage == "canary" else None, application="api")
    if sample is not None:
        td.set("cloudops.shadow.sample_percent", sample, application="api")
    plan = {"operation": "resizeServerGroup", "mutations": [], "compensateOnFailure": False, "facts": {}}
    metrics = RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=lambda record: None, metrics=metrics)
    router = RoutingRunner(
        legacy=ScriptedRunner(Path.LEGACY, succeed_with_plan(plan)),
        durable=ScriptedRunner(Path.DURABLE, succeed_with_plan(plan)),
        flags=td.client(),
        owners=InMemoryOwnership(),
        records=_NoRecords(),
        shadows=shadows,
        metrics=metrics,
    )
    try:
        for i in range(60):
            op = OperationRequest(f"op-{i}", "resizeServerGroup", "resizeServerGroup", "prod", "api", "aws", {})
            query = {**op.dimensions(), "operation_id": op.operation_id}
            explained = explain_request(td.snapshot(), parse_explain(query))
            decided = router.decide(op)
            assert explained.route is not None
            assert (explained.route.primary, explained.route.shadow) == (decided.primary, decided.shadow), op
    finally:
        shadows.close()
    expected = DEFAULT_SHADOW_SAMPLE_PERCENT if sample is None else sample
    assert explained.shadow_sample_percent == expected
    assert RouterConfig().shadow_default_sample_percent == DEFAULT_SHADOW_SAMPLE_PERCENT
    with pytest.raises(InputError):
        parse_explain({"application": "x" * 201})


# -- dashboard roll-up and audit ------------------------------------------------------------------------------------


_DIMS = {"operation": "resize", "account": "prod", "provider": "aws", "stage_type": "s"}


def _outcome(path: str, status: str, duration: float, app: str = "api") -> dict[str, Any]:
    return {
        "operation_id": f"op-{uuid.uuid4().hex[:8]}",
        **_DIMS,
        "application": app,
        "path": path,
        "stage": "canary",
        "status": status,
        "error_kind": None if status == "succeeded" else "business",
        "errors": [],
        "decision": {},
        "fallback": False,
        "duration_s": duration,
        "finished_at": datetime.now(UTC) - timedelta(minutes=1),
    }


def _comparison(outcome: str) -> dict[str, Any]:
    return {
        "operation_id": f"cmp-{uuid.uuid4().hex[:8]}",
        **_DIMS,
        "application": "api",
        "control_path": "legacy",
        "candidate_path": "durable",
        "outcome": outcome,
        "diffs": [],
        "control": {},
        "candidate": {},
        "control_duration_s": 0.1,
        "candidate_duration_s": 0.1,
        "compared_at": datetime.now(UTC) - timedelta(minutes=1),
    }


def test_the_dashboard_counts_paths_failures_latencies_and_the_gates_match_rate(tmp_path: FsPath) -> None:
    """The dashboard's scope statistics, read through the router's read model from a migrated database."""
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    outcomes = [_outcome("legacy", "succeeded", d) for d in (1.0, 2.0, 3.0, 4.0)]
    outcomes += [_outcome("durable", "failed", 10.0), _outcome("durable", "succeeded", 20.0)]
    outcomes += [_outcome("legacy", "succeeded", 1.0, app="web")]
    comparisons = [_comparison("match") for _ in range(6)]
    comparisons += [_comparison("mismatch"), _comparison("ignored"), _comparison("candidate_error")]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), outcomes)
        conn.execute(shadow_comparisons.insert(), comparisons)
    tables, window = RouterTables(engine), Window(hours=1, filters={})
    try:
        api, web = tables.scope_stats(window, DEFAULT_GROUP_BY)
        [everything] = tables.scope_stats(window, ())
        with pytest.raises(ValueError, match="cannot group by 'region'"):
            tables.scope_stats(window, ("region",))
    finally:
        engine.dispose()
    assert api.scope == {"application": "api", "operation": "resize"} and api.operations == 6
    legacy, durable = api.paths["legacy"], api.paths["durable"]
    assert (legacy.operations, legacy.failures) == (4, 0)
    assert legacy.latency == pytest.approx({"p50": 2.5, "p95": 3.85, "p99": 3.97})
    assert durable.failure_rate == 0.5 and durable.error_kinds == {"business": 1}
    assert 0 < durable.failure_interval.low < 0.5 < durable.failure_interval.high < 1
    assert (
        api.shadow.comparisons == 9 and api.shadow.match_rate == 6 / 8 and api.shadow.mismatch_rate == 1 / 7
    )  # mismatch / (match + mismatch)
    assert api.shadow.candidate_error_rate == 1 / 9
    assert web.shadow.comparisons == 0 and web.shadow.match_rate is None
    assert everything.scope == {} and everything.operations == 7


def test_audit_diffs_leave_out_bookkeeping_and_mark_what_can_be_restored() -> None:
    td = FlagTestData().stage("shadow", application="api").stage("canary", percent=5, application="api")
    changes = td.store.history()
    live = td.store.list_properties()
    diff = {
        (d.path, json.dumps(d.before), json.dumps(d.after)) for d in field_changes(changes[1].after, changes[0].after)
    }
    assert diff == {("value", '"shadow"', '"canary"'), ("percent", "null", "5.0")}
    latest, first = audit_entries(changes, live)
    assert (latest.current, latest.restorable, first.current, first.restorable) == (True, False, False, True)
    assert [(d.path, d.before) for d in first.diff] == [("key", None), ("scope", None), ("value", None)]


def test_every_visible_form_field_has_a_label_for_screen_readers() -> None:
    """Issue 20, item 6: per-row inputs labelled. Every visible input, select and textarea in the templates either
    sits inside a <label>, has an id some <label for> names, or carries an aria-label."""
    import re
    from pathlib import Path

    templates = Path(console.__file__).parent / "templates"
    unlabelled = []
    for path in sorted(templates.glob("*.html")):
        text = path.read_text()
        named = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', text))
        for field in re.finditer(r"<(input|select|textarea)\b[^>]*>", text):
            tag = field.group(0)
            if 'type="hidden"' in tag or "aria-label" in tag or 'type="submit"' in tag:
                continue
            ident = re.search(r'\bid="([^"]+)"', tag)
            before = text[: field.start()]
            inside_label = before.rfind("<label") > before.rfind("</label>")
            if not inside_label and not (ident and ident.group(1) in named):
                unlabelled.append(f"{path.name}: {tag[:80]}")
    assert unlabelled == []
