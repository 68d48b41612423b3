"""The boto3 backend's hot path: GET, HEAD, PUT, UploadPart and ListObjectsV2 as plain HTTP
requests, signed by botocore's own SigV4 signer and sent through one urllib3 connection pool.

Why. On a fast link botocore's per-request machinery costs more CPU than the request: a GET or
PUT of 16 KiB emits a dozen events, validates and serialises its parameters, builds a
request object twice, parses the response through the service model, and lists parse every
``LastModified`` with dateutil (about 30 µs each, 150 ms for 5,000 keys). Here a request is a
URL, a header dict, one signature and one ``urlopen``; a response is read straight from its
headers, or from a listing's XML with ElementTree. Every other operation (multipart
create/complete/abort, copies, versions, policies, buckets, presigned URLs) stays on boto3.

What is still botocore's. The signature: :class:`botocore.auth.S3SigV4Auth` on an
:class:`~botocore.awsrequest.AWSRequest`, given the frozen credentials of the boto3 session's own
credential object, so the credential chain, session tokens and refreshable credentials work as
for the boto3 client. The errors: a response of status 300 or more goes through botocore's
``RestXMLParser`` and becomes the ``ClientError`` subclass the boto3 client's exception factory
names (``NoSuchKey``, ``NoSuchBucket``, ...), with the same code, message, status and request id;
a HEAD has no body, so a missing key is ``404``/"Not Found" exactly as botocore reports it. A
urllib3 failure becomes the exception botocore's HTTP layer raises for it
(``EndpointConnectionError``, ``ConnectTimeoutError``, ``ReadTimeoutError``,
``ConnectionClosedError``, ...), and a body that breaks off or ends short becomes
``ResponseStreamingError`` / ``IncompleteReadError`` as botocore's ``StreamingBody`` raises them.
The driver's ``_error_details`` therefore translates both paths alike.

Decisions:

* Payload hash. botocore signs the SHA-256 of every body over plain http (over https it
  already sends ``UNSIGNED-PAYLOAD`` when Content-MD5 is present). Every PUT and part sent here
  carries a Content-MD5, which is itself a signed header and which the server verifies
  (``BadDigest`` on a mismatch), so a body changed in flight is rejected either way, and a
  changed Content-MD5 breaks the signature. Hashing the body once more with SHA-256 adds
  integrity nothing else lacks and costs a full pass over every byte uploaded; so a request
  with Content-MD5 is signed with ``x-amz-content-sha256: UNSIGNED-PAYLOAD``, on http and https
  alike. SeaweedFS accepts it and still rejects a wrong Content-MD5 (tried on 4.48; it does not
  even check a signed payload hash on a plain PUT, so there the SHA-256 bought nothing). A body
  without Content-MD5 would still be hashed; none is sent here.
* Retries: none. Each request is sent once (``retries=False``): the transfer engine above the
  driver retries byte-moving work with its own policy, and a retry here would multiply with
  it. ``OSSConfig.max_retries`` still governs the operations left to boto3. urllib3 does
  replace a pooled connection that the server closed while it was idle before reusing it.
* One pool per process. :class:`S3SignedRequests` owns a urllib3 ``PoolManager`` (a
  ``ProxyManager`` through ``proxy``, or through the environment's proxy as botocore would
  choose it) with ``max_pool_connections`` kept connections and the configured connect and
  read timeouts; the driver builds it next to the boto3 client in ``_create_sdk_client``, so a
  forked child builds its own and never reads from its parent's sockets. TLS is verified
  against the same bundle as botocore's (``AWS_CA_BUNDLE`` / ``ca_bundle``, else certifi's).
* Bodies. A GET's body is read straight from the HTTP response into the caller's buffer
  (``readinto``: one ``recv_into`` per call, no intermediate bytes), bytes as stored (no
  content decoding). Closing it returns the connection to the pool only when the body was read
  to its end; otherwise the connection is closed (its unread bytes would otherwise be read as
  the next response) and only its pool slot is given back.
* Checksums. A GET of a whole object asks for the stored checksum
  (``x-amz-checksum-mode: ENABLED``). When the response carries an ``x-amz-checksum-*`` header
  that botocore would check (the first of its priority order it can compute: CRC64NVME and
  CRC32C only with awscrt installed, CRC32, SHA-1, SHA-256; a ``-N`` composite checksum of a
  multipart object is skipped, as botocore skips it), the bytes are checked as they arrive and
  a mismatch raises botocore's ``FlexibleChecksumError`` on the read that completes the body.
  Ranges are not checked: S3 returns no checksum for a range.
* Listings ask for url-encoded keys (``encoding-type=url``, as botocore does on its own) and
  decode them (``unquote_plus``, as botocore) only when the response says it encoded them, so
  keys with characters XML cannot carry round-trip.
* Addressing is path-style on the configured endpoint, as the boto3 client is configured. The
  driver uses this path only when an endpoint is configured: on AWS's own endpoints boto3
  keeps virtual-hosted addressing and region redirects.

Secrets (the secret key, a session token, a proxy's password) are never part of a repr, a log
line or an exception message here: the signature and token travel only in request headers.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import botocore
import botocore.exceptions as boto_errors
import urllib3
import urllib3.exceptions as urllib3_errors
from botocore.auth import EMPTY_SHA256_HASH, UNSIGNED_PAYLOAD, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import mask_proxy_url
from botocore.parsers import RestXMLParser
from botocore.utils import parse_timestamp

from ..observability.scope import note_response
from . import exceptions as errors
from .base_oss import ObjectResponse, object_size
from .object_headers import user_metadata, write_headers
from .s3_listing_xml import parse_list_objects_v2
from .types import ObjectInfo, PartInfo, WriteResult

_META_PREFIX = "x-amz-meta-"
_USER_AGENT = f"fsspec-unified botocore/{botocore.__version__} urllib3/{urllib3.__version__}"
_QUERY_SAFE = "-_.~"
_KEY_SAFE = "/~"
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Operation names, as botocore names them in its errors and its service model.
GET_OBJECT = "GetObject"
HEAD_OBJECT = "HeadObject"
PUT_OBJECT = "PutObject"
UPLOAD_PART = "UploadPart"
LIST_OBJECTS_V2 = "ListObjectsV2"
_OPERATIONS = (GET_OBJECT, HEAD_OBJECT, PUT_OBJECT, UPLOAD_PART, LIST_OBJECTS_V2)


# -- response checksums ------------------------------------------------------------------


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: Any) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return (self._value & 0xFFFFFFFF).to_bytes(4, "big")


class _CrtChecksum:
    """A CRC from awscrt (``crc32c``: 4 bytes, ``crc64nvme``: 8 bytes), as botocore uses it."""

    def __init__(self, function: Callable[[Any, int], int], size: int) -> None:
        self._function = function
        self._size = size
        self._value = 0

    def update(self, data: Any) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


def _checksum_factories() -> dict[str, Callable[[], Any]]:
    factories: dict[str, Callable[[], Any]] = {
        "crc32": _Crc32, "sha1": hashlib.sha1, "sha256": hashlib.sha256,
    }
    try:
        from awscrt import checksums as crt
    except ImportError:  # botocore, too, checks these two only with awscrt installed
        return factories
    factories["crc32c"] = lambda: _CrtChecksum(crt.crc32c, 4)
    if hasattr(crt, "crc64nvme"):
        factories["crc64nvme"] = lambda: _CrtChecksum(crt.crc64nvme, 8)
    return factories


_CHECKSUM_FACTORIES = _checksum_factories()
# botocore's order of preference among the checksums a response may carry.
_CHECKSUM_PRIORITY = [
    name for name in ("crc64nvme", "crc32c", "crc32", "sha1", "sha256")
    if name in _CHECKSUM_FACTORIES
]


class _ResponseChecksum:
    """The stored checksum a whole-object GET's response announced, and the running one."""

    def __init__(self, expected: str, factory: Callable[[], Any]) -> None:
        self.expected = expected
        self._checksum = factory()

    @classmethod
    def for_headers(cls, headers: Mapping[str, str]) -> _ResponseChecksum | None:
        for name in _CHECKSUM_PRIORITY:
            expected = headers.get(f"x-amz-checksum-{name}")
            if expected is None:
                continue
            if "-" in expected:  # a checksum of part checksums: not of these bytes
                continue
            return cls(expected, _CHECKSUM_FACTORIES[name])
        return None

    def update(self, data: Any) -> None:
        self._checksum.update(data)

    def verify(self) -> None:
        actual = self._checksum.digest()
        if actual != base64.b64decode(self.expected):
            raise boto_errors.FlexibleChecksumError(
                error_msg=(
                    f"Expected checksum {self.expected} did not match calculated checksum: "
                    f"{base64.b64encode(actual).decode('ascii')}"
                )
            )


# -- the body of a GET -------------------------------------------------------------------


class S3ObjectBody:
    """The body of one GET, read from the HTTP response without intermediate copies.

    ``readinto`` fills the caller's buffer straight from the socket. ``close`` gives the
    connection back to the pool if the body was read to its end (and nothing failed), and
    closes it otherwise. Read errors are botocore's: ``ReadTimeoutError``,
    ``ResponseStreamingError``, ``IncompleteReadError``, ``FlexibleChecksumError``.
    """

    def __init__(
        self,
        response: urllib3.BaseHTTPResponse,
        url: str,
        length: int | None,
        checksum: _ResponseChecksum | None,
    ) -> None:
        self._response = response
        # urllib3 keeps the http.client response it wraps as ``_fp``; reading it directly is
        # what lets a read land in the caller's buffer (urllib3's readinto reads into bytes
        # first, then copies).
        self._raw: http.client.HTTPResponse = response._fp  # type: ignore[attr-defined]
        self._url = url
        self._expected = length
        self._remaining = length
        self._received = 0
        self._checksum = checksum
        self._failed = False
        self._closed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._closed:
            raise ValueError("read of a closed object body")
        if self._remaining == 0:
            self._finish()
            return 0
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        if self._remaining is not None and len(view) > self._remaining:
            view = view[: self._remaining]
        return self._account(view, self._from_socket(self._raw.readinto, view))

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left if negative). http.client builds the bytes
        object straight from the socket's buffer: one allocation, no copy (a bytearray filled
        by readinto and then turned into bytes costs two more passes over the data; py-spy put
        them level with the socket reads themselves on a 256 MiB download)."""
        if self._closed:
            raise ValueError("read of a closed object body")
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(self._remaining or 1024 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        if self._remaining == 0:
            self._finish()
            return b""
        if self._remaining is not None:
            size = min(size, self._remaining)
        if size == 0:
            return b""
        data = self._from_socket(self._raw.read, size)
        self._account(memoryview(data), len(data))
        return data

    def _from_socket(self, read: Callable[[Any], Any], argument: Any) -> Any:
        """``read(argument)`` on the response; a failure marks the body (its connection is
        dropped on close) and becomes botocore's read error."""
        try:
            return read(argument)
        except Exception as exc:
            self._failed = True
            raise self._read_error(exc) from exc
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        response = self._response
        if self._remaining == 0 and not self._raw.isclosed():
            # Nothing left to read, but http.client closes its side only on a read; reading
            # nothing (a zero-length body that was never read) does it.
            try:
                self._raw.read(0)
            except Exception:  # the connection is dropped below
                self._failed = True
        if self._failed or self._remaining != 0 or not self._raw.isclosed():
            # Unread (or unknown) bytes are still on the connection: drop it, keep the slot.
            response.close()
        response.release_conn()

    def _account(self, view: memoryview, count: int) -> int:
        if count == 0:
            if self._remaining:
                # The server closed the connection before the end of the body.
                self._failed = True
                raise boto_errors.IncompleteReadError(
                    actual_bytes=self._received, expected_bytes=self._expected
                )
            self._remaining = 0
            self._finish()
            return 0
        self._received += count
        if self._checksum is not None:
            self._checksum.update(view[:count])
        if self._remaining is not None:
            self._remaining -= count
            if self._remaining == 0:
                self._finish()
        return count

    def _finish(self) -> None:
        """At the end of the body: check the stored checksum, once."""
        checksum, self._checksum = self._checksum, None
        if checksum is not None:
            try:
                checksum.verify()
            except boto_errors.FlexibleChecksumError:
                self._failed = True
                raise

    def _read_error(self, exc: Exception) -> Exception:
        """The exception botocore's StreamingBody raises for a failed read."""
        if isinstance(exc, socket.timeout):
            timeout = urllib3_errors.ReadTimeoutError(None, self._url, f"Read timed out. ({exc})")
            return boto_errors.ReadTimeoutError(endpoint_url=self._url, error=timeout)
        if isinstance(exc, (OSError, http.client.HTTPException)):
            broken = urllib3_errors.ProtocolError(f"Connection broken: {exc!r}", exc)
            return boto_errors.ResponseStreamingError(error=broken)
        return exc

    def __enter__(self) -> S3ObjectBody:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- the requests ----------------------------------------------------------------------------


class _Signer(S3SigV4Auth):
    """botocore's S3 SigV4 signer; only the payload hash is decided here (module docstring):
    ``UNSIGNED-PAYLOAD`` for a body with Content-MD5, the empty hash without a body."""

    def payload(self, request: AWSRequest) -> str:
        body = request.data
        if not body:
            return EMPTY_SHA256_HASH
        if "Content-MD5" in request.headers:
            return UNSIGNED_PAYLOAD
        return hashlib.sha256(body).hexdigest()


class S3SignedRequests:
    """Signed S3 requests on one urllib3 pool (see the module docstring).

    ``credentials`` is a botocore credentials object (static or refreshable) or ``None``
    (every request then fails with ``NoCredentialsError``, as the boto3 client's would).
    ``botocore_client`` is the boto3 client of the same configuration: its service model
    parses error responses and its exception factory names them.
    """

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Any,
        botocore_client: Any,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_pool_connections: int,
        proxy_url: str | None = None,
        proxy_headers: Mapping[str, str] | None = None,
        ca_certs: str | None = None,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise errors.ConfigurationError(f"endpoint: {endpoint_url!r} is not an http(s) URL")
        self.endpoint_url = f"{parts.scheme}://{parts.netloc}"
        self._host = _host_header(parts.scheme, parts.netloc)
        self._region = region
        self._credentials = credentials
        options: dict[str, Any] = {
            "maxsize": max_pool_connections,
            "block": False,
            "timeout": urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
            "retries": False,
        }
        if parts.scheme == "https":
            options.update(cert_reqs="CERT_REQUIRED", ca_certs=ca_certs)
        if proxy_url:
            self._manager: urllib3.PoolManager = urllib3.ProxyManager(
                proxy_url, proxy_headers=dict(proxy_headers or {}), **options
            )
        else:
            self._manager = urllib3.PoolManager(**options)
        self._masked_proxy = mask_proxy_url(proxy_url) if proxy_url else None
        # Plain http through a proxy is sent in absolute form; https is tunnelled (CONNECT).
        self._absolute_form = bool(proxy_url) and parts.scheme == "http"
        self.pool = self._manager.connection_from_url(self.endpoint_url)
        model = botocore_client.meta.service_model
        self._output_shapes = {
            name: model.operation_model(name).output_shape for name in _OPERATIONS
        }
        self._error_class = botocore_client.exceptions.from_code
        self._error_parser = RestXMLParser()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint_url!r})"

    def close(self) -> None:
        """Close every pooled connection (a connection in use closes when it is released)."""
        self._manager.clear()

    # -- operations ----------------------------------------------------------------------

    def get_object(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None,
        version_id: str | None,
    ) -> ObjectResponse:
        """One GET of ``[start, end)`` (the whole object when ``start`` is 0 and ``end`` is
        ``None``); ``if_match`` is an unquoted ETag."""
        headers: dict[str, str] = {}
        whole = not start and end is None
        if whole:
            headers["x-amz-checksum-mode"] = "ENABLED"
        else:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        query = None if version_id is None else {"versionId": version_id}
        response, url = self._send(
            GET_OBJECT, "GET", bucket, key, query, headers, stream=True
        )
        response_headers = response.headers
        length = response_headers.get("Content-Length")
        checksum = _ResponseChecksum.for_headers(response_headers) if whole else None
        body = S3ObjectBody(response, url, None if length is None else int(length), checksum)
        return ObjectResponse(
            body,
            object_size(response_headers.get("Content-Range"), length),
            _etag(response_headers.get("ETag")),
            response_headers.get("x-amz-version-id"),
        )

    def head_object(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo:
        query = None if version_id is None else {"versionId": version_id}
        response, _ = self._send(HEAD_OBJECT, "HEAD", bucket, key, query, {})
        headers = response.headers
        return ObjectInfo(
            key=key,
            size=int(headers["Content-Length"]),
            etag=_etag(headers.get("ETag")),
            last_modified=_http_date(headers.get("Last-Modified")),
            content_type=headers.get("Content-Type"),
            metadata=user_metadata(_META_PREFIX, headers),
            storage_class=headers.get("x-amz-storage-class", "STANDARD"),
            version_id=headers.get("x-amz-version-id"),
        )

    def put_object(
        self, bucket: str, key: str, data: bytes | bytearray | memoryview,
        content_type: str | None, metadata: Mapping[str, str], md5: str, overwrite: bool,
    ) -> WriteResult:
        _check_header_values(content_type, metadata)
        headers = write_headers(_META_PREFIX, content_type, metadata)
        headers["Content-MD5"] = md5
        if not overwrite:
            headers["If-None-Match"] = "*"
        response, _ = self._send(PUT_OBJECT, "PUT", bucket, key, None, headers, data)
        return WriteResult(
            bucket, key, _etag(response.headers.get("ETag")),
            response.headers.get("x-amz-version-id"),
        )

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int,
        data: bytes | bytearray | memoryview, md5: str,
    ) -> PartInfo:
        query = {"uploadId": upload_id, "partNumber": str(part_number)}
        response, _ = self._send(
            UPLOAD_PART, "PUT", bucket, key, query, {"Content-MD5": md5}, data
        )
        return PartInfo(part_number, _etag(response.headers["ETag"]), len(data))

    def list_objects_page(
        self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None,
        page_size: int, continuation_token: str | None,
    ) -> tuple[list[ObjectInfo], str | None]:
        """One ListObjectsV2 page (objects and common prefixes, in the server's order within
        each kind) and the token of the next page, ``None`` after the last."""
        query = {"list-type": "2", "prefix": prefix, "max-keys": str(page_size)}
        if delimiter:
            query["delimiter"] = delimiter
        if start_after:
            query["start-after"] = start_after
        if continuation_token:
            query["continuation-token"] = continuation_token
        query["encoding-type"] = "url"
        response, _ = self._send(LIST_OBJECTS_V2, "GET", bucket, None, query, {})
        return parse_list_objects_v2(response.data)

    # -- the request ---------------------------------------------------------------------

    def _send(
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str | None,
        query: Mapping[str, str] | None,
        headers: dict[str, str],
        body: bytes | bytearray | memoryview | None = None,
        *,
        stream: bool = False,
    ) -> tuple[urllib3.BaseHTTPResponse, str]:
        """Sign and send one request; return the response (status below 300) and its URL.

        With ``stream`` the body is left unread (the caller reads it, then releases the
        connection); otherwise it is read and the connection is back in the pool.
        """
        target = f"/{bucket}" if key is None else f"/{bucket}/{quote(key, safe=_KEY_SAFE)}"
        if query:
            target += "?" + "&".join(
                f"{quote(name, safe=_QUERY_SAFE)}={quote(value, safe=_QUERY_SAFE)}"
                for name, value in query.items()
            )
        url = self.endpoint_url + target
        headers["Host"] = self._host
        headers["User-Agent"] = _USER_AGENT
        if body is not None:
            headers["Content-Length"] = str(memoryview(body).nbytes)
        request = AWSRequest(method=method, url=url, headers=headers, data=body)
        credentials = self._credentials
        frozen = None if credentials is None else credentials.get_frozen_credentials()
        _Signer(frozen, "s3", self._region).add_auth(request)
        try:
            response = self.pool.urlopen(
                method,
                url if self._absolute_form else target,
                body=body,
                headers=dict(request.headers.items()),
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=not stream,
                decode_content=False,
            )
        except Exception as exc:
            raise _transport_error(exc, url, self._masked_proxy) from exc
        note_response(response.status, response.headers.get("x-amz-request-id"))
        if response.status >= 300:
            raise self._client_error(operation, response, url)
        return response, url

    def _client_error(
        self, operation: str, response: urllib3.BaseHTTPResponse, url: str
    ) -> boto_errors.ClientError:
        """The ``ClientError`` (subclass) the boto3 client raises for this response."""
        try:
            body = response.data  # empty for a HEAD
        except Exception as exc:
            response.close()
            response.release_conn()
            return _transport_error(exc, url, self._masked_proxy)
        response.release_conn()
        parsed = self._error_parser.parse(
            {"status_code": response.status, "headers": response.headers, "body": body},
            self._output_shapes[operation],
        )
        code = parsed.get("Error", {}).get("Code")
        return self._error_class(code)(parsed, operation)


def _transport_error(exc: Exception, url: str, masked_proxy: str | None) -> Exception:
    """The botocore exception botocore's HTTP layer raises for a urllib3 failure."""
    if isinstance(exc, urllib3_errors.SSLError):
        return boto_errors.SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, (urllib3_errors.NewConnectionError, socket.gaierror)):
        return boto_errors.EndpointConnectionError(endpoint_url=url, error=exc)
    if isinstance(exc, urllib3_errors.ProxyError):
        return boto_errors.ProxyConnectionError(proxy_url=masked_proxy, error=exc)
    if isinstance(exc, urllib3_errors.ConnectTimeoutError):
        return boto_errors.ConnectTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, urllib3_errors.ReadTimeoutError):
        return boto_errors.ReadTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, urllib3_errors.ProtocolError):
        return boto_errors.ConnectionClosedError(error=exc, endpoint_url=url)
    if isinstance(exc, (boto_errors.BotoCoreError, boto_errors.ClientError)):
        return exc
    return boto_errors.HTTPClientError(error=exc)


# -- parsing -----------------------------------------------------------------------------


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else value


def _http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return parse_timestamp(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _host_header(scheme: str, netloc: str) -> str:
    """The Host header botocore signs: the endpoint's host, its port only if not the
    scheme's default."""
    host = netloc.rpartition("@")[2]
    default = f":{_DEFAULT_PORTS[scheme]}"
    return host[: -len(default)] if host.endswith(default) else host


def _check_header_values(content_type: object, metadata: Mapping[str, object]) -> None:
    """What botocore's parameter validation refuses (reported as InvalidArgumentError)."""
    if content_type is not None and not isinstance(content_type, str):
        raise errors.InvalidArgumentError(
            f"content_type must be a string, got {type(content_type).__name__}"
        )
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise errors.InvalidArgumentError(
                f"metadata names and values must be strings, got {name!r}: {value!r}"
            )
