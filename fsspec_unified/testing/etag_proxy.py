"""A loopback HTTP proxy for tests that makes an S3 server look like AWS under SSE-KMS.

On AWS, objects encrypted with SSE-KMS or SSE-C (and objects in S3 Express buckets) have
32-hex ETags that are *not* the MD5 of their bytes. SeaweedFS always returns MD5 ETags, so
code that wrongly treats an ETag as a checksum passes against it. :class:`EtagProxy` sits in
front of an S3 endpoint and gives clients that AWS world:

* every ETag the upstream returns (the ``ETag`` response header and every ``<ETag>`` element of
  an XML response: CompleteMultipartUpload, ListObjects, ListParts, CopyObjectResult, ...)
  becomes ``md5(b"fake:" + real)`` (a multipart ``-N`` suffix is kept), deterministic and never
  the MD5 of the data; the proxy remembers fake -> real;
* ETags the client sends back (``If-Match``, ``If-None-Match``,
  ``x-amz-copy-source-if-match``, ``x-amz-copy-source-if-none-match`` and the part ETags of a
  CompleteMultipartUpload body) are mapped back to the real ones before forwarding.

Signatures. SigV4 signs the request headers (boto3 and minio sign ``If-Match``) and the payload
hash (minio, and boto3 over plain HTTP), so a rewritten request no longer matches its signature.
The proxy therefore holds the credentials and *re-signs* (botocore's SigV4) exactly the
requests it rewrote; all other requests are forwarded byte for byte, streaming, so the upstream
keeps checking their signatures, and their Content-MD5, as usual. Only header-signed SigV4
requests are re-signed; a presigned URL is forwarded unchanged.

The proxy speaks the S3 protocol only. To test an OSS client, chain an ``OSSGateway`` in front
of it (OSS client -> gateway -> proxy -> S3 server); the gateway translates ETags and
conditional headers verbatim, so the OSS client sees the same fake ETags.

Fault injection: :meth:`EtagProxy.corrupt_next_bodies` flips one byte in the middle of the
next ``n`` request bodies of at least ``min_size_bytes``; the upstream must reject them (the
body no longer matches its Content-MD5 / signed payload hash), which proves that integrity
checks other than ETag comparisons still catch corruption in flight.

:attr:`EtagProxy.requests` counts requests by HTTP method (a test asserts no ``DELETE`` was
sent); :attr:`EtagProxy.log` keeps ``(method, path, status)`` per request.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import re
import threading
import zlib
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .loopback import (
    HOP_BY_HOP,
    LOOPBACK,
    BackgroundHTTPService,
    ProxyServer,
    UpstreamProxyHandler,
)

logger = logging.getLogger("fsspec_unified.testing.etag_proxy")

COPY_CHUNK_BYTES = 1024 * 1024
DEFAULT_CORRUPT_MIN_SIZE_BYTES = 64 * 1024
UPSTREAM_TIMEOUT_S = 300.0

_CONDITIONAL_REQUEST_HEADERS = (
    "If-Match", "If-None-Match", "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
)
# Query parameters of a GET/HEAD that still return object data (not an XML document).
_DATA_QUERY_PARAMETERS = frozenset({"versionId", "partNumber", "x-id"})
_ETAG_ELEMENT = re.compile(rb"(<ETag>(?:&quot;|&#34;|\")?)([^<&\"]+)((?:&quot;|&#34;|\")?</ETag>)")
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


class EtagProxy(BackgroundHTTPService):
    """A threaded HTTP/1.1 proxy rewriting ETags between clients and ``upstream_url``.

    ``access_key`` / ``secret_key`` are the upstream's credentials, used to re-sign requests
    the proxy had to rewrite. Use as a context manager, or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, upstream_url: str, access_key: str, secret_key: str) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream_url!r}")
        self.upstream_url = upstream_url.rstrip("/")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._credentials = Credentials(access_key, secret_key)
        self._lock = threading.Lock()
        self._fake_to_real: dict[str, str] = {}
        self._corrupt_remaining = 0
        self._corrupt_min_size_bytes = DEFAULT_CORRUPT_MIN_SIZE_BYTES
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, str, int]] = []
        self.corrupted_bodies = 0
        self.resigned_requests = 0

    # -- public API -------------------------------------------------------------------------

    def start(self) -> EtagProxy:
        if self._server is None:
            server = ProxyServer(_Handler, logger, self, self._upstream_host,
                                 self._upstream_port, UPSTREAM_TIMEOUT_S)
            self._serve(server, "etag-proxy")
        return self

    def corrupt_next_bodies(self, count: int,
                            min_size_bytes: int = DEFAULT_CORRUPT_MIN_SIZE_BYTES) -> None:
        """Flip one byte in each of the next ``count`` request bodies of ``min_size_bytes``+."""
        with self._lock:
            self._corrupt_remaining = count
            self._corrupt_min_size_bytes = min_size_bytes

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.log.clear()
            self.corrupted_bodies = 0
            self.resigned_requests = 0

    def fake_etag(self, real: str) -> str:
        """The ETag clients see for the upstream's ``real`` one (quotes kept as given)."""
        quoted = real.startswith('"') and real.endswith('"') and len(real) >= 2
        bare = real[1:-1] if quoted else real
        if not bare or bare == "*":
            return real
        suffix = ""
        match = re.fullmatch(r"([0-9A-Fa-f]+)(-\d+)", bare)
        if match:
            suffix = match.group(2)
        fake = hashlib.md5(b"fake:" + bare.encode()).hexdigest() + suffix
        if bare.upper() == bare and bare.lower() != bare:
            fake = fake.upper()  # OSS spells ETags in upper case
        with self._lock:
            self._fake_to_real[fake.lower()] = bare
        return f'"{fake}"' if quoted else fake

    def real_etag(self, value: str) -> str:
        """Map a (possibly quoted, possibly comma-separated) fake ETag back; others unchanged."""
        out = []
        for item in value.split(","):
            stripped = item.strip()
            prefix = ""
            if stripped.startswith("W/"):
                prefix, stripped = "W/", stripped[2:]
            quoted = stripped.startswith('"') and stripped.endswith('"') and len(stripped) >= 2
            bare = stripped[1:-1] if quoted else stripped
            with self._lock:
                real = self._fake_to_real.get(bare.lower())
            if real is None:
                out.append(item.strip())
            else:
                out.append(prefix + (f'"{real}"' if quoted else real))
        return ", ".join(out)

    # -- internals --------------------------------------------------------------------------

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))

    def _count(self, method: str) -> None:
        with self._lock:
            self.requests[method] += 1

    def _take_corruption(self, length: int) -> bool:
        with self._lock:
            if self._corrupt_remaining > 0 and length >= self._corrupt_min_size_bytes:
                self._corrupt_remaining -= 1
                self.corrupted_bodies += 1
                return True
        return False

    def _rewrite_xml(self, body: bytes, to_fake: bool) -> bytes:
        def replace(match: re.Match[bytes]) -> bytes:
            value = match.group(2).decode()
            new = self.fake_etag(value) if to_fake else self.real_etag(value)
            return match.group(1) + new.encode() + match.group(3)

        return _ETAG_ELEMENT.sub(replace, body)

    def _resign(self, method: str, host: str, path: str, headers: list[tuple[str, str]],
                body: bytes) -> list[tuple[str, str]]:
        """Headers of the rewritten request, re-signed with SigV4 like the original."""
        authorization = next((v for k, v in headers if k.lower() == "authorization"), "")
        match = _CREDENTIAL.search(authorization)
        if not authorization.startswith("AWS4-HMAC-SHA256") or match is None:
            return headers
        region, service = match.group(1), match.group(2)
        kept = {k: v for k, v in headers
                if k.lower() not in ("authorization", "x-amz-date", "x-amz-content-sha256",
                                     "host", "content-length")}
        request = AWSRequest(method=method, url=f"http://{host}{path}", headers=kept, data=body)
        # Sign the payload hash (plain HTTP): the upstream verifies it against the new body.
        S3SigV4Auth(self._credentials, service, region).add_auth(request)
        with self._lock:
            self.resigned_requests += 1
        signed = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
        return [("Host", host), *signed, ("Content-Length", str(len(body)))]


class _Handler(UpstreamProxyHandler):
    logger = logger
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._proxy_request()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET

    # -- request ----------------------------------------------------------------------------

    def _proxy_request(self) -> None:
        proxy = self.server.proxy
        method = self.command
        proxy._count(method)
        url = urlsplit(self.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        host = self.headers.get("Host", f"{LOOPBACK}:{self.server.port}")

        rewritten = False
        new_headers = []
        for name, value in headers:
            if name.lower() in (h.lower() for h in _CONDITIONAL_REQUEST_HEADERS):
                real = proxy.real_etag(value)
                rewritten |= real != value.strip()
                value = real
            new_headers.append((name, value))
        headers = new_headers

        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        length = int(self.headers.get("Content-Length", "0") or 0)
        is_complete = method == "POST" and any(name == "uploadId" for name, _ in query)
        body: bytes | None = None
        if chunked:
            body = _read_chunked(self.rfile)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        elif is_complete or rewritten:
            body = self.rfile.read(length) if length else b""
        if is_complete and body:
            new_body = proxy._rewrite_xml(body, to_fake=False)
            if new_body != body:
                rewritten = True
                body = new_body
                headers = _refresh_body_checksums(headers, body)
        if rewritten:
            headers = proxy._resign(method, host, self.path, headers, body or b"")

        corrupt = False
        size = len(body) if body is not None else length
        if size and method in ("PUT", "POST"):
            corrupt = proxy._take_corruption(size)

        if body is None and length == 0:
            body = b""
        if corrupt and body:
            body = _flip_middle_byte(body)
        response = self._send_upstream(
            method, headers, body,
            lambda connection: self._stream_body(connection, length, corrupt))
        if response is None:
            proxy._record(method, url.path, 502)
            return
        proxy._record(method, url.path, response.status)
        self._relay_response(response, method, url.path, query)

    def _stream_body(self, connection: http.client.HTTPConnection, length: int,
                     corrupt: bool) -> None:
        middle = length // 2
        sent = 0
        while sent < length:
            chunk = self.rfile.read(min(COPY_CHUNK_BYTES, length - sent))
            if not chunk:
                raise ConnectionResetError("client body shorter than Content-Length")
            if corrupt and sent <= middle < sent + len(chunk):
                chunk = bytearray(chunk)
                chunk[middle - sent] ^= 0xFF
                chunk = bytes(chunk)
            connection.send(chunk)
            sent += len(chunk)

    # -- response ---------------------------------------------------------------------------

    def _relay_response(self, response: http.client.HTTPResponse, method: str, path: str,
                        query: list[tuple[str, str]]) -> None:
        proxy = self.server.proxy
        headers = []
        for name, value in response.getheaders():
            if name.lower() in HOP_BY_HOP:
                continue
            if name.lower() == "etag":
                value = proxy.fake_etag(value)
            headers.append((name, value))
        content_type = response.getheader("Content-Type", "") or ""
        bucket_key = path.lstrip("/").split("/", 1)
        object_data = (
            method in ("GET", "HEAD") and len(bucket_key) == 2 and bucket_key[1] != ""
            and all(name in _DATA_QUERY_PARAMETERS or name.startswith("response-")
                    for name, _ in query)
        )
        no_body = method == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
        upstream_closes = response.will_close and response.length is None and not response.chunked
        if no_body:
            self._send_head(response.status, headers)
            response.read()
            return
        if not object_data and "xml" in content_type.lower():
            body = proxy._rewrite_xml(response.read(), to_fake=True)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
            self._send_head(response.status, headers)
            self.wfile.write(body)
            return
        if response.length is None:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            if upstream_closes:
                self.close_connection = True
            else:
                headers.append(("Transfer-Encoding", "chunked"))
        self._send_head(response.status, headers)
        while True:
            chunk = response.read(COPY_CHUNK_BYTES)
            if not chunk:
                break
            if response.length is None and not upstream_closes:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            else:
                self.wfile.write(chunk)
        if response.length is None and not upstream_closes:
            self.wfile.write(b"0\r\n\r\n")
        if upstream_closes:
            self._upstream.close()
            self._upstream = None

    def _send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()


def _read_chunked(stream) -> bytes:
    data = bytearray()
    while True:
        line = stream.readline()
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(data)
        data += stream.read(size)
        stream.readline()


def _flip_middle_byte(body: bytes) -> bytes:
    corrupted = bytearray(body)
    corrupted[len(body) // 2] ^= 0xFF
    return bytes(corrupted)


def _refresh_body_checksums(headers: list[tuple[str, str]], body: bytes,
                            ) -> list[tuple[str, str]]:
    """Recompute the body checksums a rewritten body would otherwise fail."""
    out = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-md5":
            value = base64.b64encode(hashlib.md5(body).digest()).decode("ascii")
        elif lowered == "x-amz-checksum-crc32":
            value = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode("ascii")
        elif lowered.startswith("x-amz-checksum-") or lowered == "x-amz-sdk-checksum-algorithm":
            continue
        out.append((name, value))
    return out
