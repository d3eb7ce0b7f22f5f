"""A recording upstream: a small real HTTP server (the standard library's, on a thread) that stands in for a real
Clouddriver's reads behind the gateway, and records every request it gets, byte for byte.

It answers, deterministically from the request alone (so a request sent directly and one sent through the gateway
get the same bytes back):

- `GET /credentials`: the accounts, as Clouddriver's CredentialsController renders them (`accounts`);
- `POST /{provider}/ops`, `POST /ops` (and the `/{name}` forms): `{id, resourceUri}` with an id of its own, and
  `GET /task/{that id}` a completed task; `GET /task` one running task of its own, `up-running`;
- `GET /big?bytes=N`: N bytes, written in 64 KiB chunks as they are made (never held whole);
- `GET /slow?s=S`: its answer after S seconds; `GET /hangup`: the connection closed without an answer;
- `?status=NNN` on any path but those two: that status, with a Spring error map;
- any other request: a JSON echo of its method, path, query and body length, with a few headers of its own
  (`X-Upstream-Request`, `Cache-Control`, two `Set-Cookie`) that a proxy must pass on.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Recorded", "RecordingUpstream", "DEFAULT_ACCOUNTS"]

DEFAULT_ACCOUNTS: list[dict[str, Any]] = [
    {"name": "prod", "type": "aws", "cloudProvider": "aws", "accountType": "prod", "environment": "prod",
     "regions": [{"name": "us-east-1", "availabilityZones": ["us-east-1a"]}, {"name": "us-west-2"}]},
    {"name": "titustest", "type": "titus", "cloudProvider": "titus", "regions": [{"name": "us-east-1"}]},
    {"name": "k8s", "type": "kubernetes", "cloudProvider": "kubernetes"},
]  # fmt: skip
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the upstream received it."""

    method: str
    target: str  # the raw path and query
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class RecordingUpstream:
    """Start with `start()`, stop with `stop()`; `requests` is everything received, in order."""

    accounts: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_ACCOUNTS))
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: set[socket.socket] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RecordingUpstream:
        upstream = self

        class Handler(_Handler):
            owner = upstream

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="recording-upstream", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (a keep-alive one would otherwise still answer)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._sockets.clear()

    def opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    def next_id(self) -> str:
        with self._lock:
            return f"up-{next(self._ids)}"

    def matching(self, method: str, path_prefix: str) -> Sequence[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.target.startswith(path_prefix)]


class _Handler(BaseHTTPRequestHandler):
    owner: RecordingUpstream
    protocol_version = "HTTP/1.1"  # keep-alive, so the gateway's pool reuses connections as with a real server

    def setup(self) -> None:
        super().setup()
        self.owner.opened(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the stdlib's own signature
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        self.owner.record(Recorded(self.command, self.path, tuple(self.headers.items()), body))
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/hangup":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if path == "/slow":
            time.sleep(float(query.get("s", "1")))
        if path == "/big" and self.command == "GET":
            self._stream(int(query["bytes"]))
            return
        if "status" in query:
            status = int(query["status"])
            self._json(status, {"status": status, "error": "upstream says no", "message": f"as asked: {status}"})
        elif path == "/credentials" and self.command == "GET":
            self._json(200, self.owner.accounts)
        elif self.command == "POST" and (path.endswith("/ops") or "/ops/" in path):
            task_id = self.owner.next_id()
            self._json(200, {"id": task_id, "resourceUri": f"/task/{task_id}"})
        elif self.command == "GET" and path == "/task":
            self._json(200, [{"id": "up-running", "status": {"completed": False, "failed": False}}])
        elif self.command == "GET" and path.startswith("/task/up-"):
            self._json(200, _completed_task(path.rsplit("/", 1)[1]))
        else:
            echo = {"method": self.command, "path": path, "query": url.query, "bodyBytes": len(body)}
            self._json(200, echo, extra=[("Cache-Control", "max-age=5"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])

    def _json(self, status: int, value: Any, extra: Sequence[tuple[str, str]] = ()) -> None:
        raw = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Upstream-Request", hashlib.sha256(self.path.encode()).hexdigest()[:16])
        for name, value_ in extra:
            self.send_header(name, value_)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _stream(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = bytes(range(256)) * (_CHUNK // 256)
        sent = 0
        while sent < size:
            piece = block[: min(_CHUNK, size - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _completed_task(task_id: str) -> dict[str, Any]:
    status = {"phase": "ORCHESTRATION", "status": "Orchestration completed.", "complete": True, "completed": True}
    history = [
        {"phase": "ORCHESTRATION", "status": "Initializing Orchestration Task"},
        {"phase": "ORCHESTRATION", "status": "Orchestration completed."},
    ]
    return {
        "id": task_id,
        "status": {**status, "failed": False, "retryable": False},
        "history": history,
        "resultObjects": [{"manifestNamesByNamespace": {"default": ["deployment web"]}}],
        "sagaIds": [],
        "retryable": False,
    }
