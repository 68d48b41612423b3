"""The gateway: a threaded HTTP server on loopback that speaks OSS and forwards to S3."""

from __future__ import annotations

import logging
import secrets
import threading
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict

from ..loopback import LOOPBACK, BackgroundHTTPService, LoopbackHTTPServer, QuietRequestHandler
from .body import BodyReader, read_chunked
from .errors import OSSServiceError
from .operations import Operations, OSSRequest, OSSResponse
from .routing import parse_path
from .signing import SignatureVerifier, self_test
from .upstream import Upstream

logger = logging.getLogger("fsspec_unified.testing.oss_gateway")

CRC_MODES = ("correct", "omit", "corrupt")
MAX_CONCURRENT_REQUESTS = 64
# Unread request bodies up to this size are drained so the connection stays usable.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


class _BoundedServer(LoopbackHTTPServer):
    """A loopback server with at most ``MAX_CONCURRENT_REQUESTS`` connections served."""

    def __init__(self, gateway: OSSGateway) -> None:
        self.gateway = gateway
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_REQUESTS)
        super().__init__(_Handler, logger)

    def process_request(self, request, client_address) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(QuietRequestHandler):
    logger = logger
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: with Nagle's algorithm on, the body waits for the
    # client's delayed ACK, about 40 ms on every keep-alive request.
    disable_nagle_algorithm = True
    server_version = "AliyunOSS"
    sys_version = ""
    server: _BoundedServer

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def log_request(self, code: object = "-", size: object = "-") -> None:
        """Silenced: the request line holds presigned-URL signatures; ``_handle`` logs."""

    def _handle(self) -> None:
        request_id = secrets.token_hex(12).upper()
        gateway = self.server.gateway
        body: BodyReader | None = None
        response: OSSResponse | None = None
        url = urlsplit(self.path)
        bucket, key = parse_path(url.path)
        try:
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            headers = CaseInsensitiveDict(self.headers.items())
            body = self._request_body(headers)
            access_key = gateway._verifier.verify(self.command, dict(headers), params, bucket,
                                                  key)
            request = OSSRequest(self.command, bucket, key, params, headers, body,
                                 upstream=gateway._identity_upstreams.get(access_key))
            response = gateway._operations.dispatch(request)
        except OSSServiceError as error:
            response = self._error_response(error, request_id)
        except Exception:
            logger.exception("OSS gateway: %s %s failed", self.command, url.path)
            response = self._error_response(
                OSSServiceError(500, "InternalError", "The gateway failed."), request_id)
        logger.debug("%s %s -> %d (%s)", self.command, url.path, response.status, request_id)
        if body is not None and not body.fully_read:
            try:
                if not body.drain(DRAIN_LIMIT_BYTES):
                    self.close_connection = True
            except (OSError, OSSServiceError):
                self.close_connection = True
        self._send(response, request_id)

    def _request_body(self, headers: CaseInsensitiveDict) -> BodyReader | None:
        if headers.get("Transfer-Encoding", "").lower() == "chunked":
            return read_chunked(self.rfile)
        length = headers.get("Content-Length")
        if length is None:
            return None
        try:
            return BodyReader(self.rfile, int(length))
        except ValueError:
            raise OSSServiceError(400, "InvalidArgument", "Invalid Content-Length.") from None

    def _error_response(self, error: OSSServiceError, request_id: str) -> OSSResponse:
        headers = {"x-oss-ec": error.ec}
        if self.command == "HEAD":
            headers["x-oss-err"] = error.head_header(request_id)
            return OSSResponse(error.status, headers)
        headers["Content-Type"] = "application/xml"
        return OSSResponse(error.status, headers, error.body(request_id))

    def _send(self, response: OSSResponse, request_id: str) -> None:
        try:
            self.send_response(response.status)
            headers = dict(response.headers)
            headers["x-oss-request-id"] = request_id
            if response.stream is None and not (self.command == "HEAD"
                                                and "Content-Length" in headers):
                headers["Content-Length"] = str(len(response.body))
            elif "Content-Length" not in headers:
                self.close_connection = True  # unknown length: end of body = end of connection
            if self.close_connection:
                headers["Connection"] = "close"
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            if response.stream is None:
                self.wfile.write(response.body)
            else:
                for chunk in response.stream:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if response.close is not None:
                response.close()


class OSSGateway(BackgroundHTTPService):
    """An Aliyun OSS endpoint for tests, backed by an S3 server (SeaweedFS).

    Clients (oss2, alibabacloud-oss-v2, the project's oss driver) talk OSS to
    :attr:`endpoint_url` with path-style addressing and V1 or V4 signatures; the gateway
    verifies them, re-signs with SigV4 and forwards to ``upstream_endpoint``.
    ``crc_mode`` ("correct", "omit", "corrupt") controls the ``x-oss-hash-crc64ecma``
    header on writes and full reads and may be changed at any time.

    :meth:`add_identity` accepts a further key pair that the upstream server also knows:
    its requests are verified with its own secret and forwarded under the same identity, so
    the upstream's permissions for it apply unchanged.
    """

    def __init__(self, upstream_endpoint: str, upstream_access_key: str,
                 upstream_secret_key: str, *, access_key: str | None = None,
                 secret_key: str | None = None, region: str = "cn-hangzhou") -> None:
        self.region = region
        self.access_key = access_key or upstream_access_key
        self._upstream_args = (upstream_endpoint, upstream_access_key, upstream_secret_key)
        self._verifier = SignatureVerifier(self.access_key, secret_key or upstream_secret_key)
        self._crc_mode = "correct"
        self._upstream: Upstream | None = None
        self._operations: Operations | None = None
        self._identities: dict[str, str] = {}
        self._identity_upstreams: dict[str, Upstream] = {}

    def __repr__(self) -> str:
        port = self._server.port if self._server is not None else None
        return f"OSSGateway(port={port}, upstream={self._upstream_args[0]!r})"

    @property
    def crc_mode(self) -> str:
        return self._crc_mode

    @crc_mode.setter
    def crc_mode(self, mode: str) -> None:
        if mode not in CRC_MODES:
            raise ValueError(f"crc_mode must be one of {CRC_MODES}, not {mode!r}")
        self._crc_mode = mode

    def add_identity(self, access_key: str, secret_key: str) -> None:
        """Serve requests signed with this key pair, forwarded upstream with the same one."""
        self._verifier.add_identity(access_key, secret_key)
        self._identities[access_key] = secret_key
        if self._server is not None:
            self._identity_upstreams[access_key] = self._new_upstream(access_key, secret_key)

    def remove_identity(self, access_key: str) -> None:
        """Refuse requests signed with this key from now on (a key rotated away). Its
        upstream client is dropped, not closed: a request already verified finishes on it."""
        self._verifier.remove_identity(access_key)
        self._identities.pop(access_key, None)
        self._identity_upstreams.pop(access_key, None)

    def _new_upstream(self, access_key: str, secret_key: str) -> Upstream:
        return Upstream(self._upstream_args[0], access_key, secret_key,
                        pool_size=MAX_CONCURRENT_REQUESTS)

    def start(self) -> OSSGateway:
        """Bind a free loopback port, self-test signing and serve in a background thread."""
        if self._server is not None:
            return self
        self_test(self.region)
        endpoint, access_key, secret_key = self._upstream_args
        self._upstream = self._new_upstream(access_key, secret_key)
        for identity, identity_secret in self._identities.items():
            self._identity_upstreams[identity] = self._new_upstream(identity, identity_secret)
        server = _BoundedServer(self)
        self._operations = Operations(self._upstream, self.region, f"{LOOPBACK}:{server.port}",
                                      owner_id=self.access_key,
                                      crc_mode=lambda: self._crc_mode)
        self._serve(server, "oss-gateway")
        logger.info("OSS gateway on %s -> %s", self.endpoint_url, endpoint)
        return self

    def stop(self) -> bool:
        if not super().stop():
            return False
        if self._upstream is not None:
            self._upstream.close()
        for upstream in self._identity_upstreams.values():
            upstream.close()
        self._identity_upstreams = {}
        logger.info("OSS gateway stopped")
        return True


