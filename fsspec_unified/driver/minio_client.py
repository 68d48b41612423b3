"""``MinioClient``: the minio SDK backend, for MinIO and any S3-compatible endpoint.

Decisions:

* An endpoint is required (minio has no default one), and its absence fails when the client is
  constructed rather than at the first request.
* The HTTP client is built here from the config: a urllib3 pool of ``max_pool_connections``
  with the configured connect/read timeouts, through ``proxy`` when set, verifying TLS against
  certifi's bundle (or ``SSL_CERT_FILE``, as minio does). urllib3 retries connection errors and
  HTTP 500/502/503/504 ``max_retries`` times (minio's own policy); ``raise_on_status=False``
  hands the last 5xx back to minio, so it still becomes an error with the server's code.
* The region is always given (default ``us-east-1``), so minio never sends its extra
  GetBucketLocation request; minio then refuses to create a bucket in any other region.
* Requests go through the SDK's single-request functions (``_put_object``,
  ``_create_multipart_upload``, ``_upload_part``, ...) rather than ``put_object``/``fput_object``,
  which choose their own part sizes and split data client-side: part sizes, Content-MD5 and
  upload ids stay under the base class's and the transfer manager's control, and multipart
  uploads are always real server-side uploads.
* Bodies are read as stored (``decode_content=False``), like boto3: urllib3 would otherwise
  decompress an object stored with ``Content-Encoding: gzip``.
* Keys the SDK cannot address are refused before any request (:class:`InvalidKeyError`):
  blank keys, which minio's own checks reject, and keys with a ``.`` or ``..`` segment, which
  urllib3 normalises out of the URL.
* Credentials: the config's keys, its ``credentials_provider`` (read at every request, so
  refreshed keys apply at once), else ``MINIO_ACCESS_KEY``/``MINIO_SECRET_KEY`` or the
  ``AWS_*`` variables; with none of them (or ``anonymous``) requests are unsigned.
* Conditions: reads pinned with ``if_match`` send ``If-Match``, part copies pinned with it
  send ``x-amz-copy-source-if-match`` (the SDK's ``CopySource(match_etag=)``); a create-only
  CompleteMultipartUpload sends ``If-None-Match: *``, built here because the SDK's
  ``_complete_multipart_upload`` takes no headers. ETags are never compared with MD5s.
* Version listings ask for raw keys (no ``encoding-type``), as multipart-upload listings do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import certifi
import urllib3
import urllib3.exceptions as urllib3_errors
from minio import Minio
from minio.commonconfig import COPY, REPLACE, CopySource
from minio.credentials import Credentials as MinioCredentials
from minio.credentials.providers import Provider
from minio.datatypes import (
    CompleteMultipartUploadResult,
    ListMultipartUploadsResult,
    Object,
    Part,
    parse_copy_object,
    parse_list_objects,
)
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import check_object_name, md5sum_hash
from minio.versioningconfig import ENABLED, SUSPENDED, VersioningConfig
from minio.xml import Element, SubElement, getbytes

from ..observability.scope import note_response
from . import exceptions as errors
from .base_oss import BaseOSSClient, ObjectResponse, in_version_order, object_size
from .credentials import CredentialSource, configured_credentials
from .models import OSSConfig
from .object_headers import user_metadata, write_headers
from .s3_listing_xml import parse_list_objects_v2
from .types import (
    BucketInfo,
    DeleteFailure,
    DeleteResult,
    DriverCapabilities,
    MultipartUploadInfo,
    ObjectInfo,
    PartInfo,
    WriteResult,
)

DEFAULT_REGION = "us-east-1"

_META_PREFIX = "x-amz-meta-"
_RETRY_STATUSES = (500, 502, 503, 504)
_RETRY_BACKOFF_FACTOR = 0.2


def _version_entry(item: Object) -> ObjectInfo:
    if item.is_delete_marker:
        return ObjectInfo(
            key=item.object_name, last_modified=item.last_modified, version_id=item.version_id,
            is_latest=item.is_latest == "true", is_delete_marker=True,
        )
    return ObjectInfo(
        key=item.object_name,
        size=item.size or 0,
        etag=item.etag,
        last_modified=item.last_modified,
        storage_class=item.storage_class,
        version_id=item.version_id,
        is_latest=item.is_latest == "true",
    )


def _next_upload_id_marker(page: ListMultipartUploadsResult) -> str:
    # minio 7.2 stores NextUploadIdMarker under the attribute name "self._next_upload_id_marker",
    # leaving ``next_upload_id_marker`` always None; read either so that a fixed SDK also works.
    return page.next_upload_id_marker or getattr(page, "self._next_upload_id_marker", None) or ""


def _transport_error_class(exc: urllib3_errors.HTTPError) -> type[errors.OSSError]:
    """Timeout or connection failure, looking through the MaxRetryError urllib3 raises once
    its retries are spent."""
    cause = exc.reason if isinstance(exc, urllib3_errors.MaxRetryError) else exc
    # NewConnectionError (refused, unresolvable host) subclasses ConnectTimeoutError.
    if isinstance(cause, urllib3_errors.TimeoutError) and not isinstance(
        cause, urllib3_errors.NewConnectionError
    ):
        return errors.RequestTimeoutError
    return errors.ConnectionError


def _body(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """A request body without a copy: the SDK only takes its length, hashes it and hands it
    to urllib3, all of which accept a byte view (the engine passes slices of its buffers)."""
    return data if isinstance(data, bytes) else memoryview(data).cast("B")


class _SourceProvider(Provider):
    """minio asks its provider for keys at every request and presigned URL: hand it the
    current ones of :mod:`.credentials` (refreshed there before they expire)."""

    def __init__(self, source: CredentialSource) -> None:
        self._source = source

    def retrieve(self) -> MinioCredentials:
        current = self._source.current()
        return MinioCredentials(current.access_key, current.secret_key, current.token,
                                current.expiry)


class _ResponseBody:
    """An object body over minio's urllib3 response: bytes as stored; closing frees the
    connection (returned to the pool if the body was read to the end)."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def read(self, size: int = -1, /) -> bytes:
        return self._response.read(None if size < 0 else size, decode_content=False)

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


class MinioClient(BaseOSSClient):
    """S3 through the minio SDK (see the module docstring for the choices made)."""

    provider = "minio"
    # MinIO's server and SDK also refuse a '.' next to a '-' in a bucket name.
    capabilities = DriverCapabilities(
        bucket_name_pattern=re.compile(r"(?!.*(?:\.-|-\.))[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
        bucket_name_rule=(
            "3-63 characters of lower-case letters, digits, '.' and '-', starting and ending "
            "with a letter or digit, no '..', '.-' or '-.', not an IP address"
        ),
    )

    def __init__(self, config: OSSConfig) -> None:
        if config.endpoint is None:
            raise errors.ConfigurationError(
                "endpoint: the minio provider needs an endpoint (host[:port] or URL)"
            )
        super().__init__(config)

    def _check_key(self, key: str) -> None:
        """Also reject keys the minio SDK cannot address: blank ones, which its own checks
        refuse, and ones with a "." or ".." segment, which urllib3 normalises out of the URL
        (the request would then fail its signature check)."""
        super()._check_key(key)
        try:
            check_object_name(key)
        except ValueError:
            raise errors.InvalidKeyError(
                f"object key {key!r} is blank or has a '.' or '..' path segment, which the "
                "minio SDK cannot address"
            ) from None

    def _create_sdk_client(self) -> Any:
        config = self.config
        pool_options: dict[str, Any] = {
            "timeout": urllib3.Timeout(
                connect=config.connect_timeout_s, read=config.read_timeout_s
            ),
            "maxsize": config.max_pool_connections,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": os.environ.get("SSL_CERT_FILE") or certifi.where(),
            "retries": urllib3.Retry(
                total=config.max_retries,
                backoff_factor=_RETRY_BACKOFF_FACTOR,
                status_forcelist=_RETRY_STATUSES,
                raise_on_status=False,
            ),
        }
        http_client = (
            _ObservedProxyManager(config.proxy, **pool_options)
            if config.proxy
            else _ObservedPoolManager(**pool_options)
        )
        source = configured_credentials(config)
        return Minio(
            endpoint=config.endpoint,
            credentials=None if source is None else _SourceProvider(source),
            secure=config.secure,
            region=config.region or DEFAULT_REGION,
            http_client=http_client,
        )

    def _close_sdk_client(self, client: Any) -> None:
        # minio keeps the pool it was given as ``_http`` (its own __del__ clears it the same
        # way); reaching it through the client, not a driver attribute, cannot race with a
        # client created again after close().
        client._http.clear()

    def _error_details(self, exc: Exception) -> errors.ErrorDetails | None:
        if isinstance(exc, S3Error):
            return errors.ErrorDetails(
                message=exc.message or str(exc),
                code=exc.code,
                status=exc.response.status,
                request_id=exc.request_id,
            )
        if isinstance(exc, ServerError):
            return errors.ErrorDetails(str(exc), status=exc.status_code)
        if isinstance(exc, InvalidResponseError):
            # A non-XML error response; minio exposes its status only as ``_code``.
            return errors.ErrorDetails(str(exc), status=exc._code)
        if isinstance(exc, urllib3_errors.HTTPError):
            return errors.ErrorDetails(str(exc), error_class=_transport_error_class(exc))
        if isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):
            # minio's own argument checks. Not a UnicodeError, which is no
            # argument check (a header http.client cannot encode, a response that is not UTF-8).
            return errors.ErrorDetails(str(exc), error_class=errors.InvalidArgumentError)
        return None

    # -- objects -------------------------------------------------------------------------

    def _put_object(
        self, bucket, key, data, content_type, metadata, md5, overwrite
    ) -> WriteResult:
        headers = {**write_headers(_META_PREFIX, content_type, metadata), "Content-MD5": md5}
        if not overwrite:
            headers["If-None-Match"] = "*"
        result = self.sdk._put_object(bucket, key, _body(data), headers)
        return WriteResult(bucket, key, result.etag or None, result.version_id)

    def _open_object(self, bucket, key, start, end, if_match, version_id) -> ObjectResponse:
        headers = None if if_match is None else {"If-Match": f'"{if_match}"'}
        response = self.sdk.get_object(
            bucket, key, offset=start, length=0 if end is None else end - start,
            request_headers=headers, version_id=version_id,
        )
        headers = response.headers
        return ObjectResponse(
            _ResponseBody(response),
            object_size(headers.get("Content-Range"), headers.get("Content-Length")),
            (headers.get("ETag") or "").strip('"') or None,
            headers.get("x-amz-version-id"),
        )

    def _head_object(self, bucket, key, version_id) -> ObjectInfo:
        stat = self.sdk.stat_object(bucket, key, version_id=version_id)
        headers = stat.metadata
        return ObjectInfo(
            key=key,
            size=stat.size,
            etag=stat.etag or None,
            last_modified=stat.last_modified,
            content_type=stat.content_type,
            metadata=user_metadata(_META_PREFIX, headers),
            storage_class=headers.get("x-amz-storage-class", "STANDARD"),
            version_id=stat.version_id,
        )

    def _delete_object(self, bucket, key, version_id) -> None:
        self.sdk.remove_object(bucket, key, version_id=version_id)

    def _delete_batch(self, bucket, keys) -> DeleteResult:
        result = self.sdk._delete_objects(bucket, [DeleteObject(key) for key in keys], quiet=True)
        failures = [
            DeleteFailure(key, error.code, error.message or "")
            for error in result.error_list
            # An <Error> without a key (the whole request failed, sent with HTTP 200) fails
            # every key of the batch.
            for key in ([error.name] if error.name else keys)
        ]
        failed = {failure.key for failure in failures}
        return DeleteResult([key for key in keys if key not in failed], failures)

    def _copy_object(self, src_bucket, src_key, dst_bucket, dst_key, metadata) -> WriteResult:
        # One CopyObject request, not sdk.copy_object: that first stats the source (an extra
        # HEAD on every copy) to switch to a client-driven multipart copy above 5 GiB, where
        # this driver, like the boto3 one, leaves the limit to the server.
        headers = {
            **CopySource(src_bucket, src_key).gen_copy_headers(),
            "x-amz-metadata-directive": COPY,
        }
        if metadata is not None:
            headers.update(write_headers(_META_PREFIX, None, metadata))
            headers["x-amz-metadata-directive"] = REPLACE
        response = self.sdk._execute("PUT", dst_bucket, dst_key, headers=headers)
        etag, _ = parse_copy_object(response)
        return WriteResult(dst_bucket, dst_key, etag, response.headers.get("x-amz-version-id"))

    def _list_objects_page(self, bucket, prefix, delimiter, start_after, page_size, token):
        # Pages are requested here rather than through sdk._list_objects, which yields each
        # page's objects before its common prefixes (the base class sorts each page). The page
        # is parsed by s3_listing_xml (url-decoded keys), not by minio's parser, which builds
        # an object per key and parses dates with strptime.
        query = {
            "list-type": "2",
            "prefix": prefix,
            "delimiter": delimiter or "",
            "max-keys": str(page_size),
            "encoding-type": "url",
        }
        if start_after:
            query["start-after"] = start_after
        if token:
            query["continuation-token"] = token
        response = self.sdk._execute("GET", bucket, query_params=query)
        return parse_list_objects_v2(response.data)

    def _list_object_versions(self, bucket, prefix) -> Iterator[ObjectInfo]:
        query = {"versions": "", "prefix": prefix}
        while True:
            response = self.sdk._execute("GET", bucket, query_params=query)
            items, truncated, key_marker, version_id_marker = parse_list_objects(response)
            yield from in_version_order(_version_entry(item) for item in items)
            if not truncated or not key_marker:
                return
            query["key-marker"] = key_marker
            query["version-id-marker"] = version_id_marker or ""

    # -- multipart -----------------------------------------------------------------------

    def _create_multipart_upload(self, bucket, key, content_type, metadata) -> str:
        return self.sdk._create_multipart_upload(
            bucket, key, write_headers(_META_PREFIX, content_type, metadata)
        )

    def _upload_part(self, bucket, key, upload_id, part_number, data, md5) -> PartInfo:
        etag = self.sdk._upload_part(
            bucket, key, _body(data), {"Content-MD5": md5}, upload_id, part_number
        )
        return PartInfo(part_number, etag, len(data))

    def _upload_part_copy(
        self, bucket, key, upload_id, part_number, src_bucket, src_key, start, end, if_match
    ) -> PartInfo:
        # The SDK's own copy-source headers (``match_etag`` is x-amz-copy-source-if-match).
        source = CopySource(
            src_bucket, src_key, match_etag=None if if_match is None else f'"{if_match}"'
        )
        headers = {
            **source.gen_copy_headers(),
            "x-amz-copy-source-range": f"bytes={start}-{end - 1}",
        }
        etag, last_modified = self.sdk._upload_part_copy(
            bucket, key, upload_id, part_number, headers
        )
        return PartInfo(part_number, etag, end - start, last_modified)

    def _complete_multipart_upload(
        self, bucket, key, upload_id, parts, overwrite
    ) -> WriteResult:
        if overwrite:
            result = self.sdk._complete_multipart_upload(
                bucket, key, upload_id, [Part(part.part_number, part.etag) for part in parts]
            )
            return WriteResult(bucket, key, result.etag, result.version_id)
        # The SDK's request, plus the create-only header it has no parameter for.
        document = Element("CompleteMultipartUpload")
        for part in parts:
            node = SubElement(document, "Part")
            SubElement(node, "PartNumber", str(part.part_number))
            SubElement(node, "ETag", f'"{part.etag}"')
        body = getbytes(document)
        headers = {
            "Content-Type": "application/xml",
            "Content-MD5": md5sum_hash(body),
            "If-None-Match": "*",
        }
        response = self.sdk._execute(
            "POST", bucket, key, body=body, headers=headers, query_params={"uploadId": upload_id}
        )
        result = CompleteMultipartUploadResult(response)
        return WriteResult(bucket, key, result.etag, result.version_id)

    def _abort_multipart_upload(self, bucket, key, upload_id) -> None:
        self.sdk._abort_multipart_upload(bucket, key, upload_id)

    def _list_parts(self, bucket, key, upload_id) -> Iterator[PartInfo]:
        marker = None
        while True:
            page = self.sdk._list_parts(bucket, key, upload_id, part_number_marker=marker)
            for part in page.parts:
                yield PartInfo(part.part_number, part.etag, part.size, part.last_modified)
            if not page.is_truncated:
                return
            marker = page.next_part_number_marker

    def _list_multipart_uploads(self, bucket, prefix) -> Iterator[MultipartUploadInfo]:
        # Requested here rather than through sdk._list_multipart_uploads, which always asks for
        # url-encoded keys and url-decodes whatever comes back: a server that echoes
        # EncodingType=url without encoding the keys (SeaweedFS does) would see "+" turn into
        # " ". Keys come unencoded, as the boto3 backend asks for them.
        query = {"uploads": "", "prefix": prefix}
        while True:
            response = self.sdk._execute("GET", bucket, query_params=query)
            page = ListMultipartUploadsResult(response)
            for upload in page.uploads:
                yield MultipartUploadInfo(
                    upload.object_name, upload.upload_id, upload.initiated_time
                )
            # A truncated page without NextKeyMarker (SeaweedFS sends them) ends the listing.
            if not page.is_truncated or not page.next_key_marker:
                return
            query["key-marker"] = page.next_key_marker
            query["upload-id-marker"] = _next_upload_id_marker(page)

    # -- URLs and buckets ----------------------------------------------------------------

    def _presigned_url(self, bucket, key, method, expires_s) -> str:
        return self.sdk.get_presigned_url(
            method, bucket, key, expires=timedelta(seconds=expires_s)
        )

    def _list_buckets(self) -> list[BucketInfo]:
        return [BucketInfo(item.name, item.creation_date) for item in self.sdk.list_buckets()]

    def _create_bucket(self, bucket, region) -> None:
        # minio creates buckets only in the client's region (any other raises ValueError,
        # reported as InvalidArgumentError); None means that region.
        self.sdk.make_bucket(bucket, location=region)

    def _delete_bucket(self, bucket) -> None:
        self.sdk.remove_bucket(bucket)

    def _bucket_exists(self, bucket) -> bool:
        return self.sdk.bucket_exists(bucket)

    def _get_bucket_policy(self, bucket) -> str:
        return self.sdk.get_bucket_policy(bucket)

    def _set_bucket_policy(self, bucket, policy_json) -> None:
        self.sdk.set_bucket_policy(bucket, policy_json)

    def _delete_bucket_policy(self, bucket) -> None:
        self.sdk.delete_bucket_policy(bucket)

    def _set_bucket_versioning(self, bucket, enabled) -> None:
        self.sdk.set_bucket_versioning(bucket, VersioningConfig(ENABLED if enabled else SUSPENDED))

    def _get_bucket_versioning(self, bucket) -> bool:
        return self.sdk.get_bucket_versioning(bucket).status == ENABLED



class _NotingResponses:
    """Mixed into the minio SDK's urllib3 pool: tells :mod:`fsspec_unified.observability`
    the status and request id of every response (the SDK's own retries included)."""

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any):
        response = super().urlopen(method, url, redirect, **kw)
        note_response(response.status, response.headers.get("x-amz-request-id"))
        return response


class _ObservedPoolManager(_NotingResponses, urllib3.PoolManager):
    pass


class _ObservedProxyManager(_NotingResponses, urllib3.ProxyManager):
    pass
