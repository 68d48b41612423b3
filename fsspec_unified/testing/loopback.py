"""What the test servers share: a threaded HTTP server on a free loopback port, run from a
background thread, started and stopped (or used as a context manager) by its owner.

Used by the OSS gateway and the ETag proxy, so each of them holds only its protocol.
"""

from __future__ import annotations

import logging
import sys
import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"
_THREAD_JOIN_TIMEOUT_S = 10.0


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
