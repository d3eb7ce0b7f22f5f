"""`cloudops gateway --upstream URL` as a process (waitress, as deployed) between Orca and a Clouddriver: the
recording upstream (tests/gateway/recording_upstream.py), a real HTTP server that records every request.

Orca's side is `router.legacy.LegacyRunner` (which submits and polls as Orca's KatoService and MonitorKatoTask
do) and plain HTTP for the reads Orca makes through the same `clouddriver.baseUrl` when no read-only URL is set:
orca-clouddriver/src/main/java/com/netflix/spinnaker/orca/clouddriver/{OortService,MortService,KatoRestService,
CloudDriverTaskStatusService}.java, config/CloudDriverConfigurationProperties.java (`getCloudDriverReadOnlyBaseUrls`
falls back to `clouddriver.baseUrl`). An unreachable upstream answers what Orca's retrofit handling retries
(orca-retrofit/src/main/groovy/com/netflix/spinnaker/orca/retrofit/exceptions/BaseRetrofitExceptionHandler.groovy:
503 for every method, 502 and 504 for idempotent ones).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path as FsPath

import httpx
import pytest
import yaml
from infra import Process, cloudops_argv, free_port, http_ok, start_process
from recording_upstream import Recorded, RecordingUpstream

from router.contract import OperationRequest
from router.legacy import LegacyRunner

ORCA_HEADERS = {
    "X-Spinnaker-User": "deploy-bot@example.com",
    "X-Spinnaker-Accounts": "prod,k8s",
    "X-Spinnaker-Execution-Id": "01JEXECUTION",
    "X-Spinnaker-Application": "myapp",
    "Accept": "application/json",
}
# Orca's reads, as its retrofit interfaces spell them (OortService, MortService, KatoRestService's jobs).
ORCA_READS: list[tuple[str, str, bytes | None]] = [
    ("GET", "/applications/myapp/clusters/prod/myapp-main/aws", None),
    ("GET", "/applications/myapp/serverGroups", None),
    ("GET", "/applications/myapp/clusters/prod/myapp-main/aws/serverGroups/myapp-main-v001?region=us-east-1", None),
    ("GET", "/serverGroups/prod/us-east-1/myapp-main-v001", None),
    ("GET", "/applications/myapp/clusters/prod/myapp-main/aws/cluster/serverGroups/target/current_asg_dynamic", None),
    ("GET", "/applications/myapp/clusters/prod/myapp-main/aws/cluster/serverGroups/target/ancestor_asg/image"
            "?onlyEnabled=true", None),
    ("GET", "/search?q=myapp-main-v001&type=serverGroups&cloudProvider=aws", None),
    ("GET", "/applications/myapp", None),
    ("GET", "/instances/prod/us-east-1/i-0a1b2c3d4e5f6a7b8", None),
    ("GET", "/aws/loadBalancers/prod/us-east-1/myapp-frontend", None),
    ("GET", "/aws/images/prod/us-east-1/ami-0abc", None),
    ("GET", "/aws/images/find?q=myapp-1.2*&account=prod&region=us-east-1&tag%3Aappversion=1.2", None),
    ("GET", "/tags?cloudProvider=aws&entityType=servergroup&entityId=myapp-main-v001&account=prod", None),
    ("GET", "/manifests/k8s/default/deployment%20web?includeEvents=false", None),
    ("GET", "/manifests/k8s/default/deployment/cluster/myapp/web/dynamic/newest", None),
    ("GET", "/securityGroups/prod/aws/us-east-1/myapp?vpcId=vpc-1", None),
    ("GET", "/vpcs", None),
    ("GET", "/credentials?expand=true", None),
    ("GET", "/credentials/prod", None),
    ("GET", "/aws/cloudFormation/stacks/arn:aws:cloudformation:us-east-1:1:stack%2Fmyapp", None),
    ("GET", "/applications/myapp/jobs/k8s/default/job%20migrate", None),
    ("GET", "/applications/myapp/jobs/k8s/default/job%20migrate/output.json", None),
    ("DELETE", "/applications/myapp/jobs/k8s/default/job%20migrate", None),
    ("PUT", "/artifacts/fetch/", b'{"type":"http/file","reference":"https://example.com/a.yml"}'),
    ("GET", "/applications/nope?status=404", None),
    ("GET", "/serverGroups/prod/us-east-1/broken?status=500", None),
    ("HEAD", "/applications/myapp/serverGroups", None),
    ("OPTIONS", "/applications/myapp/serverGroups", None),
]  # fmt: skip
# Hop-by-hop, or the server's own: `Date` (a second may pass), `Host` (the upstream's on both), `Via` (waitress
# adds `Via: cloudops-gateway` beside the upstream's `Server`, as an HTTP proxy should). Content-Length is
# compared on its own.
_NOT_COMPARED = {"date", "host", "connection", "keep-alive", "content-length", "via"}
MB = 1024 * 1024


def gateway_process(config: FsPath, upstream: str) -> Process:
    port = free_port()
    return start_process(
        cloudops_argv("gateway", "--port", str(port), "--config", str(config), "--upstream", upstream),
        port,
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/health"),
        name="gateway-proxy",
        timeout=40,
    )


def write_config(state: FsPath, legacy_url: str) -> FsPath:
    config = state / "gateway.yaml"
    router = {
        "legacy_url": legacy_url,
        "temporal_address": f"127.0.0.1:{free_port()}",  # no Temporal: nothing here goes to the durable path
        "database_url": f"sqlite:///{state / 'cloudops.db'}",
    }
    gateway = {"upstream_timeout_s": 1.0, "upstream_connect_timeout_s": 1.0, "tick_s": 0.05}
    config.write_text(yaml.safe_dump({"router": router, "gateway": gateway}))
    return config


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    server = RecordingUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(upstream: RecordingUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    config = write_config(tmp_path_factory.mktemp("proxy"), upstream.url)
    proc = gateway_process(config, upstream.url)
    yield proc
    proc.stop()
    assert proc.popen.returncode == 0, proc.log()[-3000:]


def _send(base: str, method: str, target: str, body: bytes | None) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=10) as http:
        headers = {**ORCA_HEADERS, **({"Content-Type": "application/json"} if body else {})}
        return http.request(method, httpx.URL(base + target), headers=headers, content=body)


def _seen(recorded: Recorded) -> tuple[str, str, list[tuple[str, str]], bytes]:
    headers = sorted((k.lower(), v) for k, v in recorded.headers if k.lower() not in _NOT_COMPARED)
    return recorded.method, recorded.target, headers, recorded.body


def _answered(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in _NOT_COMPARED)
    return response.status_code, headers, response.content


def test_orcas_reads_pass_through_byte_for_byte(upstream: RecordingUpstream, gateway: Process) -> None:
    for method, target, body in ORCA_READS:
        upstream.requests.clear()
        direct = _send(upstream.url, method, target, body)
        through = _send(gateway.url, method, target, body)
        assert _answered(through) == _answered(direct), (method, target)
        assert through.headers.get("content-length") == direct.headers.get("content-length")
        assert through.headers.get("via") == "cloudops-gateway"
        sent_directly, sent_through = upstream.requests
        assert _seen(sent_through) == _seen(sent_directly), (method, target)
    assert sent_through.header("X-Spinnaker-User") == ORCA_HEADERS["X-Spinnaker-User"]


def test_unknown_operations_pass_through_and_orca_polls_the_upstreams_task(
    upstream: RecordingUpstream, gateway: Process
) -> None:
    upstream.requests.clear()
    manifest = {"account": "k8s", "manifests": [{"kind": "Deployment", "metadata": {"name": "web"}}]}
    request = OperationRequest(
        "deploy-web-1", "deployManifest", "deployManifest", "k8s", "myapp", "kubernetes", manifest
    )
    with LegacyRunner(upstream.url, poll_interval_s=0.05, read_backoff_s=0.01) as orca:
        assert orca.run(request).succeeded  # Orca straight at the Clouddriver: what it sends there
    with LegacyRunner(gateway.url, poll_interval_s=0.05, read_backoff_s=0.01) as orca:
        result = orca.run(request)
    assert result.succeeded, result.errors
    assert result.task_id is not None and result.task_id.startswith("up-")  # the upstream's task, polled through it
    direct, through = upstream.matching("POST", "/kubernetes/ops")
    assert (through.target, through.body) == (direct.target, direct.body)
    assert through.target.startswith("/kubernetes/ops?clientRequestId=")
    assert json.loads(through.body)[0]["deployManifest"]["manifests"] == manifest["manifests"]
    assert upstream.matching("GET", f"/task/{result.task_id}")

    # The one-operation form Orca's submitOperation uses, with kork's headers: the same bytes arrive.
    raw = b'{"account": "k8s", "manifestName": "deployment web", "replicas": 3}'
    answer = httpx.post(
        f"{gateway.url}/kubernetes/ops/scaleManifest?clientRequestId=scale-1",
        content=raw,
        headers={**ORCA_HEADERS, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200 and answer.json()["id"].startswith("up-")
    (scaled,) = upstream.matching("POST", "/kubernetes/ops/scaleManifest")
    assert scaled.body == raw and scaled.header("X-Spinnaker-Execution-Id") == "01JEXECUTION"

    metrics = httpx.get(f"{gateway.url}/metrics").text
    for name in ("deployManifest", "scaleManifest"):
        line = f'cloudops_gateway_passthrough_total{{operation="{name}",reason="unknown_operation"}} 1.0'
        assert line in metrics, metrics


def test_a_list_the_catalogue_knows_but_the_flags_keep_on_legacy_passes_through(
    upstream: RecordingUpstream, gateway: Process
) -> None:
    upstream.requests.clear()
    body = [{"resizeServerGroup": {"credentials": "prod", "region": "us-east-1", "serverGroupName": "myapp-main-v001",
                                   "capacity": {"min": 1, "max": 2, "desired": 1}}}]  # fmt: skip
    raw = json.dumps(body, separators=(",", ":")).encode()
    answer = httpx.post(f"{gateway.url}/aws/ops?clientRequestId=r-1", content=raw, headers=ORCA_HEADERS)
    assert answer.status_code == 200 and answer.json()["id"].startswith("up-")
    assert [r.body for r in upstream.matching("POST", "/aws/ops")] == [raw]
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert 'cloudops_gateway_passthrough_total{operation="resizeServerGroup",reason="legacy"} 1.0' in metrics


def _rss_bytes(pid: int) -> int:
    for line in FsPath(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class PeakRss:
    """The highest RSS of a process, sampled every few milliseconds while in use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, _rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_20_mb_response_and_upload_stream_without_the_gateway_growing(
    upstream: RecordingUpstream, gateway: Process
) -> None:
    size = 20 * MB
    pid = gateway.popen.pid
    for _ in range(3):  # warm up: pools, buffers and the allocator's arenas are there before the baseline
        httpx.get(f"{gateway.url}/big", params={"bytes": 2 * MB}, timeout=30).raise_for_status()
        httpx.put(f"{gateway.url}/upload", content=b"u" * (2 * MB), timeout=30).raise_for_status()
    before = _rss_bytes(pid)
    digest, received = hashlib.sha256(), 0
    with PeakRss(pid) as rss:
        with httpx.stream("GET", f"{gateway.url}/big", params={"bytes": size}, timeout=30) as response:
            assert response.status_code == 200 and response.headers["content-length"] == str(size)
            for chunk in response.iter_raw(256 * 1024):
                digest.update(chunk)
                received += len(chunk)
                time.sleep(0.001)  # a reader slower than the upstream: the gateway must not queue the body up
    direct = hashlib.sha256()
    with httpx.stream("GET", f"{upstream.url}/big", params={"bytes": size}, timeout=30) as response:
        for chunk in response.iter_raw():
            direct.update(chunk)
    assert received == size and digest.hexdigest() == direct.hexdigest()
    assert rss.peak - before < 8 * MB, f"the gateway grew by {(rss.peak - before) / MB:.1f} MB serving {size / MB} MB"

    def upload() -> Iterator[bytes]:
        block = b"0123456789abcdef" * 4096
        for _ in range(size // len(block)):
            yield block

    upstream.requests.clear()
    with PeakRss(pid) as rss:
        answer = httpx.put(f"{gateway.url}/upload", content=upload(), timeout=60)
    assert answer.status_code == 200 and answer.json()["bodyBytes"] == size
    (sent,) = upstream.matching("PUT", "/upload")
    assert hashlib.sha256(sent.body).digest() == hashlib.sha256(b"".join(upload())).digest()
    assert rss.peak - before < 8 * MB, f"the gateway grew by {(rss.peak - before) / MB:.1f} MB taking {size / MB} MB"


def test_an_upstream_that_times_out_or_hangs_up_answers_504_and_502(gateway: Process) -> None:
    slow = httpx.get(f"{gateway.url}/slow", params={"s": 3}, timeout=10)  # the gateway waits 1 s (its setting)
    assert slow.status_code == 504 and slow.json()["status"] == 504
    assert "did not answer GET /slow in time" in slow.json()["message"]
    hung = httpx.get(f"{gateway.url}/hangup", timeout=10)
    assert hung.status_code == 502 and "broke off GET /hangup" in hung.json()["message"]


def test_the_upstream_down_gives_orca_the_503_a_dead_clouddriver_behind_a_proxy_gives(
    tmp_path: FsPath,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    proc = gateway_process(write_config(tmp_path, dead), dead)
    try:
        read = httpx.get(f"{proc.url}/applications/myapp/serverGroups", headers=ORCA_HEADERS, timeout=10)
        assert read.status_code == 503
        body = read.json()
        assert set(body) >= {"timestamp", "status", "error", "message", "errors"} and body["status"] == 503
        assert f"the upstream Clouddriver at {dead} is unreachable" in body["message"]
        manifest = [{"deployManifest": {"account": "k8s", "manifests": []}}]
        ops = httpx.post(f"{proc.url}/kubernetes/ops", json=manifest, params={"clientRequestId": "d-1"}, timeout=10)
        assert ops.status_code == 503 and "nothing was sent to it" in ops.json()["message"]  # safe to retry
        task = httpx.get(f"{proc.url}/task/some-upstream-task", timeout=10)
        assert task.status_code == 503  # Orca's MonitorKatoTask retries a 503 on its next poll
    finally:
        proc.stop()
    assert proc.popen.returncode == 0, proc.log()[-3000:]
