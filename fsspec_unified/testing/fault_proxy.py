"""A loopback HTTP/1.1 proxy that breaks requests on purpose, on a reproducible schedule.

Reliability claims ("every read retries", "a failed upload leaves nothing behind") are only as
good as the faults they were tried against. :class:`FaultProxy` sits between a client and a
real S3 endpoint (or, with ``dialect="oss"``, in front of the OSS gateway) and forwards every
request byte for byte, streaming, so signatures and Content-MD5 stay valid and nothing is
re-signed. A :class:`FaultPlan` picks requests to break, in one of these ways:

``reset_request``
    read part of the request body, then reset the connection (``SO_LINGER`` 0: an RST, not
    a FIN); the request never reaches the upstream.
``reset_response``
    forward the request, send the response head and half its body, then reset. A response
    without a body (a PUT, a Complete, a HEAD) is reset before anything is sent: the upstream
    did the work, the client never hears of it.
``stall``
    read the request, send nothing for ``FaultPlan.stall_s`` seconds (set it past the
    client's read timeout), then close.
``truncate``
    forward, send the full ``Content-Length`` but only half the body, then close cleanly.
``slowdown`` / ``internal_error`` / ``too_many_requests``
    answer 503 ``SlowDown``, 500 ``InternalError`` or 429 ``TooManyRequests`` with an error
    document shaped like the provider's: S3's ``<Error>`` with ``x-amz-request-id``, or OSS's
    (with ``<HostId>``) and ``x-oss-request-id``. ``FaultPlan.burst`` repeats the answer for
    the next tries of the same request.

Reproducible. Whether a request is faulted, and how, is drawn from a random generator seeded
with the plan's seed, the request's identity (method, path, query without upload ids, Range)
and how many times that identity was seen: the same seed and the same keys give the same
faults, whatever order concurrent requests arrive in. An explicit ``script`` (the n-th
matching request gets ``script[n]``) is there for exact sequences.

Filterable and bounded. A plan matches requests by HTTP method and by request kind
(:data:`REQUEST_KINDS`: ``get_object``, ``list``, ``put_object``, ``upload_part``, ...), skips
the first ``skip`` matching requests and stops after ``max_faults`` faults; with
:meth:`FaultPlan.persistent` every matching request is faulted. Stalls end when the proxy
stops. :attr:`FaultProxy.injected` counts the faults injected by kind and
:attr:`FaultProxy.requests` the requests seen by request kind; :attr:`FaultProxy.plan` may be
replaced at any time (``None``: forward everything untouched).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import random
import socket
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from .etag_proxy import _read_chunked
from .loopback import HOP_BY_HOP, BackgroundHTTPService, ProxyServer, UpstreamProxyHandler

logger = logging.getLogger("fsspec_unified.testing.fault_proxy")

COPY_CHUNK_BYTES = 1024 * 1024
UPSTREAM_TIMEOUT_S = 120.0
DEFAULT_STALL_S = 1.5

RESET_REQUEST = "reset_request"
RESET_RESPONSE = "reset_response"
STALL = "stall"
TRUNCATE = "truncate"
SLOWDOWN = "slowdown"
INTERNAL_ERROR = "internal_error"
TOO_MANY_REQUESTS = "too_many_requests"

#: Error answers: fault kind -> (HTTP status, error code, message).
ERROR_RESPONSES: dict[str, tuple[int, str, str]] = {
    SLOWDOWN: (503, "SlowDown", "Please reduce your request rate."),
    INTERNAL_ERROR: (500, "InternalError", "We encountered an internal error. Please try again."),
    TOO_MANY_REQUESTS: (429, "TooManyRequests", "Too many requests, please slow down."),
}
CONNECTION_FAULTS = (RESET_REQUEST, RESET_RESPONSE, STALL, TRUNCATE)
FAULT_KINDS = (*CONNECTION_FAULTS, *ERROR_RESPONSES)

#: What a request is, for :attr:`FaultPlan.requests` and :attr:`FaultProxy.requests`.
REQUEST_KINDS = (
    "get_object", "head", "list", "put_object", "upload_part", "copy", "create_upload",
    "complete", "delete_objects", "delete", "other",
)
DIALECTS = ("s3", "oss")

_COPY_SOURCE_HEADERS = ("x-amz-copy-source", "x-oss-copy-source")


@dataclass(frozen=True)
class FaultPlan:
    """Which requests to break and how (see the module docstring).

    ``probability`` is the chance that a matching request is faulted (1.0: every one);
    ``kinds`` the faults to choose from (only those that apply to the request: a reset in the
    request body needs a body of ``min_body_bytes`` or more, a truncation a response body of
    that size or more); ``methods`` and ``requests`` filter by HTTP method and request kind
    (``None``: all); the first ``skip`` matching requests pass; at most ``max_faults`` faults
    are injected (``None``: no limit); an error answer is repeated for ``burst`` tries of the
    same request; ``stall_s`` is how long a stall lasts. ``script``, when given, replaces the
    random draw: the n-th matching request after ``skip`` gets ``script[n]`` (``None``: no
    fault), requests past its end none.
    """

    seed: int = 0
    probability: float = 0.2
    kinds: tuple[str, ...] = FAULT_KINDS
    methods: frozenset[str] | None = None
    requests: frozenset[str] | None = None
    min_body_bytes: int = 0
    max_faults: int | None = None
    skip: int = 0
    burst: int = 1
    stall_s: float = DEFAULT_STALL_S
    script: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.kinds, *(self.script or ())) if k and k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(FAULT_KINDS)}")
        if self.requests is not None and not set(self.requests) <= set(REQUEST_KINDS):
            raise ValueError(f"unknown request kind(s) {set(self.requests) - set(REQUEST_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability: between 0 and 1")
        if self.burst < 1 or self.skip < 0 or self.min_body_bytes < 0 or self.stall_s < 0:
            raise ValueError("burst must be 1 or more; skip, min_body_bytes, stall_s >= 0")
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))
        if self.requests is not None:
            object.__setattr__(self, "requests", frozenset(self.requests))

    @classmethod
    def persistent(cls, kind: str, **options) -> FaultPlan:
        """Every matching request gets ``kind`` (an outage, not a blip)."""
        return cls(probability=1.0, kinds=(kind,), max_faults=None, **options)

    def matches(self, request: RequestFacts) -> bool:
        return ((self.methods is None or request.method in self.methods)
                and (self.requests is None or request.kind in self.requests))

    def applies(self, kind: str, request: RequestFacts) -> bool:
        """Whether ``kind`` can be injected into ``request`` (as far as the request shows)."""
        if kind == RESET_REQUEST:
            return request.body_length is not None and request.body_length >= max(
                1, self.min_body_bytes)
        if kind == TRUNCATE:
            return request.method != "HEAD"
        return True


@dataclass(frozen=True)
class RequestFacts:
    """What the proxy knows of a request before deciding on a fault."""

    method: str
    kind: str
    identity: str
    body_length: int | None  # None: chunked (unknown until read)


def classify(method: str, path: str, query: list[tuple[str, str]],
             headers: dict[str, str]) -> str:
    """The request kind (one of :data:`REQUEST_KINDS`) of an S3 or OSS request."""
    names = {name for name, _ in query}
    bucket, _, key = path.lstrip("/").partition("/")
    copy = any(headers.get(name) for name in _COPY_SOURCE_HEADERS)
    if method == "HEAD":
        return "head"
    if method == "GET":
        if not key or "uploads" in names or "uploadId" in names:
            return "list"
        return "get_object" if bucket else "list"
    if method == "PUT" and key:
        if copy:
            return "copy"
        return "upload_part" if "uploadId" in names else "put_object"
    if method == "POST":
        if "uploads" in names:
            return "create_upload"
        if "uploadId" in names:
            return "complete"
        if "delete" in names:
            return "delete_objects"
    if method == "DELETE":
        return "delete"
    return "other"


class FaultProxy(BackgroundHTTPService):
    """A threaded HTTP/1.1 proxy to ``upstream_url`` that injects the faults of :attr:`plan`.

    ``dialect`` (``"s3"`` or ``"oss"``) shapes the error answers like the provider behind it.
    Use as a context manager, or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, upstream_url: str, *, dialect: str = "s3",
                 plan: FaultPlan | None = None) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream_url!r}")
        if dialect not in DIALECTS:
            raise ValueError(f"dialect: one of {', '.join(DIALECTS)}, not {dialect!r}")
        self.upstream_url = upstream_url.rstrip("/")
        self.dialect = dialect
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._plan: FaultPlan | None = None
        self._matched = 0
        self._decided = 0
        self._seen: Counter[str] = Counter()
        self._bursts: dict[str, tuple[str, int]] = {}
        #: Faults injected, by fault kind (accumulates across plans; see reset_counters).
        self.injected: Counter[str] = Counter()
        #: Requests seen, by request kind.
        self.requests: Counter[str] = Counter()
        #: ``(method, request kind, fault or None, status or None)`` per request.
        self.log: list[tuple[str, str, str | None, int | None]] = []
        self.plan = plan

    # -- public API -------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._server is None:
            self._stopping.clear()
            server = ProxyServer(_Handler, logger, self, self._upstream_host,
                                 self._upstream_port, UPSTREAM_TIMEOUT_S)
            self._serve(server, "fault-proxy")
        return self

    def stop(self) -> bool:
        self._stopping.set()  # ends stalls at once
        return super().stop()

    @property
    def plan(self) -> FaultPlan | None:
        """The faults to inject from now on (``None``: none); setting it starts the plan
        afresh (its ``skip``, ``max_faults`` and script count from then)."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan | None) -> None:
        with self._lock:
            self._plan = plan
            self._matched = 0
            self._decided = 0
            self._seen.clear()
            self._bursts.clear()

    @contextlib.contextmanager
    def faults(self, plan: FaultPlan) -> Iterator[FaultProxy]:
        """Inject ``plan``'s faults inside the block only."""
        self.plan = plan
        try:
            yield self
        finally:
            self.plan = None

    def reset_counters(self) -> None:
        with self._lock:
            self.injected.clear()
            self.requests.clear()
            self.log.clear()

    # -- decisions --------------------------------------------------------------------------

    def decide(self, request: RequestFacts) -> str | None:
        """The fault (or ``None``) for ``request`` under the current plan; counts it as seen."""
        with self._lock:
            self.requests[request.kind] += 1
            plan = self._plan
            if plan is None or not plan.matches(request):
                return None
            index = self._matched - plan.skip
            self._matched += 1
            occurrence = self._seen[request.identity]
            self._seen[request.identity] += 1
            if index < 0 or (plan.max_faults is not None and self._decided >= plan.max_faults):
                return None
            kind = self._draw(plan, request, index, occurrence)
            if kind is not None:
                self._decided += 1
            return kind

    def _draw(self, plan: FaultPlan, request: RequestFacts, index: int,
              occurrence: int) -> str | None:
        burst = self._bursts.pop(request.identity, None)
        if burst is not None:
            kind, left = burst
            if left > 1:
                self._bursts[request.identity] = (kind, left - 1)
            return kind
        if plan.script is not None:
            kind = plan.script[index] if index < len(plan.script) else None
            return kind if kind is not None and plan.applies(kind, request) else None
        rng = random.Random(f"{plan.seed}:{request.identity}:{occurrence}")
        if rng.random() >= plan.probability:
            return None
        applicable = [kind for kind in plan.kinds if plan.applies(kind, request)]
        if not applicable:
            return None
        kind = rng.choice(applicable)
        if kind in ERROR_RESPONSES and plan.burst > 1:
            self._bursts[request.identity] = (kind, plan.burst - 1)
        return kind

    def _withdraw(self) -> None:
        """A response fault that turned out not to apply (no body to cut) was not injected."""
        with self._lock:
            self._decided -= 1

    def _injected(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1
        logger.debug("injected %s", kind)

    def _record(self, method: str, kind: str, fault: str | None, status: int | None) -> None:
        with self._lock:
            self.log.append((method, kind, fault, status))

    def _error_response(self, kind: str, resource: str,
                        ) -> tuple[int, list[tuple[str, str]], bytes]:
        status, code, message = ERROR_RESPONSES[kind]
        if self.dialect == "oss":
            request_id = uuid.uuid4().hex[:24].upper()
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                    "<HostId>127.0.0.1</HostId></Error>").encode()
            headers = [("x-oss-request-id", request_id), ("Server", "AliyunOSS")]
        else:
            request_id = uuid.uuid4().hex[:16].upper()
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                    f"<Message>{escape(message)}</Message><Resource>{escape(resource)}"
                    f"</Resource><RequestId>{request_id}</RequestId></Error>").encode()
            headers = [("x-amz-request-id", request_id),
                       ("x-amz-id-2", base64.b64encode(uuid.uuid4().bytes).decode())]
        headers.append(("Content-Type", "application/xml"))
        return status, headers, body


class _Handler(UpstreamProxyHandler):
    logger = logger
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            self._handle()
        except (ConnectionError, TimeoutError, OSError) as error:
            # The client went away (it timed out, or gave up on a stall): nothing to answer.
            logger.debug("connection ended: %r", error)
            self.close_connection = True

    do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

    # -- one request ------------------------------------------------------------------------

    def _handle(self) -> None:
        proxy = self.server.proxy
        method = self.command
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = None if chunked else int(headers.get("content-length", "0") or 0)
        identity_query = "&".join(f"{k}={'*' if k == 'uploadId' else v}"
                                  for k, v in sorted(query))
        facts = RequestFacts(
            method=method, kind=classify(method, url.path, query, headers),
            identity=f"{method} {url.path}?{identity_query} {headers.get('range', '')}",
            body_length=length,
        )
        fault = proxy.decide(facts)
        plan = proxy.plan

        if fault == RESET_REQUEST:
            self.rfile.read(max(1, (length or 0) // 2))
            proxy._injected(fault)
            proxy._record(method, facts.kind, fault, None)
            self._reset()
            return
        if fault == STALL:
            self._drain(length, chunked)
            proxy._injected(fault)
            proxy._record(method, facts.kind, fault, None)
            proxy._stopping.wait(plan.stall_s if plan is not None else DEFAULT_STALL_S)
            self.close_connection = True
            return
        if fault in ERROR_RESPONSES:
            self._drain(length, chunked)
            status, error_headers, body = proxy._error_response(fault, url.path)
            proxy._injected(fault)
            proxy._record(method, facts.kind, fault, status)
            self._send_error_answer(method, status, error_headers, body)
            return

        response = self._forward(method, length, chunked)
        if response is None:
            proxy._record(method, facts.kind, None, 502)
            return
        proxy._record(method, facts.kind, fault, response.status)
        body_length = response.length if not response.chunked else None
        no_body = method == "HEAD" or response.status in (204, 304)
        if no_body:
            body_length = 0
        min_bytes = plan.min_body_bytes if plan is not None else 0
        if fault == RESET_RESPONSE:
            if body_length is not None and body_length >= 2 and body_length >= min_bytes:
                self._send_head(response)
                self.wfile.write(response.read(body_length // 2))
            elif min_bytes > 0:
                proxy._withdraw()
                self._relay(response, no_body)
                return
            proxy._injected(fault)
            self._close_upstream()
            self._reset()
            return
        if fault == TRUNCATE:
            if body_length is not None and body_length >= max(2, min_bytes):
                self._send_head(response)
                self.wfile.write(response.read(body_length // 2))
                proxy._injected(fault)
                self._close_upstream()
                self.close_connection = True  # a clean close, short of Content-Length
                return
            proxy._withdraw()
        self._relay(response, no_body)

    def _drain(self, length: int | None, chunked: bool) -> None:
        """Read (and drop) the request body, so the client is not stuck sending it."""
        if chunked:
            _read_chunked(self.rfile)
            return
        left = length or 0
        while left > 0:
            chunk = self.rfile.read(min(COPY_CHUNK_BYTES, left))
            if not chunk:
                raise ConnectionResetError("client body shorter than Content-Length")
            left -= len(chunk)

    def _reset(self) -> None:
        """Reset the client connection: SO_LINGER 0, then close, so the peer gets an RST."""
        self.close_connection = True
        connection = self.connection
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            socket.close(connection.detach())

    def _send_error_answer(self, method: str, status: int, headers: list[tuple[str, str]],
                           body: bytes) -> None:
        proxy = self.server.proxy
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        if method == "HEAD":
            if proxy.dialect == "oss":  # OSS puts a HEAD error's document in a header
                self.send_header("x-oss-err", base64.b64encode(body).decode())
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- upstream ---------------------------------------------------------------------------

    def _forward(self, method: str, length: int | None,
                 chunked: bool) -> http.client.HTTPResponse | None:
        """Send the request upstream (the body streamed as it arrives); its response, or
        ``None`` after answering 502 when the upstream could not be reached."""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        body: bytes | None = None
        if chunked:
            body = _read_chunked(self.rfile)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        elif not length:
            body = b""
        return self._send_upstream(
            method, headers, body,
            lambda connection: self._stream_body(connection, length or 0))

    def _stream_body(self, connection: http.client.HTTPConnection, length: int) -> None:
        sent = 0
        while sent < length:
            chunk = self.rfile.read(min(COPY_CHUNK_BYTES, length - sent))
            if not chunk:
                raise ConnectionResetError("client body shorter than Content-Length")
            connection.send(chunk)
            sent += len(chunk)

    def _send_head(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _relay(self, response: http.client.HTTPResponse, no_body: bool) -> None:
        """Pass the response on unchanged (a chunked one re-chunked)."""
        if no_body:
            self._send_head(response)
            response.read()
            return
        chunked = response.length is None
        upstream_closes = chunked and response.will_close and not response.chunked
        if upstream_closes:
            self.close_connection = True
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        if chunked and not upstream_closes:
            self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        while chunk := response.read(COPY_CHUNK_BYTES):
            if chunked and not upstream_closes:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            else:
                self.wfile.write(chunk)
        if chunked and not upstream_closes:
            self.wfile.write(b"0\r\n\r\n")
        if upstream_closes:
            self._close_upstream()

