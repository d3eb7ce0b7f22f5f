"""The real Clouddriver behind the gateway (`--upstream`): every request the gateway does not route itself is
forwarded to it unchanged and its answer streamed back unchanged.

Forwarded as they are: the method, the raw path and query (percent-encoding included), every end-to-end header
(kork's `X-Spinnaker-*` ones too), the body (streamed, never read whole), the upstream's status, headers and
body bytes (streamed as they arrive, still compressed if the upstream compressed them: nothing is decoded, so
`Content-Length` and `Content-Encoding` stay true). Dropped, as any HTTP proxy must: the hop-by-hop headers
(`Connection` and the headers it names, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Trailer`, `Upgrade`,
`Proxy-*`), the client's `Host` (the upstream's own is sent) and `Expect` (waitress has answered it). One
pooled `httpx.Client` serves every request; it keeps no cookies, follows no redirects, reads no proxy settings.

An upstream that cannot be reached answers as a dead Clouddriver behind a proxy does, and as Orca's retrofit
error handling expects (orca-retrofit BaseRetrofitExceptionHandler: 503 is retried for every method, 502 and
504 for idempotent ones): 503 when nothing reached the upstream (refused, no connection in time), so a retried
POST cannot run anything twice; 504 when the upstream took the request and did not answer in time; 502 when it
broke the exchange. Each is a Spring error map saying the upstream is down, from the gateway's error handlers.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import IO
from urllib.parse import quote

import httpx
from flask import Request, Response

from clouddriver_wire.errors import ClouddriverError, ServiceUnavailable

__all__ = [
    "HOP_BY_HOP",
    "RecentIds",
    "Upstream",
    "UpstreamError",
    "UpstreamFailed",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "end_to_end",
    "raw_target",
    "read_prefix",
    "request_body",
]

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
)
_CHUNK = 64 * 1024
_NO_LIMIT = 2**62
# Set by the gateway's own side of the exchange: `Host` is the upstream's, and waitress has already answered an
# `Expect: 100-continue` and read the body, so the upstream must not be asked to say "continue" again.
_OWN_REQUEST_HEADERS = frozenset({"host", "expect"})
_HTTPX_DEFAULTS = ("Accept", "Accept-Encoding", "Connection", "User-Agent")


class UpstreamError(ClouddriverError):
    """The upstream Clouddriver could not answer a forwarded request; `status` says how Orca should take it."""


class UpstreamUnavailable(UpstreamError, ServiceUnavailable):
    """503: nothing reached the upstream (connection refused, none in time): any request may be retried."""


class UpstreamTimeout(UpstreamError):
    """504: the upstream took the request and did not answer in time (it may have acted on it)."""

    status = 504


class UpstreamFailed(UpstreamError):
    """502: the upstream broke the exchange (closed the connection, spoke something other than HTTP)."""

    status = 502


def end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers a proxy passes on: all but the hop-by-hop ones (those `Connection` names included) (pure)."""
    pairs = list(headers)
    named = {t.strip().lower() for k, v in pairs if k.lower() == "connection" for t in v.split(",") if t.strip()}
    return [
        (k, v)
        for k, v in pairs
        if k.lower() not in HOP_BY_HOP and k.lower() not in named and not k.lower().startswith("proxy-")
    ]


def raw_target(request: Request) -> str:
    """The request's path and query exactly as the client sent them (waitress's REQUEST_URI), else rebuilt."""
    environ = request.environ
    query = environ.get("QUERY_STRING") or ""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not isinstance(raw, str) or not raw.startswith("/"):
        raw = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=-._~%")
    if query and "?" not in raw:  # some servers (Werkzeug's) give the path alone
        raw = f"{raw}?{query}"
    return raw or "/"


def _has_body(request: Request) -> bool:
    return bool(request.headers.get("Transfer-Encoding")) or request.headers.get("Content-Length") not in (None, "0")


def request_body(request: Request, prefix: bytes = b"") -> Iterator[bytes]:
    """The request's body in chunks, after `prefix` (what was read of it already), never read whole."""
    # The upstream's limits apply to what it serves, not the gateway's (None would mean the app's).
    request.max_content_length = _NO_LIMIT
    return _chunks(request.stream, prefix)


def read_prefix(request: Request, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of the body, and whether that is all of it (a longer body is read no further)."""
    request.max_content_length = _NO_LIMIT
    length = request.content_length
    if length is not None and length > limit:
        return b"", False
    parts, size = [], 0
    while size <= limit and (chunk := request.stream.read(min(_CHUNK, limit + 1 - size))):
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), size <= limit


def _chunks(stream: IO[bytes], prefix: bytes) -> Iterator[bytes]:
    if prefix:
        yield prefix
    while chunk := stream.read(_CHUNK):
        yield chunk


class RecentIds:
    """A bounded set of ids, the least recently seen dropped first (thread-safe).

    The gateway keeps here the task ids it found are not its own: a gateway task id is a random UUID that exists
    in the shared tables before any caller has seen it, so an id once absent there is the upstream's for good,
    and Orca's next polls of it (every 5 s) pass through without asking the database again.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: object) -> bool:
        with self._lock:
            if key not in self._ids:
                return False
            self._ids.move_to_end(key)  # type: ignore[arg-type]
            return True

    def add(self, key: str) -> None:
        with self._lock:
            self._ids[key] = None
            self._ids.move_to_end(key)
            while len(self._ids) > self._capacity:
                self._ids.popitem(last=False)


class Upstream:
    """Forwards requests to the Clouddriver at `base_url` through one pooled client; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s, pool=connect_timeout_s)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,  # a redirect is the upstream's answer, passed on as it is
            trust_env=False,  # never an HTTP proxy from the environment between the gateway and its Clouddriver
            # A proxy keeps no cookies: one caller's Set-Cookie must never ride along on another caller's request.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        for name in _HTTPX_DEFAULTS:  # send what the client sent, not httpx's defaults (no gzip it did not ask for)
            self._http.headers.pop(name, None)
        self.task_ids = RecentIds()  # task ids known to be the upstream's (see RecentIds)

    @property
    def http(self) -> httpx.Client:
        """The pooled client, for the gateway's own calls to the upstream (its accounts)."""
        return self._http

    def close(self) -> None:
        self._http.close()

    def forward(self, request: Request, *, body: bytes | Iterator[bytes] | None = None) -> Response:
        """Forward `request` and stream the upstream's answer back. `body` is what the caller already read of the
        request's body (all of it as bytes, or the rest chained on as `request_body` makes it); by default the
        body is streamed from the request."""
        headers = [(k, v) for k, v in end_to_end(request.headers.items()) if k.lower() not in _OWN_REQUEST_HEADERS]
        content = body if body is not None else request_body(request) if _has_body(request) else None
        target = raw_target(request)
        upstream_request = self._http.build_request(request.method, target, headers=headers, content=content)
        try:
            answer = self._http.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            raise self._error(request.method, target, exc) from exc
        response = Response(
            self._body(answer, request.method, target),
            status=answer.status_code,
            headers=end_to_end(answer.headers.multi_items()),
            direct_passthrough=True,
        )
        if "content-type" not in answer.headers:
            response.headers.pop("Content-Type", None)  # Flask's default would be a header the upstream never sent
        response.call_on_close(answer.close)
        return response

    def get(self, request: Request) -> httpx.Response:
        """`GET` the request's target for the gateway itself, read whole and decoded, with the request's end-to-end
        headers but its encodings; raises the UpstreamError of a failed exchange."""
        skip = {*_OWN_REQUEST_HEADERS, "accept-encoding", "content-length"}
        headers = [(k, v) for k, v in end_to_end(request.headers.items()) if k.lower() not in skip]
        target = raw_target(request)
        try:
            return self._http.get(target, headers=headers)
        except httpx.HTTPError as exc:
            raise self._error("GET", target, exc) from exc

    def _body(self, answer: httpx.Response, method: str, target: str) -> Iterator[bytes]:
        try:
            yield from answer.iter_raw(_CHUNK)
        except httpx.HTTPError as exc:
            # The status and headers are sent already: all a proxy can do is end the body early (the client sees
            # a short read against Content-Length, or a chunked body without its end).
            log.warning("the upstream broke off its answer to %s %s: %s", method, target, type(exc).__name__)
        finally:
            answer.close()

    def _error(self, method: str, target: str, exc: httpx.HTTPError) -> UpstreamError:
        where = f"the upstream Clouddriver at {self.base_url}"
        what = f"{method} {target.split('?', 1)[0]}"
        log.warning("%s failed on %s: %s: %s", where, what, type(exc).__name__, exc)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return UpstreamUnavailable(
                f"{where} is unreachable ({type(exc).__name__}); nothing was sent to it: retry later",
                errors=[f"{what} was not forwarded"],
            )
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeout(
                f"{where} did not answer {what} in time ({type(exc).__name__}); it may have acted on it",
                errors=["retry only if the request is idempotent, or look the result up first"],
            )
        return UpstreamFailed(
            f"{where} broke off {what} ({type(exc).__name__}: {exc}); it may have acted on it",
            errors=["retry only if the request is idempotent, or look the result up first"],
        )
