"""The report judges what rollouts judge: the flag scopes in use (stage properties' and rollouts' scopes), each read
with the rollout evidence's own filter, with the finer operation x provider x account x application rows under it
(issue 17, item 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_report_formats import _comparisons, _dims, _outcomes

import migrations
from cloudops.report import ReportFormat, build_report, render
from cloudops.report.model import FlagScope, ScopeKey, ScopeVerdict
from cloudops.report.scopes import covers, disagreement, scopes_in_use
from flags import STAGE_KEY, SqlFlagStore
from rollouts.controller import RolloutController
from rollouts.evidence import EvidenceReader
from rollouts.gates import Thresholds
from rollouts.model import RolloutPlan, RolloutStatus
from router.contract import Path

NOW = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: object) -> Iterator[SqlFlagStore]:
    url = f"sqlite:///{tmp_path}/scopes.db"
    migrations.upgrade(url)
    flags = SqlFlagStore(url)
    yield flags
    flags.close()


def _seed(store: SqlFlagStore) -> None:
    engine = store.engine
    # billing in prod on two operations: durable fails far more on both.
    for operation in ("createServerGroup", "resizeServerGroup"):
        dims = _dims(operation, "billing")
        _outcomes(engine, {**dims}, "legacy", [1.0] * 60, failures=0)
        _outcomes(engine, {**dims, "stage_type": operation + "-d"}, "durable", [1.0] * 60, failures=20)
    # checkout in test: shadow comparisons only, all matching.
    _comparisons(engine, _dims("createServerGroup", "checkout", account="test"), "match", 50)
    # search: nothing names it.
    _comparisons(engine, _dims("createServerGroup", "search"), "match", 5)


def test_scopes_in_use_merge_properties_and_rollouts_most_specific_first(store: SqlFlagStore) -> None:
    prop = store.set_property(STAGE_KEY, "canary", {"application": "billing"}, percent=25, actor="a", reason="r")
    wide = store.set_property(STAGE_KEY, "shadow", {"account": "test"}, actor="a", reason="r")
    controller = RolloutController(store.engine, store, clock=lambda: NOW)
    rollout = controller.start(RolloutPlan(scope={"application": "billing", "account": "prod"}), actor="alice")
    found = scopes_in_use([prop, wide], [rollout])
    assert [f.label() for f in found] == ["account=prod,application=billing", "account=test", "application=billing"]
    assert found[0].rollout_id == rollout.id and found[1].rollout_id is None
    assert found[2].sources == (f"property {prop.id} v1: canary 25%",)


def test_a_flag_scope_covers_the_rows_whose_columns_match() -> None:
    scope = FlagScope((("account", "prod"), ("application", "billing")))
    assert covers(scope, ScopeKey("createServerGroup", "aws", "prod", "billing"))
    assert not covers(scope, ScopeKey("createServerGroup", "aws", "test", "billing"))
    # stage_type is not a breakdown column: it cannot exclude a row (the scope's own evidence reads it exactly).
    assert covers(FlagScope((("stage_type", "deploy"),)), ScopeKey("x", "aws", "prod", "billing"))


def test_the_report_judges_each_flag_scope_with_the_rollouts_evidence(store: SqlFlagStore) -> None:
    _seed(store)
    store.set_property(STAGE_KEY, "canary", {"application": "billing"}, percent=50, actor="a", reason="r")
    store.set_property(STAGE_KEY, "shadow", {"account": "test"}, actor="a", reason="r")
    report = build_report(
        store.engine,
        since=NOW - timedelta(hours=24),
        until=NOW,
        thresholds=Thresholds(),
        properties=store.list_properties(STAGE_KEY),
    )
    by_label = {f.scope.label(): f for f in report.flag_scopes}
    billing, checkout = by_label["application=billing"], by_label["account=test"]
    assert billing.report.verdict.verdict is ScopeVerdict.ROLL_BACK
    assert checkout.report.verdict.verdict is ScopeVerdict.READY  # a shadow of 50 matches: ready for a canary
    assert report.verdict_counts() == {"ready": 1, "hold": 0, "roll_back": 1}
    # The scope's totals are exactly what a rollout of that scope reads.
    reader = EvidenceReader(store.engine)
    sample = reader.path_sample({"application": "billing"}, Path.DURABLE, NOW - timedelta(hours=24), NOW)
    assert (billing.report.durable.total, billing.report.durable.failures) == (sample.total, sample.failures)
    assert billing.report.durable.total == 120
    assert {k.operation for k in billing.breakdown} == {"createServerGroup", "resizeServerGroup"}
    assert [k.application for k in report.unscoped] == ["search"]
    assert billing.thresholds_from == "the report's"
    data = json.loads(render(report, ReportFormat.JSON))
    assert [f["label"] for f in data["flagScopes"]] == ["account=test", "application=billing"]
    markdown = render(report, ReportFormat.MARKDOWN)
    assert "## Flag scopes in use" in markdown and "2 flag scopes: 1 ready, 0 hold, 1 roll back." in markdown
    assert "1 breakdown rows are in no flag scope" in markdown
    html = render(report, ReportFormat.HTML)
    assert 'id="flag-scope-1"' in html and "Each flag scope" in html


def test_a_rollout_scope_uses_its_thresholds_and_says_why_the_report_disagrees(store: SqlFlagStore) -> None:
    _seed(store)
    controller = RolloutController(store.engine, store, clock=lambda: NOW - timedelta(minutes=10))
    rollout = controller.start(
        RolloutPlan(scope={"application": "billing"}, thresholds=Thresholds(min_samples=500)), actor="alice"
    )
    report = build_report(store.engine, since=NOW - timedelta(hours=24), until=NOW, thresholds=Thresholds())
    (billing,) = report.flag_scopes
    assert billing.thresholds_from == f"rollout {rollout.id}'s"
    assert billing.report.verdict.verdict is ScopeVerdict.HOLD  # 120 durable operations < the rollout's 500
    assert billing.disagreement is None  # a running rollout expects no verdict
    completed = replace(rollout, status=RolloutStatus.COMPLETED)
    why = disagreement(completed, ScopeVerdict.HOLD)
    assert why is not None and "judged each step on that step's own window" in why
    assert disagreement(completed, ScopeVerdict.READY) is None
    assert disagreement(replace(rollout, status=RolloutStatus.ROLLED_BACK), ScopeVerdict.ROLL_BACK) is None


def test_no_flag_scope_says_so(store: SqlFlagStore) -> None:
    _seed(store)
    report = build_report(store.engine, since=NOW - timedelta(hours=24), until=NOW)
    assert report.flag_scopes == () and len(report.unscoped) == len(report.scopes)
    assert any("no stage property or rollout names a scope" in n for n in report.notes)
