"""``BaseOSSClient``: the one interface every storage backend implements.

The public methods here are the interface: they validate their arguments (so bad input fails
before any request), run the backend's implementation, and turn whatever the SDK raised into
:mod:`fsspec_unified.driver.exceptions` with the operation, bucket and key attached. A backend
implements only the protected ``_``-prefixed methods, each a thin call into its SDK that returns
the project's own types (:mod:`fsspec_unified.driver.types`), plus ``_error_details`` to
describe its SDK's errors. Logic that does not depend on the SDK (streaming uploads, atomic
downloads, delete batching, range rules) lives here once.

Ranges are Python-style: ``start`` inclusive, ``end`` exclusive, both optional. A range that
starts at or past the end of the object reads as empty, as slicing does.

Clients are thread-safe, fork-safe and picklable: the SDK client (and its connection pool) is
created on first use and again in a process forked after that (a pid check in :attr:`sdk`, plus
an ``os.register_at_fork`` hook that gives the child fresh locks), so a child never reads from a
socket it shares with its parent; a pickled client carries only its configuration, so it
rebuilds itself in another process.

Integrity: no method here or in a backend compares an ETag with an MD5. An ETag identifies a
version of an object (reads can be pinned to it with ``if_match``); it is not a checksum (SSE-KMS,
SSE-C and multipart ETags are not MD5s of the bytes). Integrity comes from what the server
verifies: Content-MD5 on every single PUT and part, CRC64 on OSS, checksums the server echoes.

Conditional requests: ``if_match`` on reads sends ``If-Match``, and on
:meth:`BaseOSSClient.upload_part_copy` the copy-source condition (``x-amz-copy-source-if-match``,
OSS: ``x-oss-copy-source-if-match``); either way a 412 becomes
:class:`~.exceptions.ConcurrentModificationError`. ``overwrite=False`` on
:meth:`BaseOSSClient.put_object` and :meth:`BaseOSSClient.complete_multipart_upload` sends the
provider's create-only condition and turns its refusal into
:class:`~.exceptions.ObjectExistsError`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import ipaddress
import json
import os
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar, Protocol, TypeVar
from urllib.parse import quote

from ..observability.scope import byte_counter, observed_iteration, observed_request
from . import exceptions as errors
from .models import OSSConfig
from .types import (
    MIB,
    BucketInfo,
    DeleteResult,
    DriverCapabilities,
    MultipartUploadInfo,
    ObjectInfo,
    PartInfo,
    WriteResult,
)

DEFAULT_STREAM_PART_SIZE_BYTES = 8 * MIB
DEFAULT_PRESIGN_EXPIRY_S = 3600
_READ_BUFFER_BYTES = 1 * MIB

T = TypeVar("T")


class RawObjectBody(Protocol):
    """An HTTP body to read and then close (the ``body`` of an :class:`ObjectResponse`)."""

    def read(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class ObjectResponse:
    """What a backend's ``_open_object`` returns: the body, and what the response said about
    the object, so that one GET can stand in for a HEAD and a GET.

    ``size`` is the size of the whole object (from ``Content-Range`` for a ranged GET, else
    ``Content-Length``); ``etag`` is unquoted. A backend that can, gives its body a
    ``readinto(buffer) -> int`` that fills the caller's buffer without an extra copy.
    """

    body: RawObjectBody
    size: int | None
    etag: str | None
    version_id: str | None = None


def object_size(content_range: str | None, content_length: int | str | None) -> int | None:
    """The whole object's size from a GET's headers: the total of ``Content-Range``
    (``bytes 0-99/1234``) when the GET was ranged, else its ``Content-Length``."""
    if content_range:
        total = content_range.rpartition("/")[2].strip()
        if total.isdigit():
            return int(total)
    if content_length is None or content_length == "":
        return None
    return int(content_length)


def content_md5(data: bytes | bytearray | memoryview) -> str:
    """The base64 MD5 digest that goes in a ``Content-MD5`` header."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


class ObjectReader(io.RawIOBase):
    """A raw reader over one GET's body that translates SDK errors raised while reading.

    ``size`` (the whole object's), ``etag`` and ``version_id`` are what the response said
    (``None``, and ``past_end`` true, for a range that starts past the end, which reads as
    empty).
    """

    def __init__(
        self,
        response: ObjectResponse | None,
        translate: Callable[[], contextlib.AbstractContextManager],
        count_read: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._count_read = count_read
        self._body = None if response is None else response.body
        self._readinto = getattr(self._body, "readinto", None)
        self._translate = translate
        self.size = None if response is None else response.size
        self.etag = None if response is None else response.etag
        self.version_id = None if response is None else response.version_id
        #: The range started at or past the end of the object (416): nothing to read.
        self.past_end = response is None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left if negative), straight from the body: for
        a known length this is one allocation, with no copy through a buffer."""
        if self._body is None:
            return b""
        with self._translate():
            data = self._body.read(size) if size is not None and size >= 0 else self._body.read()
        if self._count_read is not None:
            self._count_read(len(data))
        return data

    def readall(self) -> bytes:
        """Everything left, in one read (``RawIOBase`` would read 8 KiB at a time)."""
        return self.read(-1)

    def readinto(self, buffer) -> int:
        if self._body is None:
            return 0
        with self._translate():
            if self._readinto is not None:
                size = self._readinto(buffer)
            else:
                data = self._body.read(len(buffer))
                size = len(data)
                buffer[:size] = data
        if self._count_read is not None:
            self._count_read(size)
        return size

    def close(self) -> None:
        if self._body is not None and not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


# Every live client, so that a forked child can drop what it inherited (see _after_fork).
_LIVE_CLIENTS: weakref.WeakSet[BaseOSSClient] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """In a forked child: fresh locks (a parent thread may have held one at fork time) and no
    inherited SDK client, whose pooled sockets the parent still uses. The pid check in
    :attr:`BaseOSSClient.sdk` covers forks that bypass this hook."""
    for client in list(_LIVE_CLIENTS):
        client._forget_sdk_client()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class BaseOSSClient(ABC):
    """Abstract client for one object store, built from an :class:`OSSConfig`.

    See the module docstring for the contract. Subclasses set ``provider`` and
    ``capabilities`` and implement every abstract ``_method``.
    """

    provider: ClassVar[str]
    capabilities: ClassVar[DriverCapabilities] = DriverCapabilities()

    def __init__(self, config: OSSConfig) -> None:
        self.config = config
        self._forget_sdk_client()
        _LIVE_CLIENTS.add(self)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def sdk(self) -> Any:
        """The SDK client, created on first use in each process (thread-safe, fork-safe).

        A client built by another process (this one was forked after it was built) is
        abandoned, not closed: its sockets belong to the parent, and closing them here could
        disturb the parent's requests.
        """
        pid = os.getpid()
        if self._sdk_client is None or self._sdk_pid != pid:
            with self._sdk_lock:
                if self._sdk_client is None or self._sdk_pid != pid:
                    self._sdk_client = self._create_sdk_client()
                    self._sdk_pid = pid
        return self._sdk_client

    def _forget_sdk_client(self) -> None:
        """Start afresh (new lock, no SDK client) without touching what was there."""
        self._sdk_lock = threading.Lock()
        self._sdk_client: Any = None
        self._sdk_pid: int | None = None

    def close(self) -> None:
        """Release the connection pool; the client reconnects if used again."""
        with self._sdk_lock:
            client, self._sdk_client = self._sdk_client, None
            owned = self._sdk_pid == os.getpid()
        if client is not None and owned:
            self._close_sdk_client(client)

    def __enter__(self) -> BaseOSSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"config": self.config}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"])

    def __repr__(self) -> str:
        endpoint = self.config.endpoint_url or "default endpoint"
        return f"{type(self).__name__}(provider={self.provider!r}, endpoint={endpoint!r})"

    # -- objects -------------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | bytearray | memoryview,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        overwrite: bool = True,
    ) -> WriteResult:
        """Store ``data`` under ``key`` in one request, sent with its Content-MD5.

        With ``overwrite=False`` the write is conditional (``If-None-Match: *``) and raises
        :class:`ObjectExistsError` (a ``FileExistsError``) if the key exists.
        """
        self._check_object(bucket, key)
        self._check_new_key(key)
        with self._create_only("put_object", bucket, key, overwrite), self._operation(
            "put_object", bucket, key, len(data)
        ):
            return self._put_object(
                bucket, key, data, content_type, metadata or {}, content_md5(data), overwrite,
            )

    def put_stream(
        self,
        bucket: str,
        key: str,
        stream: BinaryIO,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        part_size: int = DEFAULT_STREAM_PART_SIZE_BYTES,
    ) -> WriteResult:
        """Upload a readable stream of any length through the transfer engine, one part in
        flight at a time (memory: about two parts).

        A stream shorter than two parts' worth goes up in one request; a longer one as a
        server-side multipart upload, aborted if anything fails so that no object and no
        orphaned parts remain. For concurrent, resumable uploads use the transfer manager.
        """
        return self._upload_one_at_a_time("upload_stream", bucket, key, stream, content_type,
                                          metadata, part_size)

    def put_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        part_size: int = DEFAULT_STREAM_PART_SIZE_BYTES,
    ) -> WriteResult:
        """Upload a local file through the transfer engine, one part in flight at a time; the
        part size grows if the file needs more than the provider's maximum number of parts."""
        return self._upload_one_at_a_time("upload_file", bucket, key, path, content_type,
                                          metadata, part_size)

    def _upload_one_at_a_time(self, entry_point: str, bucket: str, key: str, source: Any,
                              content_type: str | None, metadata: dict[str, str] | None,
                              part_size: int) -> WriteResult:
        self._check_object(bucket, key)
        self._check_new_key(key)
        self._check_part_size(part_size)
        with _one_at_a_time(part_size) as transfers:
            result = getattr(transfers, entry_point)(
                self, source, key, bucket=bucket, content_type=content_type, metadata=metadata)
        return WriteResult(bucket, key, result.etag, result.version_id)

    def get_object(
        self,
        bucket: str,
        key: str,
        start: int | None = None,
        end: int | None = None,
        *,
        if_match: str | None = None,
        version_id: str | None = None,
    ) -> bytes:
        """The object's bytes, or the range ``[start, end)`` of them, read in one piece (see
        :meth:`open_object` for ``if_match`` and ``version_id``)."""
        with self.open_object(
            bucket, key, start, end, if_match=if_match, version_id=version_id
        ) as reader:
            return reader.readall()

    def get_object_stream(
        self,
        bucket: str,
        key: str,
        start: int | None = None,
        end: int | None = None,
        *,
        if_match: str | None = None,
        version_id: str | None = None,
    ) -> io.BufferedReader:
        """A buffered reader over the object (or a range); close it to free the connection.

        See :meth:`open_object` for ``if_match`` and ``version_id``.
        """
        return io.BufferedReader(
            self.open_object(bucket, key, start, end, if_match=if_match, version_id=version_id),
            _READ_BUFFER_BYTES,
        )

    def open_object(
        self,
        bucket: str,
        key: str,
        start: int | None = None,
        end: int | None = None,
        *,
        if_match: str | None = None,
        version_id: str | None = None,
    ) -> ObjectReader:
        """Send one GET of the object (or of ``[start, end)``) and return its unbuffered body,
        with the object's ``size`` and ``etag`` as the response gave them. One request: this
        is what the transfer engine reads through. Close it to free the connection.

        ``if_match`` pins the read to the object whose ETag it is (``If-Match``): if the key
        now holds other bytes, :class:`ConcurrentModificationError` is raised instead of
        returning them. ``version_id`` reads that version of the object (versioned buckets).
        """
        self._check_object(bucket, key)
        first, end = _check_range(start, end, operation="get_object", bucket=bucket, key=key)
        etag = _pinned_etag(if_match)
        _check_optional_text("version_id", version_id)

        def translate() -> contextlib.AbstractContextManager:
            return self._translating("get_object", bucket, key)

        response: ObjectResponse | None = None
        if end is None or first < end:
            try:
                with _pinned_to(etag, bucket, key), self._operation("get_object", bucket, key):
                    response = self._open_object(bucket, key, first, end, etag, version_id)
            except errors.InvalidRangeError:
                response = None  # the range starts at or past the end: reads as empty
        return ObjectReader(response, translate, byte_counter("read"))

    def get_file(
        self, bucket: str, key: str, path: str | os.PathLike[str]
    ) -> int:
        """Download to ``path`` atomically through the transfer engine and return the number
        of bytes written; a failed download leaves nothing under ``path``."""
        self._check_object(bucket, key)
        with _one_at_a_time(DEFAULT_STREAM_PART_SIZE_BYTES) as transfers:
            return transfers.download_file(self, key, path, bucket=bucket).size

    def head_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> ObjectInfo:
        """Size, ETag, last-modified, content type, user metadata and version id of one object
        (or of one version of it)."""
        self._check_object(bucket, key)
        _check_optional_text("version_id", version_id)
        with self._operation("head_object", bucket, key):
            return self._head_object(bucket, key, version_id)

    def object_exists(self, bucket: str, key: str) -> bool:
        """Whether ``key`` exists; ``False`` also when the bucket does not exist."""
        try:
            self.head_object(bucket, key)
        except (errors.ObjectNotFoundError, errors.BucketNotFoundError):
            return False
        return True

    def delete_object(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> None:
        """Delete one object; deleting a missing key is not an error (as on S3 and OSS).

        In a versioned bucket this adds a delete marker; with ``version_id`` it removes that
        version for good.
        """
        self._check_object(bucket, key)
        _check_optional_text("version_id", version_id)
        with self._operation("delete_object", bucket, key):
            self._delete_object(bucket, key, version_id)

    def delete_objects(self, bucket: str, keys: Iterable[str]) -> DeleteResult:
        """Delete many keys, in requests of at most ``capabilities.max_delete_batch`` keys.

        Per-key failures are reported in the result rather than raised; a failure of a whole
        request (missing bucket, bad credentials) raises.
        """
        self._check_bucket(bucket)
        result = DeleteResult()
        batch: list[str] = []
        for key in keys:
            self._check_key(key)
            batch.append(key)
            if len(batch) == self.capabilities.max_delete_batch:
                self._delete_one_batch(bucket, batch, result)
                batch = []
        if batch:
            self._delete_one_batch(bucket, batch, result)
        return result

    def _delete_one_batch(self, bucket: str, keys: list[str], result: DeleteResult) -> None:
        with self._operation("delete_objects", bucket):
            batch_result = self._delete_batch(bucket, keys)
        result.deleted.extend(batch_result.deleted)
        result.failures.extend(batch_result.failures)

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        metadata: dict[str, str] | None = None,
    ) -> WriteResult:
        """Server-side copy (no bytes pass through the client), up to
        ``capabilities.max_single_copy_bytes``; larger objects need :meth:`upload_part_copy`.

        With ``metadata`` the copy gets that metadata instead of the source's.
        """
        self._check_object(src_bucket, src_key)
        self._check_object(dst_bucket, dst_key)
        self._check_new_key(dst_key)
        with self._operation("copy_object", dst_bucket, dst_key):
            return self._copy_object(src_bucket, src_key, dst_bucket, dst_key, metadata)

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        start_after: str | None = None,
        page_size: int | None = None,
        send_page: Callable[[Callable[[], T]], T] | None = None,
    ) -> Iterator[ObjectInfo]:
        """Objects (and, with a delimiter, common prefixes), fetched page by page, each page
        sorted by key (servers that list in tree order, as SeaweedFS does, are not sorted
        across pages).

        A generator: listing 100,000 keys holds one page at a time. ``page_size`` defaults to
        and is capped at the provider's maximum page. Each page is one request; ``send_page``
        (the transfer engine's retry loop, say) is called with the function that fetches it
        and may call that function again: a page sent again carries the same continuation
        token, so a retried listing neither repeats nor misses entries.
        """
        self._check_bucket(bucket)
        limit = self.capabilities.max_list_page
        if page_size is not None and not 1 <= page_size <= limit:
            raise errors.InvalidArgumentError(f"page_size must be between 1 and {limit}")
        return self._pages(bucket, prefix, delimiter, start_after, page_size or limit,
                           send_page or _call)

    def _pages(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None,
               page_size: int, send_page: Callable) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            def fetch(token: str | None = token) -> tuple[list[ObjectInfo], str | None]:
                with self._operation("list_objects", bucket, prefix or None):
                    return self._list_objects_page(bucket, prefix, delimiter, start_after,
                                                   page_size, token)

            entries, token = send_page(fetch)
            entries.sort(key=lambda entry: entry.key)
            yield from entries
            if token is None:
                return

    def list_object_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every version and delete marker under ``prefix`` (a generator over pages).

        Keys come in key order, each key's versions newest first; every entry has
        ``version_id``, ``is_latest`` and ``is_delete_marker`` (a delete marker has size 0 and
        no ETag). A bucket that was never versioned lists each object once, as its version.
        """
        self._check_bucket(bucket)
        self._check_versioning("list_object_versions", bucket)
        return self._translated_iterator(
            "list_object_versions", bucket, self._list_object_versions(bucket, prefix)
        )

    # -- multipart -----------------------------------------------------------------------

    def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Start a server-side multipart upload and return its upload id."""
        self._check_object(bucket, key)
        self._check_new_key(key)
        with self._operation("create_multipart_upload", bucket, key):
            return self._create_multipart_upload(bucket, key, content_type, metadata or {})

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: bytes | bytearray | memoryview,
        *,
        md5: str | None = None,
    ) -> PartInfo:
        """Upload one part, sent with its Content-MD5 so the server rejects a corrupted body.

        ``md5`` lets a caller that already computed the digest pass it in.
        """
        self._check_object(bucket, key)
        self._check_part_number(part_number)
        with self._operation("upload_part", bucket, key, len(data)):
            return self._upload_part(
                bucket, key, upload_id, part_number, data, md5 or content_md5(data)
            )

    def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        start: int,
        end: int,
        *,
        if_match: str | None = None,
    ) -> PartInfo:
        """Make part ``part_number`` from bytes ``[start, end)`` of another object, server-side.

        ``if_match`` pins the source to the object whose ETag it is (the copy-source condition,
        ``x-amz-copy-source-if-match``): if ``src_key`` now holds other bytes, no part is made
        and :class:`ConcurrentModificationError` is raised (its ``bucket``/``key`` name the
        source). Pass every part of one copy the ETag the source had before the first, so that
        a source replaced midway fails the copy instead of mixing bytes of two versions.
        SeaweedFS enforces the condition on UploadPartCopy (412; tried on 4.48), as S3 and OSS do.
        """
        self._check_object(bucket, key)
        self._check_object(src_bucket, src_key)
        self._check_part_number(part_number)
        if end is None:
            raise errors.InvalidRangeError("upload_part_copy needs an end", key=key)
        _check_range(start, end, operation="upload_part_copy", bucket=bucket, key=key)
        if end <= start:
            raise errors.InvalidRangeError(f"empty copy range [{start}, {end})", key=key)
        etag = _pinned_etag(if_match)
        with _pinned_to(etag, src_bucket, src_key), \
                self._operation("upload_part_copy", bucket, key):
            return self._upload_part_copy(
                bucket, key, upload_id, part_number, src_bucket, src_key, start, end, etag
            )

    def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[PartInfo],
        *,
        overwrite: bool = True,
    ) -> WriteResult:
        """Assemble the parts (in part-number order) into the object.

        With ``overwrite=False`` the completion is create-only (``If-None-Match: *`` on S3 and
        MinIO, ``x-oss-forbid-overwrite: true`` on OSS), decided by the server in the same
        request, and raises :class:`ObjectExistsError` (a ``FileExistsError``) if the key
        exists; the upload then stays open, so the caller may abort it.
        """
        self._check_object(bucket, key)
        if not parts:
            raise errors.InvalidArgumentError("a multipart upload needs at least one part")
        ordered = sorted(parts, key=lambda part: part.part_number)
        operation = "complete_multipart_upload"
        with self._create_only(operation, bucket, key, overwrite), self._operation(
            operation, bucket, key
        ):
            return self._complete_multipart_upload(bucket, key, upload_id, ordered, overwrite)

    def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort the upload; the server discards its parts."""
        self._check_object(bucket, key)
        with self._operation("abort_multipart_upload", bucket, key):
            self._abort_multipart_upload(bucket, key, upload_id)

    def list_parts(self, bucket: str, key: str, upload_id: str) -> Iterator[PartInfo]:
        """Parts uploaded so far, in part-number order (a generator over pages)."""
        self._check_object(bucket, key)
        return self._translated_iterator(
            "list_parts", bucket, self._list_parts(bucket, key, upload_id), key
        )

    def list_multipart_uploads(
        self, bucket: str, prefix: str = ""
    ) -> Iterator[MultipartUploadInfo]:
        """Uploads started and neither completed nor aborted (a generator over pages)."""
        self._check_bucket(bucket)
        return self._translated_iterator(
            "list_multipart_uploads", bucket, self._list_multipart_uploads(bucket, prefix)
        )

    # -- URLs ----------------------------------------------------------------------------

    def presigned_url(
        self,
        bucket: str,
        key: str,
        method: str = "GET",
        expires_s: int = DEFAULT_PRESIGN_EXPIRY_S,
    ) -> str:
        """A URL that allows ``GET`` or ``PUT`` of the object without credentials until it
        expires (``expires_s`` from 1 s to the provider's maximum, 7 days on S3)."""
        self._check_object(bucket, key)
        method = method.upper()
        if method not in ("GET", "PUT"):
            raise errors.InvalidArgumentError(f"presigned URLs are for GET or PUT, not {method}")
        if method == "PUT":
            self._check_new_key(key)
        limit = self.capabilities.max_presign_expiry_s
        if not _is_count(expires_s) or not 1 <= expires_s <= limit:
            raise errors.InvalidArgumentError(
                f"expires_s must be a whole number of seconds from 1 to {limit}"
            )
        with self._operation("presigned_url", bucket, key):
            return self._presigned_url(bucket, key, method, expires_s)

    def public_url(self, bucket: str, key: str) -> str:
        """The unsigned URL of the object; it works only if the bucket policy allows reads."""
        self._check_object(bucket, key)
        return f"{self._bucket_url(bucket)}/{quote(key, safe='/~')}"

    def _bucket_url(self, bucket: str) -> str:
        """Path-style bucket URL on the configured endpoint; backends may override."""
        return f"{self.config.endpoint_url}/{bucket}"

    # -- buckets -------------------------------------------------------------------------

    def list_buckets(self) -> list[BucketInfo]:
        with self._operation("list_buckets"):
            return self._list_buckets()

    def create_bucket(self, bucket: str, region: str | None = None) -> None:
        """Create a bucket in ``region`` (default: the configured region)."""
        self._check_bucket(bucket)
        with self._operation("create_bucket", bucket):
            self._create_bucket(bucket, region or self.config.region)

    def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket; a non-empty one raises :class:`BucketNotEmptyError`."""
        self._check_bucket(bucket)
        with self._operation("delete_bucket", bucket):
            self._delete_bucket(bucket)

    def bucket_exists(self, bucket: str) -> bool:
        self._check_bucket(bucket)
        with self._operation("bucket_exists", bucket):
            return self._bucket_exists(bucket)

    def get_bucket_policy(self, bucket: str) -> dict | None:
        """The bucket policy as a dict (S3 policy grammar on every backend), or ``None``."""
        self._check_bucket(bucket)
        try:
            with self._operation("get_bucket_policy", bucket):
                text = self._get_bucket_policy(bucket)
        except errors.PolicyNotFoundError:
            return None
        return json.loads(text) if text else None

    def set_bucket_policy(self, bucket: str, policy: dict | str) -> None:
        """Set the bucket policy from a dict or a JSON string (S3 policy grammar)."""
        self._check_bucket(bucket)
        if isinstance(policy, str):
            try:
                policy = json.loads(policy)
            except json.JSONDecodeError as exc:
                raise errors.InvalidArgumentError(f"bucket policy is not JSON: {exc}") from exc
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise errors.InvalidArgumentError("a bucket policy is a JSON object with 'Statement'")
        with self._operation("set_bucket_policy", bucket):
            self._set_bucket_policy(bucket, json.dumps(policy))

    def delete_bucket_policy(self, bucket: str) -> None:
        self._check_bucket(bucket)
        with self._operation("delete_bucket_policy", bucket):
            self._delete_bucket_policy(bucket)

    def set_bucket_versioning(self, bucket: str, enabled: bool) -> None:
        """Enable versioning, or suspend it (``enabled=False``; a bucket that was versioned
        can never return to unversioned, and its old versions stay)."""
        self._check_bucket(bucket)
        if not isinstance(enabled, bool):
            raise errors.InvalidArgumentError(f"enabled must be a bool, got {enabled!r}")
        self._check_versioning("set_bucket_versioning", bucket)
        with self._operation("set_bucket_versioning", bucket):
            self._set_bucket_versioning(bucket, enabled)

    def get_bucket_versioning(self, bucket: str) -> bool:
        """Whether versioning is enabled (``False`` when never enabled or suspended)."""
        self._check_bucket(bucket)
        if not self.capabilities.supports_versioning:
            return False
        with self._operation("get_bucket_versioning", bucket):
            return self._get_bucket_versioning(bucket)

    # -- validation and error translation ------------------------------------------------

    def _check_bucket(self, bucket: str) -> None:
        caps = self.capabilities
        valid = (
            isinstance(bucket, str)
            and caps.bucket_name_pattern.fullmatch(bucket) is not None
            and ".." not in bucket
            and not _is_ip_address(bucket)
        )
        if not valid:
            raise errors.InvalidBucketNameError(
                f"invalid bucket name {bucket!r} for {self.provider}: {caps.bucket_name_rule}"
            )

    def _check_key(self, key: str) -> None:
        """A key any request can carry: not empty, encodable as UTF-8 (no lone surrogate),
        within the provider's limit in UTF-8 bytes. Keys that exist are addressed as they
        are; :meth:`_check_new_key` adds what a key being written must also satisfy."""
        if not isinstance(key, str) or not key:
            raise errors.InvalidKeyError(f"object key must be a non-empty string, got {key!r}")
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise errors.InvalidKeyError(
                f"object key {key!r} is not valid Unicode: {exc}",
                key=key.encode("utf-8", "backslashreplace").decode("utf-8")[:64],
            ) from None
        if size > self.capabilities.max_key_bytes:
            raise errors.InvalidKeyError(
                f"object key is {size} bytes in UTF-8; the limit is "
                f"{self.capabilities.max_key_bytes}",
                key=key[:64] + "...",
            )

    def _check_new_key(self, key: str) -> None:
        """A key being written (put, multipart upload, copy destination, presigned PUT) must
        also be one every provider can address and a download can name, so these are
        refused before any request: control characters (U+0000-U+001F, U+007F: NUL is refused
        by SeaweedFS and fits no local file name, and the others cannot travel in the XML of a
        batch delete or, on some servers, of a listing), and ``.`` or ``..`` segments, which
        HTTP clients normalise out of the URL (the minio SDK cannot send them, SeaweedFS and
        MinIO refuse them). Reads, listings and deletes of keys that already exist (written by
        another tool) are not refused for these: the server decides."""
        control = next((c for c in key if c < " " or c == "\x7f"), None)
        if control is not None:
            raise errors.InvalidKeyError(
                f"object key {key!r} holds the control character {control!r}; keys written "
                "through this library may not hold control characters", key=key[:64],
            )
        if any(segment in (".", "..") for segment in key.split("/")):
            raise errors.InvalidKeyError(
                f"object key {key!r} has a '.' or '..' segment, which HTTP clients remove "
                "from the URL; such a key cannot be addressed on every provider", key=key[:64],
            )

    def _check_object(self, bucket: str, key: str) -> None:
        self._check_bucket(bucket)
        self._check_key(key)

    def _check_part_number(self, part_number: int) -> None:
        if not _is_count(part_number) or not 1 <= part_number <= self.capabilities.max_parts:
            raise errors.InvalidArgumentError(
                f"part_number must be from 1 to {self.capabilities.max_parts}, got {part_number!r}"
            )

    def _check_versioning(self, operation: str, bucket: str) -> None:
        if not self.capabilities.supports_versioning:
            raise errors.OSSError(
                f"the {self.provider} driver does not support object versioning",
                operation=operation, bucket=bucket,
            )

    def _check_part_size(self, part_size: int) -> None:
        caps = self.capabilities
        if not _is_count(part_size) or not (
            caps.min_part_size_bytes <= part_size <= caps.max_part_size_bytes
        ):
            raise errors.InvalidArgumentError(
                f"part_size must be from {caps.min_part_size_bytes} to "
                f"{caps.max_part_size_bytes} bytes for {self.provider}, got {part_size!r}"
            )

    @contextlib.contextmanager
    def _operation(
        self, operation: str, bucket: str | None = None, key: str | None = None,
        size_bytes: int = 0,
    ) -> Iterator[None]:
        """The block is one request (``size_bytes``: the body it sends): it is timed and
        counted (:mod:`fsspec_unified.observability`), and SDK errors raised inside it are
        translated into the project's exceptions."""
        with observed_request(self.provider, operation, bucket, key, size_bytes), \
                self._translating(operation, bucket, key):
            yield

    @contextlib.contextmanager
    def _translating(
        self, operation: str, bucket: str | None = None, key: str | None = None
    ) -> Iterator[None]:
        """Translate SDK errors raised inside the block into the project's exceptions."""
        try:
            yield
        except errors.OSSError:
            raise
        except Exception as exc:
            details = self._error_details(exc)
            if details is None:
                raise
            raise errors.error_from_details(
                details, operation=operation, bucket=bucket, key=key
            ) from exc

    @contextlib.contextmanager
    def _create_only(
        self, operation: str, bucket: str, key: str, overwrite: bool
    ) -> Iterator[None]:
        """Without ``overwrite``, the server's refusal of a create-only write (412, or OSS's
        409 FileAlreadyExists) becomes :class:`ObjectExistsError`."""
        try:
            yield
        except errors.PreconditionFailedError as error:
            if overwrite or isinstance(error, errors.ObjectExistsError):
                raise
            raise _refusal(
                errors.ObjectExistsError, error, f"{bucket}/{key} exists and overwrite=False"
            ) from error

    def _translated_iterator(
        self, operation: str, bucket: str, iterator: Iterator, key: str | None = None
    ) -> Iterator:
        """A listing generator, counted as one request and with its errors translated."""
        return observed_iteration(self.provider, operation, bucket, key,
                                  self._translating_each(operation, bucket, iterator, key))

    def _translating_each(
        self, operation: str, bucket: str, iterator: Iterator, key: str | None
    ) -> Iterator:
        with self._translating(operation, bucket, key):
            yield from iterator

    # -- what a backend implements -------------------------------------------------------

    @abstractmethod
    def _create_sdk_client(self) -> Any:
        """Build the SDK client with its connection pool, timeouts, retries and proxy."""

    def _close_sdk_client(self, client: Any) -> None:  # noqa: B027 - optional hook
        """Release what the SDK client holds; the default leaves it to garbage collection."""

    @abstractmethod
    def _error_details(self, exc: Exception) -> errors.ErrorDetails | None:
        """Describe an SDK or transport error, or return ``None`` for anything else (bugs)."""

    @abstractmethod
    def _put_object(
        self, bucket: str, key: str, data: bytes | bytearray | memoryview,
        content_type: str | None, metadata: dict[str, str], md5: str, overwrite: bool,
    ) -> WriteResult:
        """Without ``overwrite``, send ``If-None-Match: *``."""

    @abstractmethod
    def _open_object(
        self, bucket: str, key: str, start: int, end: int | None, if_match: str | None,
        version_id: str | None,
    ) -> ObjectResponse:
        """GET with ``If-Match: "<if_match>"`` when given (unquoted here), and the version."""

    @abstractmethod
    def _head_object(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo: ...

    @abstractmethod
    def _delete_object(self, bucket: str, key: str, version_id: str | None) -> None: ...

    @abstractmethod
    def _delete_batch(self, bucket: str, keys: list[str]) -> DeleteResult: ...

    @abstractmethod
    def _copy_object(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        metadata: dict[str, str] | None,
    ) -> WriteResult: ...

    @abstractmethod
    def _list_objects_page(
        self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None,
        page_size: int, token: str | None,
    ) -> tuple[list[ObjectInfo], str | None]:
        """One ListObjectsV2 page (``token``: the continuation token, ``None`` for the
        first): its entries in any order, and the next page's token (``None`` at the end)."""

    @abstractmethod
    def _create_multipart_upload(
        self, bucket: str, key: str, content_type: str | None, metadata: dict[str, str]
    ) -> str: ...

    @abstractmethod
    def _upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int,
        data: bytes | bytearray | memoryview, md5: str,
    ) -> PartInfo: ...

    @abstractmethod
    def _upload_part_copy(
        self, bucket: str, key: str, upload_id: str, part_number: int,
        src_bucket: str, src_key: str, start: int, end: int, if_match: str | None,
    ) -> PartInfo:
        """With ``if_match`` (unquoted here), send the copy-source condition on it."""

    @abstractmethod
    def _complete_multipart_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[PartInfo], overwrite: bool
    ) -> WriteResult:
        """Without ``overwrite``, send the provider's create-only condition."""

    @abstractmethod
    def _list_object_versions(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]: ...

    @abstractmethod
    def _abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None: ...

    @abstractmethod
    def _list_parts(self, bucket: str, key: str, upload_id: str) -> Iterator[PartInfo]: ...

    @abstractmethod
    def _list_multipart_uploads(
        self, bucket: str, prefix: str
    ) -> Iterator[MultipartUploadInfo]: ...

    @abstractmethod
    def _presigned_url(self, bucket: str, key: str, method: str, expires_s: int) -> str: ...

    @abstractmethod
    def _list_buckets(self) -> list[BucketInfo]: ...

    @abstractmethod
    def _create_bucket(self, bucket: str, region: str | None) -> None: ...

    @abstractmethod
    def _delete_bucket(self, bucket: str) -> None: ...

    @abstractmethod
    def _bucket_exists(self, bucket: str) -> bool: ...

    @abstractmethod
    def _get_bucket_policy(self, bucket: str) -> str:
        """The policy JSON; raise the SDK's "no such policy" error when there is none."""

    @abstractmethod
    def _set_bucket_policy(self, bucket: str, policy_json: str) -> None: ...

    @abstractmethod
    def _delete_bucket_policy(self, bucket: str) -> None: ...

    @abstractmethod
    def _set_bucket_versioning(self, bucket: str, enabled: bool) -> None: ...

    @abstractmethod
    def _get_bucket_versioning(self, bucket: str) -> bool: ...


def _refusal(
    error_class: type[errors.PreconditionFailedError],
    error: errors.PreconditionFailedError,
    message: str,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> errors.PreconditionFailedError:
    """A refused condition (412) as the error that says what it means for the caller; it names
    the request's object unless ``bucket``/``key`` name the one the condition was on."""
    return error_class(
        message, code=error.code, status=error.status, request_id=error.request_id,
        operation=error.operation, bucket=bucket or error.bucket, key=key or error.key,
    )


def _pinned_etag(if_match: str | None) -> str | None:
    """A caller's ``if_match``, validated, without surrounding blanks and quotes (backends
    quote it as their SDK needs)."""
    _check_optional_text("if_match", if_match)
    return None if if_match is None else if_match.strip().strip('"')


@contextlib.contextmanager
def _pinned_to(etag: str | None, bucket: str, key: str) -> Iterator[None]:
    """With ``etag``, a refused condition (412) inside the block becomes
    :class:`ConcurrentModificationError` naming ``bucket``/``key``: the object pinned to
    ``etag`` was replaced or changed. Wrap it around the block that translates SDK errors."""
    try:
        yield
    except errors.PreconditionFailedError as error:
        if etag is None:
            raise
        raise _refusal(
            errors.ConcurrentModificationError, error,
            f"{bucket}/{key} no longer has ETag {etag!r}: the object was replaced or changed "
            "since that ETag was read",
            bucket=bucket, key=key,
        ) from error


def _call(function: Callable[[], T]) -> T:
    return function()


def _is_count(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _check_optional_text(name: str, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise errors.InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")


def _check_range(
    start: int | None, end: int | None, *, operation: str, bucket: str, key: str
) -> tuple[int, int | None]:
    """Validate a ``[start, end)`` range and return it with ``start`` defaulted to 0."""
    first = 0 if start is None else start
    for name, value in (("start", first), ("end", end)):
        if value is not None and (not _is_count(value) or value < 0):
            raise errors.InvalidRangeError(
                f"range {name} must be a non-negative integer, got {value!r}",
                operation=operation, bucket=bucket, key=key,
            )
    if end is not None and end < first:
        raise errors.InvalidRangeError(
            f"range end {end} is before its start {first}",
            operation=operation, bucket=bucket, key=key,
        )
    return first, end


def in_version_order(entries: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    """One listing page's versions and delete markers (the XML has them as two lists) merged
    into the server's order: by key, the latest first, then newest first. Sorting is stable,
    so entries of one list that tie on time keep the order the server sent them in."""
    def order(entry: ObjectInfo) -> tuple[str, bool, float]:
        modified = entry.last_modified.timestamp() if entry.last_modified else 0.0
        return entry.key, not entry.is_latest, -modified

    return sorted(entries, key=order)


@contextlib.contextmanager
def _one_at_a_time(part_size: int) -> Iterator[Any]:
    """A transfer manager for the file helpers above: the engine's one data path (retries,
    verification, progress), with one request in flight, its threads released afterwards.

    Imported here, not at the top: the engine is built on this interface."""
    from .transfer_manager import TransferManager

    with TransferManager(max_workers=1, part_size_bytes=part_size,
                         adaptive_concurrency=False) as transfers:
        yield transfers


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Read exactly ``size`` bytes unless the stream ends first (streams may return short)."""
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
