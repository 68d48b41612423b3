"""``AliyunOSSClient``: the oss2 SDK backend, for Aliyun OSS and OSS-compatible endpoints.

Decisions:

* An endpoint is required (OSS endpoints are per region and oss2 has no default), and its
  absence fails when the client is constructed rather than at the first request.
* Signing follows ``signature_version``: V4 (region ``region`` without any ``oss-`` prefix,
  default ``cn-hangzhou``) or V1, through oss2's provider auths, which ask for the keys at
  every signature: the config's keys (with a ``session_token``, STS keys), its
  ``credentials_provider`` (refreshed before expiry), else ``OSS_ACCESS_KEY_ID``/
  ``OSS_ACCESS_KEY_SECRET``/``OSS_SESSION_TOKEN``; ``AnonymousAuth`` without any. Presigned
  URLs use the same version.
* One ``oss2.Session`` (one requests connection pool of ``max_pool_connections`` per host) is
  shared by the ``oss2.Service`` (bucket listing) and one ``oss2.Bucket`` per bucket name, made
  on first use and cached: oss2 binds each Bucket object to a single bucket.
* Timeouts: oss2's ``connect_timeout`` is handed unchanged to requests as ``timeout``, so it is
  given the pair ``(connect_timeout_s, read_timeout_s)`` and both apply, as on the other
  backends.
* Retries: oss2 wraps every request body in a one-shot CRC64 adapter that urllib3 cannot
  rewind, so only failures to *connect* (nothing sent yet, safe for every request) are retried,
  ``max_retries`` times with backoff, by the requests adapter. Timeouts, broken connections and
  5xx are not retried here (the boto3 and minio backends also retry 5xx): the transfer manager
  retries whole operations, with their bodies.
* CRC64 checks are always on: oss2 compares the server's CRC of each put and part with the
  bytes sent, and this driver compares it with the bytes received when a whole object is read.
  A mismatch is an :class:`~.exceptions.IntegrityError`.
* Ranged reads send ``x-oss-range-behavior: standard``, so ranges behave as on S3 (a range past
  the end is 416 InvalidRange, which the base turns into an empty read) instead of OSS's
  default of ignoring an unsatisfiable range and sending the whole object. Bodies are read as
  stored (no content decoding), like the other backends, which also keeps the CRC comparable.
* ETags are returned in lower case, the form the other backends return, so that one object
  has one ETag whichever driver reads it; OSS issues them in upper case, and completing an
  upload, pinning a read (``If-Match``) or pinning the source of a part copy
  (``x-oss-copy-source-if-match``) sends them back in upper case. An ETag is only
  compared with another ETag, never with an MD5 of the bytes.
* Without ``overwrite``, a put or a multipart completion sends ``x-oss-forbid-overwrite:
  true``; OSS answers 409 FileAlreadyExists, which is an
  :class:`~.exceptions.ObjectExistsError`.
* Versions: ``versionId`` is a request parameter (``params=``) on get, head and delete;
  versioning and version listings use oss2's ``put_bucket_versioning`` /
  ``list_object_versions``.
* OSS answers 200 to re-creating one's own bucket; creating checks existence first (one more
  request) so that an existing bucket raises BucketAlreadyExistsError as on every backend. A
  bucket is created in the endpoint's region: asking for another region is an error.
* Bucket policies are S3 JSON at the interface and OSS JSON on the wire, converted by
  :mod:`.oss_policy`.
* A batch delete reports per-key failures as the keys the server did not list as deleted (OSS
  sends no per-key error codes).
* Without a content type, oss2 guesses one from the key's extension (as OSS itself does).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import oss2
import oss2.exceptions as oss_errors
import requests
import urllib3
import urllib3.exceptions as urllib3_errors
from oss2.models import (
    BUCKET_VERSIONING_ENABLE,
    BUCKET_VERSIONING_SUSPEND,
    BucketVersioningConfig,
    GetObjectResult,
)
from oss2.models import PartInfo as OSSPartInfo
from oss2.utils import Crc64, check_crc, is_ip_or_localhost
from requests.adapters import HTTPAdapter

from ..observability.scope import note_response
from . import exceptions as errors
from . import oss_policy
from .base_oss import BaseOSSClient, ObjectResponse, in_version_order, object_size
from .credentials import CredentialSource, configured_credentials
from .models import OSSConfig
from .object_headers import user_metadata, write_headers
from .types import (
    GIB,
    KIB,
    BucketInfo,
    DeleteFailure,
    DeleteResult,
    DriverCapabilities,
    MultipartUploadInfo,
    ObjectInfo,
    PartInfo,
    WriteResult,
)

DEFAULT_REGION = "cn-hangzhou"

_META_PREFIX = "x-oss-meta-"
_STORAGE_CLASS_HEADER = "x-oss-storage-class"
_DEFAULT_STORAGE_CLASS = "Standard"
_STANDARD_RANGES = {"x-oss-range-behavior": "standard"}
_FORBID_OVERWRITE = {"x-oss-forbid-overwrite": "true"}
_REPLACE_METADATA = {"x-oss-metadata-directive": "REPLACE"}
_CONNECT_RETRY_BACKOFF_FACTOR = 0.2


def _region_id(region: str | None) -> str:
    """The region as V4 signing names it: ``cn-hangzhou``, also for ``oss-cn-hangzhou``."""
    return (region or DEFAULT_REGION).removeprefix("oss-")


def _etag(value: str | None) -> str | None:
    return value.strip('"').lower() if value else None


def _version_params(version_id: str | None) -> dict[str, str] | None:
    return None if version_id is None else {"versionId": version_id}


def _timestamp(epoch_s: int | None) -> datetime | None:
    """oss2 gives times as Unix seconds; the project's records hold aware datetimes."""
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, timezone.utc)


def _listed_object(item: Any, **version: Any) -> ObjectInfo:
    """An object (or one version of it) as oss2's listings describe it."""
    return ObjectInfo(
        key=item.key,
        size=item.size,
        etag=_etag(item.etag),
        last_modified=_timestamp(item.last_modified),
        storage_class=item.storage_class,
        **version,
    )


def _client_side_message(exc: oss_errors.OssError) -> str:
    """The message of an error oss2 raised itself: its ``str`` is a dict's repr, and its body
    the message behind a class-name prefix."""
    return str(exc.body).partition(": ")[2] or str(exc)


def _make_auth(config: OSSConfig) -> Any:
    source = configured_credentials(config)
    if source is None:
        return oss2.AnonymousAuth()
    provider = _SourceProvider(source)
    return oss2.ProviderAuthV4(provider) if config.signature_version == "v4" else (
        oss2.ProviderAuth(provider))


class _SourceProvider(oss2.CredentialsProvider):
    """oss2's provider auths ask for keys at every signature: hand them the current ones of
    :mod:`.credentials` (refreshed there before they expire)."""

    def __init__(self, source: CredentialSource) -> None:
        self._source = source

    def get_credentials(self) -> oss2.credentials.Credentials:
        current = self._source.current()
        return oss2.credentials.Credentials(current.access_key, current.secret_key,
                                            current.token or "")


def _transport_error_class(exc: Exception) -> type[errors.OSSError]:
    """Timeout, connection failure or malformed request, for a requests exception (wrapped in
    oss2's RequestError) or a urllib3 one (raised while a body is read)."""
    if isinstance(exc, (requests.Timeout, urllib3_errors.TimeoutError)) and not isinstance(
        exc, urllib3_errors.NewConnectionError  # a refused connection, not a timeout
    ):
        return errors.RequestTimeoutError
    if isinstance(exc, requests.RequestException) and isinstance(exc, ValueError):
        return errors.InvalidArgumentError  # InvalidURL, InvalidHeader, ...
    return errors.ConnectionError


class _ObservedSession(oss2.Session):
    """oss2's HTTP session, telling :mod:`fsspec_unified.observability` the status and
    request id of every response."""

    def do_request(self, req, timeout):
        response = super().do_request(req, timeout)
        note_response(response.status, response.request_id)
        return response


class _OSSClients:
    """What oss2 needs for one driver: one auth and HTTP session, shared by the Service and a
    Bucket per bucket name (made on first use, thread-safe)."""

    def __init__(self, config: OSSConfig) -> None:
        retries = urllib3.Retry(
            total=config.max_retries,
            connect=config.max_retries,
            read=False,
            status=0,
            other=0,
            backoff_factor=_CONNECT_RETRY_BACKOFF_FACTOR,
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(
            pool_connections=config.max_pool_connections,
            pool_maxsize=config.max_pool_connections,
            max_retries=retries,
        )
        self.session = _ObservedSession(adapter=adapter)
        self.auth = _make_auth(config)
        self.endpoint = config.endpoint_url
        self.options: dict[str, Any] = {
            "session": self.session,
            # Named connect_timeout, but oss2 hands it to requests as ``timeout``.
            "connect_timeout": (config.connect_timeout_s, config.read_timeout_s),
            "proxies": {"http": config.proxy, "https": config.proxy} if config.proxy else None,
            "region": _region_id(config.region),
        }
        self.service = oss2.Service(self.auth, self.endpoint, **self.options)
        self._buckets: dict[str, oss2.Bucket] = {}
        self._lock = threading.Lock()

    def bucket(self, name: str) -> oss2.Bucket:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = oss2.Bucket(
                    self.auth, self.endpoint, name, enable_crc=True, **self.options
                )
                self._buckets[name] = bucket
            return bucket

    def close(self) -> None:
        self.session.session.close()


class _ViewReader(io.RawIOBase):
    """A seekable file over a byte view: oss2 takes bytes or files, not views, and copying
    each part to bytes would double the memory of the parts in flight."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), len(self._view) - self._position))
        buffer[:count] = self._view[self._position:self._position + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = base[whence] + offset
        return self._position

    def tell(self) -> int:
        return self._position


def _body(data: bytes | bytearray | memoryview) -> bytes | _ViewReader:
    """A request body oss2 accepts, without copying a view."""
    return data if isinstance(data, bytes) else _ViewReader(memoryview(data).cast("B"))


class _ObjectBody:
    """A GET body read as stored, CRC64-checked when it is the whole object and the server
    sent the object's CRC: on the read that completes the body (its Content-Length), or on
    an empty read if the length is unknown. Closing frees the connection."""

    def __init__(self, result: GetObjectResult, whole_object: bool) -> None:
        self._result = result
        self._raw = result.resp.response.raw  # urllib3's response, under oss2's and requests'
        self._expected_crc = result.server_crc if whole_object else None
        self._crc = Crc64()
        length = result.headers.get("Content-Length")
        self._remaining = int(length) if length and length.isdigit() else None

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(None if size < 0 else size, decode_content=False)
        if self._remaining is not None:
            self._remaining -= len(data)
        if self._expected_crc is not None:
            if data:
                self._crc.update(data)
            if self._remaining == 0 or (not data and size != 0):
                expected, self._expected_crc = self._expected_crc, None
                check_crc("get object", self._crc.crc, expected, self._result.request_id)
        return data

    def close(self) -> None:
        self._result.close()


class AliyunOSSClient(BaseOSSClient):
    """Aliyun OSS through the oss2 SDK (see the module docstring for the choices made)."""

    provider = "oss"
    capabilities = DriverCapabilities(
        min_part_size_bytes=100 * KIB,
        max_part_size_bytes=5 * GIB,
        max_parts=10_000,
        max_delete_batch=1000,
        max_list_page=1000,
        max_single_put_bytes=5 * GIB,
        max_single_copy_bytes=1 * GIB,  # CopyObject's limit; larger objects use UploadPartCopy
        max_key_bytes=1023,
        max_presign_expiry_s=7 * 24 * 3600,  # the V4 limit
        bucket_name_pattern=re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"),
        bucket_name_rule=(
            "3-63 characters of lower-case letters, digits and '-', starting and ending with a "
            "letter or digit"
        ),
    )

    def __init__(self, config: OSSConfig) -> None:
        if config.endpoint is None:
            raise errors.ConfigurationError(
                "endpoint: the oss provider needs an endpoint (e.g. oss-cn-hangzhou.aliyuncs.com)"
            )
        super().__init__(config)

    def _create_sdk_client(self) -> Any:
        return _OSSClients(self.config)

    def _close_sdk_client(self, client: Any) -> None:
        client.close()

    def _error_details(self, exc: Exception) -> errors.ErrorDetails | None:
        if isinstance(exc, oss_errors.ServerError):
            return errors.ErrorDetails(
                message=exc.message or type(exc).__name__,
                code=exc.code or None,  # a HEAD error has no body, so often no code
                status=exc.status,
                request_id=exc.request_id or None,
            )
        if isinstance(exc, oss_errors.InconsistentError):
            return errors.ErrorDetails(
                _client_side_message(exc), request_id=exc.request_id or None,
                error_class=errors.IntegrityError,
            )
        if isinstance(exc, oss_errors.RequestError):
            return errors.ErrorDetails(
                str(exc.exception), error_class=_transport_error_class(exc.exception)
            )
        if isinstance(exc, (urllib3_errors.HTTPError, requests.RequestException)):
            # Raised unwrapped while oss2 reads a body (ChunkedEncodingError when the
            # connection breaks in the middle of an answer it parses).
            return errors.ErrorDetails(str(exc), error_class=_transport_error_class(exc))
        if isinstance(exc, oss_errors.ClientError):
            return errors.ErrorDetails(
                _client_side_message(exc), error_class=errors.InvalidArgumentError
            )
        if isinstance(exc, oss_policy.PolicyConversionError):
            return errors.ErrorDetails(str(exc), error_class=errors.InvalidArgumentError)
        return None

    def _bucket_url(self, bucket: str) -> str:
        """Path style on an IP or localhost endpoint, virtual-host style otherwise: where oss2
        itself sends requests."""
        if is_ip_or_localhost(self.config.endpoint):
            return super()._bucket_url(bucket)
        scheme = "https" if self.config.secure else "http"
        return f"{scheme}://{bucket}.{self.config.endpoint}"

    # -- objects -------------------------------------------------------------------------

    def _put_object(
        self, bucket, key, data, content_type, metadata, md5, overwrite
    ) -> WriteResult:
        headers = {**write_headers(_META_PREFIX, content_type, metadata), "Content-MD5": md5}
        if not overwrite:
            headers.update(_FORBID_OVERWRITE)
        result = self.sdk.bucket(bucket).put_object(key, _body(data), headers=headers)
        return WriteResult(bucket, key, _etag(result.etag), result.versionid)

    def _open_object(self, bucket, key, start, end, if_match, version_id) -> ObjectResponse:
        whole_object = not start and end is None
        byte_range = None if whole_object else (start, None if end is None else end - 1)
        headers = {} if whole_object else dict(_STANDARD_RANGES)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match.upper()}"'
        result = self.sdk.bucket(bucket).get_object(
            key, byte_range=byte_range, headers=headers or None,
            params=_version_params(version_id),
        )
        return ObjectResponse(
            _ObjectBody(result, whole_object),
            object_size(result.content_range, result.headers.get("Content-Length")),
            _etag(result.etag),
            result.versionid,
        )

    def _head_object(self, bucket, key, version_id) -> ObjectInfo:
        result = self.sdk.bucket(bucket).head_object(key, params=_version_params(version_id))
        return ObjectInfo(
            key=key,
            size=result.content_length,
            etag=_etag(result.etag),
            last_modified=_timestamp(result.last_modified),
            content_type=result.content_type,
            metadata=user_metadata(_META_PREFIX, result.headers),
            storage_class=result.headers.get(_STORAGE_CLASS_HEADER, _DEFAULT_STORAGE_CLASS),
            version_id=result.versionid,
        )

    def _delete_object(self, bucket, key, version_id) -> None:
        self.sdk.bucket(bucket).delete_object(key, params=_version_params(version_id))

    def _delete_batch(self, bucket, keys) -> DeleteResult:
        # Not quiet: OSS lists every deleted key (missing ones too) and sends no per-key errors,
        # so a key it did not list is the failure.
        deleted = set(self.sdk.bucket(bucket).batch_delete_objects(keys).deleted_keys)
        failures = [
            DeleteFailure(key, None, "the server did not report the key as deleted")
            for key in keys
            if key not in deleted
        ]
        return DeleteResult([key for key in keys if key in deleted], failures)

    def _copy_object(self, src_bucket, src_key, dst_bucket, dst_key, metadata) -> WriteResult:
        headers = {}
        if metadata is not None:
            headers = {**write_headers(_META_PREFIX, None, metadata), **_REPLACE_METADATA}
        result = self.sdk.bucket(dst_bucket).copy_object(
            src_bucket, src_key, dst_key, headers=headers
        )
        return WriteResult(dst_bucket, dst_key, _etag(result.etag), result.versionid)

    def _list_objects_page(self, bucket, prefix, delimiter, start_after, page_size, token):
        # oss2 asks for url-encoded names and decodes them.
        page = self.sdk.bucket(bucket).list_objects_v2(
            prefix=prefix,
            delimiter=delimiter or "",
            continuation_token=token or "",
            start_after=start_after or "",
            max_keys=page_size,
        )
        entries = [ObjectInfo(key=name, is_prefix=True) for name in page.prefix_list]
        entries.extend(_listed_object(item) for item in page.object_list)
        following = page.next_continuation_token
        return entries, following if page.is_truncated and following else None

    def _list_object_versions(self, bucket, prefix) -> Iterator[ObjectInfo]:
        # oss2 asks for url-encoded names and decodes them.
        oss_bucket = self.sdk.bucket(bucket)
        key_marker = version_marker = ""
        while True:
            page = oss_bucket.list_object_versions(
                prefix=prefix, key_marker=key_marker, versionid_marker=version_marker,
                max_keys=self.capabilities.max_list_page,
            )
            entries = [
                _listed_object(item, version_id=item.versionid, is_latest=item.is_latest)
                for item in page.versions
            ]
            entries.extend(
                ObjectInfo(
                    key=item.key,
                    last_modified=_timestamp(item.last_modified),
                    version_id=item.versionid,
                    is_latest=item.is_latest,
                    is_delete_marker=True,
                )
                for item in page.delete_marker
            )
            yield from in_version_order(entries)
            if not page.is_truncated or not page.next_key_marker:
                return
            key_marker, version_marker = page.next_key_marker, page.next_versionid_marker

    # -- multipart -----------------------------------------------------------------------

    def _create_multipart_upload(self, bucket, key, content_type, metadata) -> str:
        result = self.sdk.bucket(bucket).init_multipart_upload(
            key, headers=write_headers(_META_PREFIX, content_type, metadata)
        )
        return result.upload_id

    def _upload_part(self, bucket, key, upload_id, part_number, data, md5) -> PartInfo:
        result = self.sdk.bucket(bucket).upload_part(
            key, upload_id, part_number, _body(data), headers={"Content-MD5": md5}
        )
        return PartInfo(part_number, _etag(result.etag), len(data))

    def _upload_part_copy(
        self, bucket, key, upload_id, part_number, src_bucket, src_key, start, end, if_match
    ) -> PartInfo:
        headers = None
        if if_match is not None:
            headers = {"x-oss-copy-source-if-match": f'"{if_match.upper()}"'}
        result = self.sdk.bucket(bucket).upload_part_copy(
            src_bucket, src_key, (start, end - 1), key, upload_id, part_number, headers=headers
        )
        return PartInfo(part_number, _etag(result.etag), end - start)

    def _complete_multipart_upload(
        self, bucket, key, upload_id, parts, overwrite
    ) -> WriteResult:
        result = self.sdk.bucket(bucket).complete_multipart_upload(
            key, upload_id, [OSSPartInfo(part.part_number, part.etag.upper()) for part in parts],
            headers=None if overwrite else dict(_FORBID_OVERWRITE),
        )
        return WriteResult(bucket, key, _etag(result.etag), result.versionid)

    def _abort_multipart_upload(self, bucket, key, upload_id) -> None:
        self.sdk.bucket(bucket).abort_multipart_upload(key, upload_id)

    def _list_parts(self, bucket, key, upload_id) -> Iterator[PartInfo]:
        oss_bucket = self.sdk.bucket(bucket)
        marker = ""
        while True:
            page = oss_bucket.list_parts(key, upload_id, marker=marker)
            for part in page.parts:
                yield PartInfo(
                    part.part_number, _etag(part.etag), part.size, _timestamp(part.last_modified)
                )
            if not page.is_truncated:
                return
            marker = page.next_marker

    def _list_multipart_uploads(self, bucket, prefix) -> Iterator[MultipartUploadInfo]:
        oss_bucket = self.sdk.bucket(bucket)
        key_marker = upload_id_marker = ""
        while True:
            page = oss_bucket.list_multipart_uploads(
                prefix=prefix, key_marker=key_marker, upload_id_marker=upload_id_marker
            )
            for upload in page.upload_list:
                yield MultipartUploadInfo(
                    upload.key, upload.upload_id, _timestamp(upload.initiation_date)
                )
            if not page.is_truncated:
                return
            key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker

    # -- URLs and buckets ----------------------------------------------------------------

    def _presigned_url(self, bucket, key, method, expires_s) -> str:
        return self.sdk.bucket(bucket).sign_url(method, key, expires_s, slash_safe=True)

    def _list_buckets(self) -> list[BucketInfo]:
        buckets = []
        marker = ""
        while True:
            page = self.sdk.service.list_buckets(
                marker=marker, max_keys=self.capabilities.max_list_page
            )
            buckets.extend(
                BucketInfo(item.name, _timestamp(item.creation_date)) for item in page.buckets
            )
            if not page.is_truncated:
                return buckets
            marker = page.next_marker

    def _create_bucket(self, bucket, region) -> None:
        configured = _region_id(self.config.region)
        if region and _region_id(region) != configured:
            raise oss_errors.ClientError(
                f"OSS creates a bucket in its endpoint's region ({configured}); for {region}, "
                "configure an endpoint and region there"
            )
        try:
            exists = self._bucket_exists(bucket)
        except oss_errors.AccessDenied:
            exists = False  # another owner's bucket, or no GetBucketInfo right: PutBucket decides
        if exists:
            raise errors.BucketAlreadyExistsError(
                "the bucket exists already", code="BucketAlreadyExists",
                operation="create_bucket", bucket=bucket,
            )
        self.sdk.bucket(bucket).create_bucket()

    def _delete_bucket(self, bucket) -> None:
        self.sdk.bucket(bucket).delete_bucket()

    def _bucket_exists(self, bucket) -> bool:
        try:
            self.sdk.bucket(bucket).get_bucket_info()
        except oss_errors.NotFound:
            return False
        return True

    def _get_bucket_policy(self, bucket) -> str:
        policy = self.sdk.bucket(bucket).get_bucket_policy().policy
        return json.dumps(oss_policy.from_oss(json.loads(policy)))

    def _set_bucket_policy(self, bucket, policy_json) -> None:
        policy = json.dumps(oss_policy.to_oss(json.loads(policy_json)))
        self.sdk.bucket(bucket).put_bucket_policy(policy)

    def _delete_bucket_policy(self, bucket) -> None:
        self.sdk.bucket(bucket).delete_bucket_policy()

    def _set_bucket_versioning(self, bucket, enabled) -> None:
        status = BUCKET_VERSIONING_ENABLE if enabled else BUCKET_VERSIONING_SUSPEND
        self.sdk.bucket(bucket).put_bucket_versioning(BucketVersioningConfig(status))

    def _get_bucket_versioning(self, bucket) -> bool:
        return self.sdk.bucket(bucket).get_bucket_versioning().status == BUCKET_VERSIONING_ENABLE
