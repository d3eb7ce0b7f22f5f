"""The scopes matrix and the stage edit review as pure functions: the cells against the router's own decisions
(a RoutingRunner over scripted paths reading the same flags), badges, paging, search and filters, known names,
and what a review says before an edit is saved. No Flask app, no database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from console.edit_review import NoticeKind, review_edit
from console.edits import stage_from_form
from console.errors import InputError
from console.matrix import build_matrix
from console.matrix_details import detailed
from console.matrix_query import MatrixQuery, parse_matrix_query
from console.names import CATALOGUE_OPERATIONS, KnownNames, SeenNames, known_names
from flags import STAGE_KEY, FlagTestData, Snapshot
from rollouts.model import Rollout, RolloutPlan, RolloutStatus
from router.contract import OperationRequest, Path
from router.metrics import RouterMetrics
from router.ownership import InMemoryOwnership
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.testing import ScriptedRunner, succeed_with_plan

NOW = 1_900_000_000.0
APPS = [f"app-{i:02d}" for i in range(22)] + ["billing", "checkout", "search"]  # the issue's 25 applications
CLOUD = [("prod", "aws"), ("test", "aws")]


def _issue_flags() -> FlagTestData:
    """Issue 20's scenario: three applications set for account=test only."""
    return (
        FlagTestData()
        .stage("canary", percent=25, application="billing", account="test")
        .stage("shadow", application="checkout", account="test")
        .stage("durable", application="search", account="test")
    )


def _names(snapshot: Snapshot, apps: list[str] = APPS) -> KnownNames:
    seen = SeenNames({"application": frozenset(apps), "operation": frozenset({"resizeServerGroup"})})
    return known_names(snapshot.properties_for(STAGE_KEY), seen, CLOUD)


class _NoRecords:
    """Drops outcome records: routing decisions do not depend on where records go."""

    def record_outcome(self, record: object) -> None:
        pass

    def record_comparison(self, record: object) -> None:
        pass


@contextmanager
def _router(td: FlagTestData) -> Iterator[RoutingRunner]:
    """A RoutingRunner over scripted paths reading `td`'s flags: only its `decide` is used."""
    plan = succeed_with_plan({"operation": "resizeServerGroup", "mutations": []})
    metrics = RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=lambda record: None, metrics=metrics)
    try:
        yield RoutingRunner(
            legacy=ScriptedRunner(Path.LEGACY, plan),
            durable=ScriptedRunner(Path.DURABLE, plan),
            flags=td.client(),
            owners=InMemoryOwnership(),
            records=_NoRecords(),  # type: ignore[arg-type]
            shadows=shadows,
            metrics=metrics,
        )
    finally:
        shadows.close()


def _request(dims: dict[str, str], stage_type: str = "untagged-stage") -> OperationRequest:
    return OperationRequest(
        "op-1", dims["operation"], stage_type, dims["account"], dims["application"], dims.get("provider", ""), {}
    )


def test_an_account_scoped_property_shows_in_the_unfiltered_matrix_as_the_router_decides_it() -> None:
    """The first bullet of issue 20, exactly: each of these read "legacy · default" until one filtered."""
    td = _issue_flags()
    snapshot = td.snapshot()
    matrix = build_matrix(snapshot, _names(snapshot), MatrixQuery(per_page=25), now=NOW)
    assert matrix.accounts == ("prod", "test") and matrix.operations == CATALOGUE_OPERATIONS
    assert matrix.total_applications == 25 and matrix.pages == 1
    for app, label in (("billing", "canary 25%"), ("checkout", "shadow"), ("search", "durable")):
        for op in CATALOGUE_OPERATIONS:
            assert matrix.cell(app, "test", op).label == label
            assert matrix.cell(app, "prod", op).label == "legacy"
    with _router(td) as router:
        for cell in matrix.cells():  # never disagrees with the router on a real request of the cell
            decision = router.decide(_request(dict(cell.dimensions))).decision
            assert (decision.stage, decision.property_id) == (cell.stage, cell.decision.property_id)
    assert matrix.cell("billing", "test", "createServerGroup").dimensions["provider"] == "aws"


def test_badges_name_the_narrower_property_that_wins_for_part_of_a_cell() -> None:
    td = (
        FlagTestData()
        .stage("shadow", application="api")
        .stage("durable", application="api", stage_type="deploy")
        .stage("complete", application="api", account="prod", operation="resizeServerGroup")
        .stage("canary", percent=5, provider="titus")
        .stage("canary", percent=10, application="api", account="lab", provider="titus")
    )
    snapshot = td.snapshot()
    ids = {p.scope.describe(): p.id for p in snapshot.properties_for(STAGE_KEY)}
    seen = SeenNames(
        {"application": frozenset({"api"}), "account": frozenset({"lab"})}, {"lab": frozenset({"aws", "titus"})}
    )
    names = known_names(snapshot.properties_for(STAGE_KEY), seen, CLOUD)
    plain = build_matrix(snapshot, names, MatrixQuery(), now=NOW)
    matrix = detailed(plain, snapshot, outcomes={}, comparisons={}, rollouts=[], now=NOW)
    create = matrix.cell("api", "prod", "createServerGroup")
    assert create.label == "shadow"
    assert [(b.property_id, dict(b.dimensions), b.label) for b in create.badges] == [
        (ids["application=api, stage_type=deploy"], {"stage_type": "deploy"}, "durable")
    ]
    resize = matrix.cell("api", "prod", "resizeServerGroup")  # its own property outranks the stage-type one
    assert resize.label == "complete" and resize.badges == ()
    lab = matrix.cell("api", "lab", "createServerGroup")  # two providers seen: the cell cannot fix one
    assert "provider" not in lab.dimensions
    assert [(b.property_id, dict(b.dimensions), b.label) for b in lab.badges] == [
        (ids["application=api, account=lab, provider=titus"], {"provider": "titus"}, "canary 10%"),
        (ids["application=api, stage_type=deploy"], {"stage_type": "deploy"}, "durable"),
    ]
    with _router(td) as router:
        for cell in matrix.cells():
            if not cell.dimensions.get("provider"):
                continue
            for badge in cell.badges:  # the router agrees: requests of that stage type run as the badge says
                request = _request(dict(cell.dimensions), badge.dimensions["stage_type"])
                assert router.decide(request).decision.property_id == badge.property_id
    killed = td.force_legacy().snapshot()
    dead = detailed(
        build_matrix(killed, names, MatrixQuery(), now=NOW), killed, outcomes={}, comparisons={}, rollouts=[], now=NOW
    )
    assert all(c.badges == () and c.label == "legacy (kill switch)" for c in dead.cells())


def test_the_matrix_pages_searches_and_filters_on_every_dimension() -> None:
    td = _issue_flags().stage("complete", application="app-03", stage_type="bake")
    snapshot = td.snapshot()
    names = _names(snapshot)
    first = build_matrix(snapshot, names, MatrixQuery(per_page=10), now=NOW)
    assert first.pages == 3 and first.applications == tuple(sorted(APPS)[:10]) and len(first.rows) == 20
    last = build_matrix(snapshot, names, MatrixQuery(per_page=10, page=3), now=NOW)
    assert last.applications == tuple(sorted(APPS)[20:])
    assert build_matrix(snapshot, names, MatrixQuery(search="CHECK"), now=NOW).applications == ("checkout",)
    durable = build_matrix(snapshot, names, MatrixQuery(stage="durable"), now=NOW)
    assert durable.applications == ("search",) and durable.total_applications == 1
    test_only = build_matrix(
        snapshot, names, MatrixQuery(account="test", operation="resizeServerGroup", per_page=25), now=NOW
    )
    assert test_only.accounts == ("test",) and test_only.operations == ("resizeServerGroup",)
    assert len(test_only.rows) == 25 and all(len(r.cells) == 1 for r in test_only.rows)
    baked = build_matrix(snapshot, names, MatrixQuery(stage_type="bake", search="app-03"), now=NOW)
    assert {c.label for c in baked.cells()} == {"complete"}
    assert build_matrix(snapshot, names, MatrixQuery(stage="complete"), now=NOW).applications == ()
    query = parse_matrix_query({"search": " bil ", "page": "2", "per_page": "10"}, ["createServerGroup"])
    assert (query.search, query.page, query.per_page, query.collapsed) == ("bil", 2, 10, ("createServerGroup",))
    assert query.toggled("createServerGroup") == {"search": "bil", "page": 2, "per_page": 10}
    for bad, field in (({"per_page": "500"}, "per_page"), ({"page": "0"}, "page"), ({"stage": "fast"}, "stage")):
        with pytest.raises(InputError) as caught:
            parse_matrix_query(bad)
        assert caught.value.field == field


def test_known_names_come_from_the_cloud_the_catalogue_operations_and_properties() -> None:
    snapshot = _issue_flags().stage("shadow", application="web", operation="rollbackServerGroup").snapshot()
    seen = SeenNames(
        {"application": frozenset({"api"}), "account": frozenset({"staging"})}, {"staging": frozenset({"aws"})}
    )
    names = known_names(snapshot.properties_for(STAGE_KEY), seen, CLOUD)
    assert names.of("application") == ("api", "billing", "checkout", "search", "web")
    assert names.of("account") == ("prod", "staging", "test")
    assert set(CATALOGUE_OPERATIONS) | {"rollbackServerGroup"} == set(names.of("operation"))
    assert names.account_providers == {"prod": "aws", "test": "aws", "staging": "aws"}
    [typo] = names.unknown({"application": "biling", "account": "prod", "operation": "resizeServerGroup"})
    assert (typo.dimension, typo.value, typo.suggestions) == ("application", "biling", ("billing",))
    assert "did you mean 'billing'?" in typo.message()
    assert names.unknown({"stage_type": "anything", "provider": "anything"}) == []  # not checked: no list of them


def _rollout(scope: dict[str, str], status: RolloutStatus = RolloutStatus.RUNNING) -> Rollout:
    at = datetime.fromtimestamp(NOW, UTC)
    plan = RolloutPlan(scope=scope, steps=(25.0, 50.0))
    return Rollout("ro-1", plan, status, 1, None, True, None, at, at, at, None, "alice", "ramp", 3)


def test_a_review_says_what_an_edit_overrides_leaves_and_which_rollout_drives_it() -> None:
    td = _issue_flags().stage("complete", application="billing", account="test", operation="destroyServerGroup")
    snapshot = td.snapshot()
    ids = {p.scope.describe(): p.id for p in snapshot.properties_for(STAGE_KEY)}
    billing = ids["application=billing, account=test"]
    names = _names(snapshot)
    form = {"application": "billing", "account": "test", "operation": "resizeServerGroup", "reason": "r"}
    narrower = review_edit(stage_from_form({**form, "stage": "legacy"}), snapshot, names, [], now=NOW)
    [notice] = narrower.notices
    assert notice.kind is NoticeKind.OVERRIDES and narrower.needs_confirmation
    assert notice.message == (
        f"this overrides {billing} (application=billing, account=test: canary 25%) for "
        "application=billing, account=test, operation=resizeServerGroup"
    )
    wider = review_edit(
        stage_from_form({"application": "billing", "stage": "shadow", "reason": "r"}), snapshot, names, [], now=NOW
    )
    assert [n.kind for n in wider.notices] == [NoticeKind.NARROWER_STAYS, NoticeKind.NARROWER_STAYS]
    assert {n.property_id for n in wider.notices} == {
        billing,
        ids["application=billing, account=test, operation=destroyServerGroup"],
    }
    update = review_edit(
        stage_from_form(
            {"application": "billing", "account": "test", "stage": "canary", "percent": "50", "reason": "r"}
        ),
        snapshot,
        names,
        [_rollout({"application": "billing", "account": "test"})],
        now=NOW,
    )
    assert [n.kind for n in update.notices] == [NoticeKind.UPDATES, NoticeKind.ROLLOUT]
    assert (
        update.notices[0].message
        == f"this changes {billing} (application=billing, account=test) from canary 25% to canary 50%"
    )
    assert "pause it first" in update.notices[1].message and update.rollout is not None
    assert update.needs_confirmation and update.fingerprint != narrower.fingerprint
    paused = review_edit(
        stage_from_form({**form, "stage": "legacy"}),
        snapshot,
        names,
        [_rollout({"application": "billing"}, RolloutStatus.PAUSED)],
        now=NOW,
    )
    assert paused.rollout is None and any(n.kind is NoticeKind.ROLLOUT for n in paused.notices)
    typo = review_edit(
        stage_from_form({"application": "biling", "stage": "shadow", "reason": "r"}), snapshot, names, [], now=NOW
    )
    assert [u.value for u in typo.unknown] == ["biling"]
    fresh = review_edit(
        stage_from_form({"application": "app-01", "stage": "shadow", "reason": "r"}), snapshot, names, [], now=NOW
    )
    assert fresh.notices == () and not fresh.needs_confirmation  # the default was in force: nothing to override
