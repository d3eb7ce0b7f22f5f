"""The shadow-run report from a real migrated SQLite database, in JSON, Markdown and HTML."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import migrations
from cloudops.report import ReportFormat, ReportUnavailable, ScopeVerdict, build_report, render
from flags import SqlFlagStore
from rollouts.controller import RolloutController
from rollouts.gates import Thresholds
from rollouts.model import RolloutPlan
from rollouts.stats import percentiles, wilson_interval
from router.tables import operation_outcomes, shadow_comparisons

NOW = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>|pipe'


def _dims(operation: str, application: str, account: str = "prod", provider: str = "aws") -> dict[str, str]:
    return {
        "operation": operation,
        "application": application,
        "account": account,
        "provider": provider,
        "stage_type": operation,
    }


def _outcomes(engine: sa.Engine, dims: dict[str, str], path: str, durations: list[float], failures: int) -> None:
    rows: list[dict[str, Any]] = [
        {
            "operation_id": f"{dims['application']}-{path}-{i}",
            **dims,
            "path": path,
            "stage": "canary",
            "status": "failed" if i < failures else "succeeded",
            "error_kind": "infrastructure" if i < failures else None,
            "errors": [],
            "decision": {},
            "fallback": path == "legacy" and i == len(durations) - 1,
            "duration_s": d,
            "finished_at": NOW - timedelta(minutes=30),
        }
        for i, d in enumerate(durations)
    ]
    with engine.begin() as conn:
        conn.execute(operation_outcomes.insert(), rows)


def _comparisons(engine: sa.Engine, dims: dict[str, str], outcome: str, n: int, diffs: list[Any] | None = None) -> None:
    rows = [
        {
            "operation_id": f"{dims['application']}-cmp-{outcome}-{i}",
            **dims,
            "control_path": "legacy",
            "candidate_path": "durable",
            "outcome": outcome,
            "diffs": diffs or [],
            "control": {},
            "candidate": {},
            "control_duration_s": 1.0,
            "candidate_duration_s": 0.3,
            "compared_at": NOW - timedelta(minutes=20),
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(shadow_comparisons.insert(), rows)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlFlagStore]:
    url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'report.db'}"
    migrations.upgrade(url)
    flags = SqlFlagStore(url)
    engine = flags.engine
    rng = random.Random(3)
    # api: a shadow that agrees: ready for a canary.
    api = _dims("createServerGroup", "api")
    _comparisons(engine, api, "match", 60)
    _comparisons(
        engine, api, "ignored", 4, [{"path": "plan.tags.build", "control": 1, "candidate": 2, "ignoredBy": "noise"}]
    )
    _outcomes(engine, api, "legacy", [rng.uniform(0.5, 1.5) for _ in range(64)], failures=2)
    # billing: a canary whose durable path fails far more: roll back.
    billing = _dims("resizeServerGroup", "billing")
    _outcomes(engine, billing, "legacy", [rng.uniform(0.5, 1.5) for _ in range(80)], failures=1)
    _outcomes(engine, billing, "durable", [rng.uniform(0.5, 1.5) for _ in range(80)], failures=25)
    _comparisons(engine, billing, "match", 30)
    capacity = {"path": "plan.mutations[0].params.capacity.desired", "control": 3, "candidate": 4, "ignoredBy": None}
    hostile = {"path": HOSTILE, "control": HOSTILE, "candidate": {"nested": HOSTILE}, "ignoredBy": None}
    _comparisons(engine, billing, "mismatch", 6, [capacity, hostile])
    _comparisons(engine, billing, "candidate_timeout", 2)
    # web: too little to say: hold.
    _comparisons(engine, _dims("disableServerGroup", "web"), "match", 3)
    # Outside the window: never counted.
    old = {**api, "application": "ancient"}
    with engine.begin() as conn:
        conn.execute(
            shadow_comparisons.insert(),
            [
                {
                    "operation_id": "old",
                    **old,
                    "control_path": "legacy",
                    "candidate_path": "durable",
                    "outcome": "mismatch",
                    "diffs": [],
                    "control": {},
                    "candidate": {},
                    "control_duration_s": 1.0,
                    "candidate_duration_s": 1.0,
                    "compared_at": NOW - timedelta(days=3),
                }
            ],
        )
    controller = RolloutController(engine, flags, clock=lambda: NOW - timedelta(minutes=10))
    controller.start(RolloutPlan(scope={"application": "api"}, min_ops=10, min_duration_s=60), actor="alice")
    yield flags
    flags.close()


def _report(store: SqlFlagStore) -> Any:
    return build_report(store.engine, since=NOW - timedelta(hours=24), until=NOW, thresholds=Thresholds())


def test_json_report_has_every_number(store: SqlFlagStore) -> None:
    data = json.loads(render(_report(store), ReportFormat.JSON))
    scopes = {s["scope"]["application"]: s for s in data["scopes"]}
    assert set(scopes) == {"api", "billing", "web"}
    assert {a: s["verdict"]["verdict"] for a, s in scopes.items()} == {
        "api": "ready",
        "billing": "roll_back",
        "web": "hold",
    }
    # The verdicts that decide are the flag scopes' (here the one rollout's, application=api); the finer rows
    # are its breakdown and the rows no flag scope covers.
    assert data["verdictCounts"] == {"ready": 1, "hold": 0, "roll_back": 0}
    assert data["breakdownVerdictCounts"] == {"ready": 1, "hold": 1, "roll_back": 1}
    assert [f["label"] for f in data["flagScopes"]] == ["application=api"]
    assert [k["application"] for k in data["flagScopes"][0]["breakdown"]] == ["api"]
    assert sorted(k["application"] for k in data["unscoped"]) == ["billing", "web"]
    billing = scopes["billing"]
    durable = billing["paths"]["durable"]
    expected = wilson_interval(25, 80)
    assert durable["total"] == 80 and durable["failures"] == 25
    assert durable["failureRate"]["low"] == pytest.approx(expected.low)
    assert durable["failureRate"]["high"] == pytest.approx(expected.high)
    assert set(durable["latencyS"]) == {"p50", "p95", "p99"}
    assert billing["paths"]["legacy"]["fallbacks"] == 1
    assert billing["shadow"]["counts"] == {
        "match": 30,
        "mismatch": 6,
        "ignored": 0,
        "candidate_error": 0,
        "candidate_timeout": 2,
        "control_error": 0,
    }
    assert billing["shadow"]["rates"]["mismatch"] == pytest.approx(6 / 38)
    assert billing["verdict"]["reasons"][0].startswith("failure rate: durable")
    fields = billing["topDiffFields"]
    assert [f["path"] for f in fields] == [HOSTILE, "plan.mutations[0].params.capacity.desired"]
    assert all(f["mismatches"] == 6 and f["ignored"] == 0 and len(f["examples"]) == 3 for f in fields)
    assert fields[1]["examples"][0]["control"] == 3 and fields[1]["examples"][0]["candidate"] == 4
    api = scopes["api"]
    assert api["verdict"]["gate"]["mode"] == "shadow"
    [ignored] = api["topDiffFields"]
    assert (ignored["path"], ignored["mismatches"], ignored["ignored"]) == ("plan.tags.build", 0, 4)
    assert [(e["control"], e["candidate"], e["ignoredBy"]) for e in ignored["examples"]] == [(1, 2, "noise")] * 3
    overall = data["overall"]
    assert overall["label"] == "all scopes"
    assert overall["paths"]["legacy"]["total"] == 64 + 80
    assert overall["shadow"]["total"] == 60 + 4 + 38 + 3
    assert data["rollouts"][0]["scope"] == {"application": "api"}
    assert data["rollouts"][0]["timeline"][0]["kind"] == "started"
    assert data["percentileMethod"].startswith("linear")


def test_markdown_report(store: SqlFlagStore) -> None:
    text = render(_report(store), ReportFormat.MARKDOWN)
    assert text.startswith("# Shadow-run report")
    for heading in (
        "## Flag scopes in use",
        "## Breakdown",
        "## Each flag scope",
        "## All scopes together",
        "## Rollouts",
    ):
        assert heading in text
    assert "### resizeServerGroup / aws / prod / billing: ROLL BACK" in text
    assert "### createServerGroup / aws / prod / api: READY" in text
    assert "### disableServerGroup / aws / prod / web: HOLD" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\\|pipe" in text  # a pipe in recorded text cannot break a table
    for line in text.splitlines():
        if line.startswith("| "):
            assert line.endswith(" |"), line


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.text: list[str] = []
        self.svg_titles = 0
        self._in_svg_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src", "xlink:href", "action") and value is not None:
                self.urls.append(value)
        if tag == "title" and "svg" in self.tags:
            self.svg_titles += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_one_self_contained_file(store: SqlFlagStore) -> None:
    report = _report(store)
    html = render(report, ReportFormat.HTML)
    parsed = _Structure()
    parsed.feed(html)
    parsed.close()
    tags = parsed.tags
    assert html.startswith("<!DOCTYPE html>")
    assert tags.count("html") == 1 and tags.count("style") == 1
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert all(url.startswith("#") for url in parsed.urls), parsed.urls  # only in-page anchors
    assert "http://www.w3.org/2000/svg" in html  # the SVG namespace is a name, never fetched
    assert html.count("http") == html.count("http://www.w3.org/2000/svg")
    # Three charts per breakdown row, per flag scope, plus the overall section.
    assert tags.count("svg") == 3 * (len(report.scopes) + len(report.flag_scopes) + 1)
    assert {"summary", "overall", "scopes", "rollouts", "scope-1", "scope-2", "scope-3"} <= parsed.ids
    text = "".join(parsed.text)
    assert HOSTILE in text  # shown as text...
    assert "alert" not in "".join(tags)  # ...never as markup
    assert "roll back" in text and "ready" in text and "hold" in text
    assert "Wilson" in text and "anytime-valid" in text and "within 2.0% (points)" in text


def test_report_verdicts_use_the_rollout_gates(store: SqlFlagStore) -> None:
    report = _report(store)
    billing = next(s for s in report.scopes if s.key and s.key.application == "billing")
    assert billing.verdict.verdict is ScopeVerdict.ROLL_BACK
    check = billing.verdict.gate.check("failure_rate")
    assert check is not None and check.evidence["candidateFailures"] == 25
    query = sa.select(operation_outcomes.c.duration_s).where(
        operation_outcomes.c.application == "billing", operation_outcomes.c.path == "durable"
    )
    with store.engine.connect() as conn:
        durations = [float(d) for d in conn.execute(query).scalars()]
    assert billing.durable.latency == percentiles(durations)


def test_an_empty_window_and_a_database_without_tables(store: SqlFlagStore, tmp_path: Path) -> None:
    empty = build_report(store.engine, since=NOW - timedelta(days=30), until=NOW - timedelta(days=20))
    assert empty.scopes == () and any("no operations" in n for n in empty.notes)
    for fmt in ReportFormat:
        assert render(empty, fmt)
    bare = sa.create_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    with pytest.raises(ReportUnavailable, match="cloudops db upgrade"):
        build_report(bare, since=NOW - timedelta(hours=1), until=NOW)
    bare.dispose()


def test_the_report_says_what_share_of_the_gateways_traffic_the_durable_path_could_take(tmp_path: Path) -> None:
    from gateway.tables import gateway_admissions

    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url)
    rows = [
        ("l1", "deployManifest", False, False, "unknown_operation"),
        ("l2", "deployManifest", False, False, "unknown_operation"),
        ("l3", "runJob", False, False, "unknown_operation"),
        ("l4", "resizeServerGroup", True, False, "legacy"),
        ("l5", "createServerGroup", True, True, "durable"),
    ]
    with engine.begin() as conn:
        conn.execute(
            gateway_admissions.insert(),
            [
                {"request_id": crid, "position": 0, "operation": op, "provider": "aws", "account": "prod",
                 "application": "web", "known": known, "taken": taken, "reason": reason,
                 "decided_at": NOW - timedelta(hours=1)}
                for crid, op, known, taken, reason in rows
            ],
        )  # fmt: skip
    report = build_report(engine, since=NOW - timedelta(hours=24), until=NOW)
    data = json.loads(render(report, ReportFormat.JSON))
    assert data["gateway"] == {
        "operations": 5,
        "known": 2,
        "taken": 1,
        "knownShare": 0.4,
        "passed": [
            {"operation": "deployManifest", "reason": "unknown_operation", "count": 2},
            {"operation": "resizeServerGroup", "reason": "legacy", "count": 1},
            {"operation": "runJob", "reason": "unknown_operation", "count": 1},
        ],
    }
    line = (
        "gateway: 5 operations submitted, 2 (40.0%) known to the catalogue (the durable path could take them), "
        "1 taken by the gateway; passed to the upstream Clouddriver: deployManifest x2 (unknown_operation), "
        "resizeServerGroup x1 (legacy), runJob x1 (unknown_operation)"
    )
    assert line in report.notes
    assert "deployManifest x2 (unknown_operation)" in render(report, ReportFormat.MARKDOWN)
    earlier = build_report(engine, since=NOW - timedelta(hours=24), until=NOW - timedelta(hours=2))
    assert earlier.gateway is None and not any(n.startswith("gateway:") for n in earlier.notes)
    engine.dispose()
