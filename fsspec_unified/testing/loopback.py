"""What the test servers share: a threaded HTTP server on a free loopback port, run from a
background thread, started and stopped (or used as a context manager) by its owner.

Used by the OSS gateway and the ETag proxy, so each of them holds only its protocol.
"""

from __future__ import annotations

import http.client
import logging
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
_THREAD_JOIN_TIMEOUT_S = 10.0
_QUERY = re.compile(r"\?[^\s\"]*")
IDLE_REUSE_S = 2.0  # an upstream connection idle longer than this is replaced

# Headers that describe one hop, not the request: never forwarded as they came.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "expect",
})


class QuietRequestHandler(BaseHTTPRequestHandler):
    """A request handler that logs each request at DEBUG on its class's ``logger``, without
    query strings: a presigned URL's query holds its signature, which must not reach a log."""

    logger: logging.Logger

    def log_message(self, format: str, *args: object) -> None:
        self.logger.debug("%s %s", self.client_address[0],
                          _QUERY.sub("?...", format % args))


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on a free loopback port whose request threads never keep the
    process alive, and which logs a client hanging up at debug level instead of printing a
    traceback (clients under test time out and retry on purpose)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler], logger: logging.Logger) -> None:
        self._logger = logger
        super().__init__((LOOPBACK, 0), handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            self._logger.debug("client %s went away: %r", client_address, error)
        else:
            self._logger.exception("error serving %s", client_address)


class BackgroundHTTPService(ABC):
    """Owns one :class:`LoopbackHTTPServer` and the thread serving it.

    Subclasses build their server in ``start`` and hand it to :meth:`_serve`; ``stop`` shuts
    it down and returns whether it was running, so a subclass can release what it holds.
    """

    _server: LoopbackHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{LOOPBACK}:{self._server.port}"

    def _serve(self, server: LoopbackHTTPServer, thread_name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=thread_name,
                                        daemon=True)
        self._thread.start()

    def stop(self) -> bool:
        server, self._server = self._server, None
        if server is None:
            return False
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=_THREAD_JOIN_TIMEOUT_S)
            self._thread = None
        return True

    @abstractmethod
    def start(self) -> BackgroundHTTPService:
        """Build the server, hand it to :meth:`_serve`, return ``self`` (idempotent)."""

    def __enter__(self) -> BackgroundHTTPService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ProxyServer(LoopbackHTTPServer):
    """A loopback server whose handlers forward to one upstream for ``proxy``, their owner."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], logger: logging.Logger,
                 proxy: Any, upstream_host: str, upstream_port: int,
                 upstream_timeout_s: float) -> None:
        self.proxy = proxy
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.upstream_timeout_s = upstream_timeout_s
        super().__init__(handler, logger)


class UpstreamProxyHandler(QuietRequestHandler):
    """A proxy's request handler: one upstream connection per client connection, replaced
    after idling (the upstream may have closed it), closed when the client leaves."""

    server: ProxyServer
    _upstream: http.client.HTTPConnection | None = None
    _upstream_used = 0.0

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        """The upstream connection of this client connection; a new one after idling."""
        now = time.monotonic()
        if self._upstream is not None and (fresh or now - self._upstream_used > IDLE_REUSE_S):
            self._close_upstream()
        if self._upstream is None:
            server = self.server
            self._upstream = http.client.HTTPConnection(
                server.upstream_host, server.upstream_port, timeout=server.upstream_timeout_s)
        self._upstream_used = now
        return self._upstream

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def _send_upstream(
        self, method: str, headers: list[tuple[str, str]], body: bytes | None,
        stream_body: Callable[[http.client.HTTPConnection], None],
    ) -> http.client.HTTPResponse | None:
        """Send the request upstream (``body``, or ``stream_body`` when it is not in memory)
        and return the response; ``None`` after answering 502 when the upstream failed.

        A body in memory is sent again once on a fresh connection (the upstream may have
        closed an idle keep-alive one); a streamed body cannot be."""
        attempts = 2 if body is not None else 1
        for attempt in range(attempts):
            connection = self._connection(fresh=attempt > 0)
            try:
                connection.putrequest(method, self.path, skip_host=True,
                                      skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.endheaders()
                if body is not None:
                    connection.send(body)
                else:
                    stream_body(connection)
                return connection.getresponse()
            except (OSError, http.client.HTTPException):
                self._close_upstream()
                if attempt + 1 < attempts:
                    continue
        self.close_connection = True
        self.send_error(502, "upstream failed")
        return None

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client went away, or the connection was reset on purpose
        finally:
            self._close_upstream()
