"""With an upstream Clouddriver behind it, the gateway takes a submitted list only when the durable path is needed
for it, and passes every other list to the upstream as the same bytes; a retried POST keeps its first verdict;
each verdict is recorded and counted; the accounts come from the upstream's `GET /credentials`.

In-process (Flask's test client) over a real RoutingRunner whose two paths are `router.testing.ScriptedRunner`
fakes (these tests are about the gateway's choice, not how a path runs), a real SQLite database at the newest
schema, and the recording upstream, a real HTTP server (tests/gateway/recording_upstream.py). Orca's side of the
wire is KatoRestService (orca-clouddriver/src/main/java/com/netflix/spinnaker/orca/clouddriver/
KatoRestService.java: `POST /{cloudProvider}/ops`, `GET /task/{id}`); the accounts' shape is Clouddriver's
CredentialsController (clouddriver-web/src/main/java/com/netflix/spinnaker/clouddriver/controllers/
CredentialsController.java: `name`, `type`, `cloudProvider`, and, expanded, the provider's `regions`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from recording_upstream import RecordingUpstream
from test_gateway_contract import FakeLegacyTasks, FakeProgress, ListSink, create, resize, script

import migrations
from cloud.model import Account
from clouddriver_wire.errors import ServiceUnavailable
from flags import FlagTestData
from gateway import Gateway, GatewaySettings, create_app
from gateway.admission import Admission, Reason, listed_operations
from gateway.admission_log import AdmissionLog
from gateway.store import GatewayStore
from gateway.tables import gateway_admissions
from gateway.upstream import RecentIds, Upstream, end_to_end
from gateway.upstream_accounts import UpstreamAccounts, parse_credentials
from router.contract import Path
from router.metrics import RouterMetrics
from router.ownership import SqlOwnership
from router.routing import RoutingRunner
from router.shadow import ShadowExecutor, ShadowSettings
from router.testing import ScriptedRunner


@dataclass
class Proxy:
    http: FlaskClient
    gateway: Gateway
    upstream: RecordingUpstream
    flags: FlagTestData
    legacy: ScriptedRunner
    durable: ScriptedRunner
    metrics: RouterMetrics
    engine: sa.Engine

    def post(self, body: Any, crid: str | None = "crid-1", path: str = "/aws/ops") -> Any:
        raw = json.dumps(body).encode()
        query = {"clientRequestId": crid} if crid else {}
        return self.http.post(path, query_string=query, data=raw, content_type="application/json")

    def passed(self, operation: str, reason: Reason) -> float:
        labels = {"operation": operation, "reason": reason.value}
        return self.metrics.value("cloudops_gateway_passthrough_total", labels)

    def taken(self, operation: str, reason: Reason) -> float:
        return self.metrics.value("cloudops_gateway_taken_total", {"operation": operation, "reason": reason.value})


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> FsPath:
    path = tmp_path_factory.mktemp("schema") / "gateway.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def p(tmp_path: FsPath, schema: FsPath, upstream: RecordingUpstream) -> Iterator[Proxy]:
    shutil.copy(schema, tmp_path / "gateway.db")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    legacy, durable = ScriptedRunner(Path.LEGACY, script), ScriptedRunner(Path.DURABLE, script)
    flags, sink, metrics = FlagTestData(), ListSink(), RouterMetrics()
    shadows = ShadowExecutor(ShadowSettings(timeout_s=5), publish=sink.record_comparison, metrics=metrics)
    router = RoutingRunner(
        legacy=legacy,
        durable=durable,
        flags=flags.client(),
        owners=SqlOwnership(engine),
        records=sink,
        shadows=shadows,
        metrics=metrics,
    )
    proxy = Upstream(upstream.url, read_timeout_s=5)
    gateway = Gateway(
        store=GatewayStore(engine),
        runner=router,
        owners=SqlOwnership(engine),
        legacy=FakeLegacyTasks(),
        progress=FakeProgress(),
        accounts=UpstreamAccounts(proxy.http, ttl_s=30),
        settings=GatewaySettings(lease_s=0.001, upstream=upstream.url),
        legacy_poll_interval_s=0.001,
        upstream=proxy,
        admissions=AdmissionLog(engine),
    )
    upstream.requests.clear()
    yield Proxy(create_app(gateway).test_client(), gateway, upstream, flags, legacy, durable, metrics, engine)
    for _ in range(3):
        gateway.driver.run_once()
    shadows.close()
    proxy.close()
    engine.dispose()


def _submitted(p: Proxy) -> list[bytes]:
    return [r.body for r in p.upstream.matching("POST", "/aws/ops")]


# -- the verdict ---------------------------------------------------------------------------------------------------


def test_a_list_the_flags_keep_on_legacy_goes_to_the_upstream_as_the_same_bytes(p: Proxy) -> None:
    body = [create(), resize()]
    answer = p.post(body)
    assert answer.status_code == 200 and answer.json["id"].startswith("up-")  # the upstream's own task id
    assert _submitted(p) == [json.dumps(body).encode()]
    assert p.upstream.requests[-1].target == "/aws/ops?clientRequestId=crid-1"
    assert p.legacy.executed == [] and p.gateway.store.by_request_id("crid-1") is None
    assert p.passed("createServerGroup", Reason.LEGACY) == p.passed("resizeServerGroup", Reason.LEGACY) == 1

    polled = p.http.get(f"/task/{answer.json['id']}")  # a task the gateway did not issue passes through
    assert polled.status_code == 200 and polled.json["status"]["completed"] is True
    assert p.upstream.requests[-1].target == f"/task/{answer.json['id']}"

    queries: list[str] = []
    sa.event.listen(p.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    again = p.http.get(f"/task/{answer.json['id']}")  # Orca's next poll: known to be the upstream's
    assert again.status_code == 200 and again.data == polled.data and queries == []


def test_a_list_with_a_durable_operation_is_the_gateways_own_task(p: Proxy) -> None:
    p.flags.stage("durable", operation="resizeServerGroup")
    answer = p.post([create(), resize()])
    assert answer.status_code == 200 and not answer.json["id"].startswith("up-")
    assert _submitted(p) == []
    for _ in range(3):
        p.gateway.driver.run_once()
    task = p.http.get(f"/task/{answer.json['id']}").json
    assert [op["path"] for op in task["gatewayOperations"]] == ["legacy", "durable"]
    assert task["status"]["completed"] and p.taken("resizeServerGroup", Reason.DURABLE) == 1


def test_a_shadowed_list_is_taken_so_the_durable_path_can_compare(p: Proxy) -> None:
    p.flags.stage("shadow", application="myapp")
    answer = p.post([create()])
    assert not answer.json["id"].startswith("up-") and _submitted(p) == []
    assert p.taken("createServerGroup", Reason.SHADOW) == 1


@pytest.mark.parametrize(
    ("body", "path", "reason", "counted"),
    [
        ([{"deployManifest": {"account": "k8s", "manifests": [{"kind": "Deployment"}]}}], "/kubernetes/ops",
         Reason.UNKNOWN_OPERATION, "deployManifest"),
        ([resize(), {"upsertScalingPolicy": {"credentials": "prod", "region": "us-east-1"}}], "/aws/ops",
         Reason.UNKNOWN_OPERATION, "upsertScalingPolicy"),
        ([{"runJob": {"account": "k8s"}}], "/ops", Reason.UNKNOWN_OPERATION, "runJob"),
        ([resize(account="nope")], "/aws/ops", Reason.INVALID, "resizeServerGroup"),
        ([resize(region="mars-1")], "/aws/ops", Reason.INVALID, "resizeServerGroup"),
        ({"not": "a list"}, "/aws/ops", Reason.UNREADABLE, "(unreadable)"),
    ],
)  # fmt: skip
def test_what_the_durable_path_cannot_take_goes_to_the_upstream_with_its_reason(
    p: Proxy, body: Any, path: str, reason: Reason, counted: str
) -> None:
    p.flags.stage("durable")  # even with every scope on durable
    answer = p.post(body, path=path)
    assert answer.status_code == 200 and answer.json["id"].startswith("up-")
    assert [r.body for r in p.upstream.matching("POST", path)] == [json.dumps(body).encode()]
    assert p.passed(counted, reason) == 1
    assert p.legacy.executed == p.durable.executed == []


def test_a_body_that_is_not_json_reaches_the_upstream_unchanged(p: Proxy) -> None:
    raw = b'[{"resizeServerGroup": {'  # Clouddriver answers it as it does; the gateway adds nothing
    answer = p.http.post("/aws/ops?status=400", data=raw, content_type="application/json")
    assert answer.status_code == 400 and answer.json["message"] == "as asked: 400"
    assert p.upstream.requests[-1].body == raw and p.passed("(unreadable)", Reason.UNREADABLE) == 1


def test_a_body_over_the_gateways_limit_is_streamed_to_the_upstream_whole(p: Proxy) -> None:
    big = [{"deployManifest": {"account": "k8s", "manifests": [{"data": "x" * 700_000}]}}]
    raw = json.dumps(big).encode()
    assert len(raw) > p.gateway.settings.max_body_bytes
    answer = p.http.post("/kubernetes/ops", data=raw, content_type="application/json")
    assert answer.status_code == 200 and p.upstream.requests[-1].body == raw


def test_a_retried_post_keeps_its_first_verdict_when_the_flags_change_between(p: Proxy) -> None:
    """Orca retries a failed POST with the same clientRequestId (orca-clouddriver/src/main/java/com/netflix/
    spinnaker/orca/clouddriver/KatoService.java, through RetrySupport), and Clouddriver deduplicates on it
    (clouddriver-web/src/main/groovy/com/netflix/spinnaker/clouddriver/controllers/OperationsController.groovy,
    then OperationsService): the upstream must get the retry too, or the operation would run on both paths."""
    first = p.post([resize()], crid="orca-7")
    assert first.json["id"].startswith("up-")
    p.flags.stage("durable")
    again = p.post([resize()], crid="orca-7")
    assert again.json["id"].startswith("up-") and len(_submitted(p)) == 2
    assert p.durable.executed == [] and p.passed("resizeServerGroup", Reason.PASSED_BEFORE) == 1

    taken = p.post([resize()], crid="orca-8").json["id"]
    p.flags.stage("legacy")
    assert p.post([resize()], crid="orca-8").json["id"] == taken  # and a taken list stays the gateway's
    assert p.taken("resizeServerGroup", Reason.TAKEN_BEFORE) == 1


def test_every_verdict_is_a_row_and_the_summary_counts_what_the_durable_path_could_take(p: Proxy) -> None:
    p.post([resize()], crid="a")
    p.post([{"deployManifest": {"account": "k8s"}}, {"deleteManifest": {"account": "k8s"}}], crid="b", path="/k8s/ops")
    p.flags.stage("durable")
    p.post([create()], crid="c")
    with p.engine.connect() as conn:
        rows = conn.execute(sa.select(gateway_admissions).order_by(gateway_admissions.c.id)).mappings().all()
    seen = [(r["request_id"], r["position"], r["operation"], r["known"], r["taken"], r["reason"]) for r in rows]
    assert seen == [
        ("a", 0, "resizeServerGroup", True, False, "legacy"),
        ("b", 0, "deployManifest", False, False, "unknown_operation"),
        ("b", 1, "deleteManifest", False, False, "unknown_operation"),
        ("c", 0, "createServerGroup", True, True, "durable"),
    ]
    assert rows[0]["account"] == "prod" and rows[0]["application"] == "myapp" and rows[1]["provider"] == "k8s"
    summary = AdmissionLog(p.engine).summary(datetime.now(UTC) - timedelta(hours=1))
    assert (summary.operations, summary.known, summary.taken, summary.known_share) == (4, 2, 1, 0.5)
    assert summary.passed == (
        ("deleteManifest", "unknown_operation", 1),
        ("deployManifest", "unknown_operation", 1),
        ("resizeServerGroup", "legacy", 1),
    )


def test_get_task_lists_the_upstreams_running_tasks_then_the_gateways(p: Proxy) -> None:
    p.flags.stage("durable")
    ours = p.post([create()], crid="mine").json["id"]
    listed = p.http.get("/task", headers={"X-Spinnaker-User": "ops@example.com"})
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json] == ["up-running", ours]
    assert p.upstream.requests[-1].header("X-Spinnaker-User") == "ops@example.com"
    failing = p.http.get("/task?status=503")  # the upstream's own error, as it answered it
    assert failing.status_code == 503 and failing.json["message"] == "as asked: 503"


# -- accounts from the upstream ------------------------------------------------------------------------------------


def test_the_accounts_are_the_upstreams_credentials_with_their_regions() -> None:
    body = [
        {"name": "prod", "type": "aws", "cloudProvider": "aws", "regions": [{"name": "us-east-1"}, {"name": "eu-1"}]},
        {"name": "t", "type": "titus", "regions": ["us-east-1"]},
        {"name": "k8s", "cloudProvider": "kubernetes", "accountType": "k8s"},
    ]
    assert parse_credentials(body) == [
        Account("prod", "aws", ("us-east-1", "eu-1")),
        Account("t", "titus", ("us-east-1",)),
        Account("k8s", "kubernetes", ()),
    ]
    for bad in ({"name": "x"}, [{"type": "aws"}], [{"name": "x"}], ["prod"]):
        with pytest.raises(ValueError):
            parse_credentials(bad)


def test_accounts_are_cached_refreshed_and_the_last_good_list_kept_while_the_upstream_is_down(
    upstream: RecordingUpstream,
) -> None:
    now = [0.0]
    with httpx.Client(base_url=upstream.url) as http:
        accounts = UpstreamAccounts(http, ttl_s=10, clock=lambda: now[0])
        upstream.requests.clear()
        assert [a.name for a in accounts.accounts()] == ["prod", "titustest", "k8s"]
        assert accounts.accounts() and len(upstream.matching("GET", "/credentials?expand=true")) == 1  # cached
        upstream.accounts = [*upstream.accounts, {"name": "new", "type": "aws", "regions": []}]
        now[0] = 11
        assert [a.name for a in accounts.accounts()][-1] == "new"  # refreshed after the ttl
    dead = httpx.Client(base_url="http://127.0.0.1:9")
    accounts = UpstreamAccounts(dead, ttl_s=10, clock=lambda: now[0])
    with pytest.raises(ServiceUnavailable, match="cannot read the accounts of the upstream Clouddriver"):
        accounts.accounts()
    upstream.accounts = upstream.accounts[:-1]
    doomed = RecordingUpstream().start()
    with httpx.Client(base_url=doomed.url) as http:
        kept = UpstreamAccounts(http, ttl_s=10, clock=lambda: now[0])
        first = kept.accounts()
        doomed.stop()  # the upstream goes down
        now[0] = 30
        assert kept.accounts() == first  # the last good list, and a warning in the log
        assert len(doomed.matching("GET", "/credentials")) == 1  # the refresh did not reach it


def test_an_unknown_account_is_judged_by_the_upstreams_accounts(p: Proxy) -> None:
    p.flags.stage("durable")
    p.upstream.accounts = [*p.upstream.accounts, {"name": "fresh", "type": "aws", "regions": [{"name": "us-east-1"}]}]
    try:
        answer = p.post([resize(account="fresh")], crid="fresh-1")
        assert not answer.json["id"].startswith("up-")  # a valid account there: the gateway takes it
    finally:
        p.upstream.accounts = p.upstream.accounts[:-1]


# -- the pure parts ------------------------------------------------------------------------------------------------


def test_hop_by_hop_headers_are_dropped_and_every_other_passes() -> None:
    headers = [
        ("Connection", "keep-alive, X-Trace"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        ("Trailer", "X-Sum"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("X-Trace", "named by Connection"),
        ("X-Spinnaker-User", "ops@example.com"),
        ("X-Spinnaker-Execution-Id", "01HX"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", "12"),
    ]
    assert end_to_end(headers) == [
        ("X-Spinnaker-User", "ops@example.com"),
        ("X-Spinnaker-Execution-Id", "01HX"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Content-Length", "12"),
    ]


def test_recent_ids_keep_the_most_recently_seen() -> None:
    ids = RecentIds(capacity=2)
    ids.add("a")
    ids.add("b")
    assert "a" in ids  # seen again: now the most recent
    ids.add("c")
    assert "a" in ids and "c" in ids and "b" not in ids


def test_listed_operations_reads_what_it_can_without_validating() -> None:
    listed = listed_operations([resize(), {"deployManifest": {"account": "k8s"}}], "aws")
    assert listed is not None
    assert [(o.name, o.provider, o.account, o.application, o.known) for o in listed] == [
        ("resizeServerGroup", "aws", "prod", "myapp", True),
        ("deployManifest", "aws", "k8s", "", False),
    ]
    k8s = listed_operations([{"resizeServerGroup": {"cloudProvider": "kubernetes"}}], None)
    assert k8s is not None and not k8s[0].known  # a provider the catalogue has no operations for
    for unreadable in ([], {}, [1], [{"a": {}, "b": {}}], [{"a": 1}]):
        assert listed_operations(unreadable, "aws") is None


def test_of_two_verdicts_recorded_for_one_client_request_id_the_first_stands(p: Proxy) -> None:
    """Two POSTs of one list at the same moment (Orca's retry racing its first attempt) may judge it differently
    if the flags change between them; the unique rows keep the first verdict, and the second follows it."""
    log = AdmissionLog(p.engine)
    listed = listed_operations([resize()], "aws")
    assert listed is not None and log.verdict("race-1") is None
    assert log.record("race-1", Admission(Reason.LEGACY, listed)) is False
    assert log.record("race-1", Admission(Reason.DURABLE, listed)) is False  # the first verdict stands
    assert log.verdict("race-1") is False

    p.flags.stage("durable")
    log.record("race-2", Admission(Reason.LEGACY, listed))  # the other request got there first
    answer = p.post([resize()], crid="race-2")
    assert answer.json["id"].startswith("up-") and p.durable.executed == []
    assert p.passed("resizeServerGroup", Reason.PASSED_BEFORE) == 1
