"""``TransferManager``: the entry point to the one data path every byte takes.

Uploads, downloads, reads (whole objects, ranges, many ranges), ``open`` writes and copies all
go through the engine in :mod:`fsspec_unified.driver.engine`: one implementation of parts,
ranges, retries, verification, rate limit and progress. The manager owns the engine's
:class:`~.engine.scheduler.RequestScheduler`, so everything one manager (or the filesystem
that holds it) does shares one budget of requests in flight and one rate limit. It talks only
to :class:`~.base_oss.BaseOSSClient`, so every backend gets the same behaviour, and a backend's
limits (minimum part size, maximum part count) come from its ``capabilities``.

``upload_file`` / ``upload_stream`` / ``download_file`` block until done; the ``submit_*``
variants run in the background and return a :class:`TransferHandle` to pause, resume, cancel
or wait on. The bucket defaults to the client's ``OSSConfig.bucket_name``.

The background executor and the scheduler's threads belong to one process: a manager used
before ``os.fork()`` builds new ones in the child on first use (its parent's threads do not
exist there, and work handed to them would never run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, BinaryIO, TypeVar

from ..observability import ErrorReport, MetricsRegistry, MetricsSnapshot
from ..observability.scope import observed, operation
from .base_oss import BaseOSSClient
from .callbacks import as_progress_callback
from .engine.config import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_PART_SIZE_BYTES,
    TransferConfig,
    TransferResult,
)
from .engine.control import TransferControl, TransferHandle
from .engine.copies import copy_object
from .engine.downloads import FileDownload
from .engine.operation import Operation
from .engine.part_sizes import choose_range_size, streamed_range_size
from .engine.reads import DEFAULT_MERGE_GAP_BYTES, read_bytes, read_object, read_ranges
from .engine.retry import RetryPolicy
from .engine.scheduler import FORK_GUARD, RequestScheduler
from .engine.uploads import (
    FileUpload,
    MultipartWrite,
    PartBodyHook,
    UploadOperation,
    upload_bytes,
    upload_stream,
)
from .exceptions import ConfigurationError
from .types import ObjectInfo

T = TypeVar("T")
R = TypeVar("R")


class TransferManager:
    """Runs transfers with one :class:`TransferConfig`; safe to share between threads.

    ``TransferManager(max_workers=8, rate_limit_bytes_per_s=50e6)`` is shorthand for passing a
    config with those fields changed.
    """

    CHUNK_SIZE = DEFAULT_PART_SIZE_BYTES
    MAX_WORKERS = DEFAULT_MAX_WORKERS
    MAX_RETRIES = RetryPolicy().max_attempts - 1

    def __init__(self, config: TransferConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or TransferConfig(), **overrides)
        #: Everything this manager did, as numbers (:meth:`metrics`, :meth:`error_report`).
        self.metrics_registry = MetricsRegistry(alert_policy=self.config.alert_policy)
        self.scheduler = RequestScheduler(
            self.config.max_workers,
            rate_limit_bytes_per_s=self.config.rate_limit_bytes_per_s,
            rate_limit_scope=self.config.rate_limit_scope,
            adaptive=self.config.adaptive_concurrency,
            initial_concurrency=self.config.initial_concurrency,
            metrics=self.metrics_registry,
        )
        self._background: ThreadPoolExecutor | None = None
        self._background_pid: int | None = None
        #: See :data:`fsspec_unified.driver.engine.uploads.PartBodyHook` (tests only).
        self.part_body_hook: PartBodyHook | None = None

    # -- uploads -------------------------------------------------------------------------

    @observed("upload_file", target="object_name")
    def upload_file(
        self,
        client: BaseOSSClient,
        local_file: str | os.PathLike[str],
        object_name: str,
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        control: TransferControl | None = None,
        overwrite: bool = True,
    ) -> TransferResult:
        """Upload a local file: one PUT when small, else a concurrent multipart upload.

        ``overwrite=False`` makes the final PUT or Complete create-only: ``ObjectExistsError``
        (a ``FileExistsError``) if the key exists, decided by the server, so two racing
        writers cannot both succeed. A resumable upload of a file that another transfer is
        uploading raises ``TransferInProgressError``.
        """
        op = self.upload_operation(client, object_name, bucket, progress_callback, control,
                                   content_type, metadata, overwrite, job_class=FileUpload)
        return op.run(local_file)

    @observed("upload_stream", target="object_name")
    def upload_stream(
        self,
        client: BaseOSSClient,
        stream: BinaryIO,
        object_name: str,
        progress_callback: Any = None,
        *,
        size_hint: int = 0,
        bucket: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        control: TransferControl | None = None,
        overwrite: bool = True,
    ) -> TransferResult:
        """Upload a readable stream of unknown length (not resumable: it cannot be re-read).

        ``size_hint`` is the total reported to progress callbacks, if known; ``overwrite`` as
        in :meth:`upload_file`.
        """
        op = self.upload_operation(client, object_name, bucket, progress_callback, control,
                                   content_type, metadata, overwrite)
        op.start_tracking(size_hint)
        return upload_stream(op, stream)

    @observed("upload_bytes", target="object_name")
    def upload_bytes(
        self,
        client: BaseOSSClient,
        data: bytes | bytearray | memoryview,
        object_name: str,
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        overwrite: bool = True,
    ) -> TransferResult:
        """Store bytes already in memory: one PUT when they fit one part, else parts sliced
        without copying, sent concurrently."""
        op = self.upload_operation(client, object_name, bucket, progress_callback, None,
                                   content_type, metadata, overwrite)
        op.start_tracking(len(data))
        return upload_bytes(op, data)

    def open_write(
        self,
        client: BaseOSSClient,
        object_name: str,
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        overwrite: bool = True,
    ) -> MultipartWrite:
        """A :class:`~.engine.uploads.MultipartWrite` for bytes pushed part by part (what
        ``open("wb")`` uses); its operation's :meth:`put_single` sends a small object."""
        op = self.upload_operation(client, object_name, bucket, progress_callback, None,
                                   content_type, metadata, overwrite)
        op.start_tracking(0)  # the length is unknown until the file is closed
        return MultipartWrite(op)

    @observed("copy", target="object_name")
    def copy(
        self,
        client: BaseOSSClient,
        src_bucket: str,
        source: ObjectInfo,
        object_name: str,
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
    ) -> TransferResult:
        """Server-side copy of ``source`` (a HEAD of it) to ``object_name``; parts above the
        provider's single-copy limit, keeping its content type and metadata."""
        op = self.upload_operation(client, object_name, bucket, progress_callback, None,
                                   None, None, True)
        return copy_object(op, src_bucket, source)

    # -- downloads and reads -------------------------------------------------------------

    @observed("download_file", target="object_name")
    def download_file(
        self,
        client: BaseOSSClient,
        object_name: str,
        local_file: str | os.PathLike[str],
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
        control: TransferControl | None = None,
        version_id: str | None = None,
    ) -> TransferResult:
        """Download an object (or the version ``version_id``) to a local file with parallel
        ranged GETs, atomically.

        Every range is pinned to the ETag the first response gave: if the object is replaced
        meanwhile, ``ConcurrentModificationError`` is raised and nothing appears under
        ``local_file``.
        """
        op = self._operation(FileDownload, client, object_name, bucket, progress_callback,
                             control)
        op.version_id = version_id
        return op.run(local_file)

    @observed("download_to", target="object_name")
    def download_to(
        self,
        client: BaseOSSClient,
        object_name: str,
        write: Callable[[bytes], object],
        progress_callback: Any = None,
        *,
        bucket: str | None = None,
        version_id: str | None = None,
    ) -> int:
        """Stream the object, in order, into ``write`` (a file's ``write``); returns its size.

        One range at a time, pinned to the first response's ETag; ``write`` is called between
        requests, never while one holds a slot of the budget, so it may itself use the
        filesystem (a file opened for writing on it, say) without waiting for itself.
        """
        op = self._operation(Operation, client, object_name, bucket, progress_callback, None)
        first, seen = read_bytes(op, 0, choose_range_size(op, None), version_id=version_id)
        size = seen.size or 0
        op.start_tracking(size)
        _write_all(write, first)
        op.tracker.update(len(first))
        position = len(first)
        step = streamed_range_size(op, size)
        while position < size:
            data = read_bytes(op, position, min(position + step, size), etag=seen.etag,
                              version_id=version_id)[0]
            _write_all(write, data)
            op.tracker.update(len(data))
            position += len(data)
        op.tracker.finish()
        return size

    @observed("read", target="object_name")
    def read(
        self,
        client: BaseOSSClient,
        object_name: str,
        start: int = 0,
        end: int | None = None,
        *,
        bucket: str | None = None,
        if_match: str | None = None,
        version_id: str | None = None,
    ) -> bytes:
        """Bytes ``[start, end)`` of an object (``end=None``: to its end): one GET when they
        fit one range, else concurrent ranged GETs, all pinned to one ETag (``if_match``, or
        the first response's)."""
        op = self._operation(Operation, client, object_name, bucket, None, None)
        return read_object(op, start, end, etag=if_match, version_id=version_id)

    @observed("read_ranges", target="object_name")
    def read_ranges(
        self,
        client: BaseOSSClient,
        object_name: str,
        ranges: list[tuple[int, int]],
        *,
        bucket: str | None = None,
        if_match: str | None = None,
        version_id: str | None = None,
        merge_gap_bytes: int = DEFAULT_MERGE_GAP_BYTES,
    ) -> list[bytes]:
        """Several ``[start, end)`` ranges of one object, in order: ranges closer than
        ``merge_gap_bytes`` merged into one request, the requests concurrent, all pinned to
        one ETag."""
        op = self._operation(Operation, client, object_name, bucket, None, None)
        return read_ranges(op, ranges, etag=if_match, version_id=version_id,
                           merge_gap_bytes=merge_gap_bytes)

    # -- bulk operations -----------------------------------------------------------------

    def map(self, function: Callable[[T], R], items: list[T]) -> list[R]:
        """``function`` over ``items`` concurrently (one object's transfer each), results in
        order; every request they send shares this manager's budget."""
        return self.scheduler.map(function, items)

    def request(self, client: BaseOSSClient, send: Callable[[], R], description: str, *,
                bucket: str = "", key: str = "") -> R:
        """One request of any kind (a HEAD, a listing page, a delete batch) under the retry
        policy and within the budget."""
        op = Operation(self.scheduler, self.config, client, bucket, key)
        return op.request(send, description)

    def list_objects(self, client: BaseOSSClient, bucket: str, prefix: str = "", *,
                     delimiter: str | None = None, page_size: int | None = None,
                     ) -> Iterator[ObjectInfo]:
        """``client.list_objects`` with every page sent under the retry policy: a page sent
        again carries the same continuation token, so a listing that fails midway goes on
        from that page, whatever order the server lists in. Pages take no slot of the
        budget."""
        op = Operation(self.scheduler, self.config, client, bucket, prefix)
        return client.list_objects(bucket, prefix, delimiter=delimiter, page_size=page_size,
                                   send_page=lambda fetch: op.retry(fetch, "list_objects"))

    # -- what it did ---------------------------------------------------------------------

    def metrics(self) -> MetricsSnapshot:
        """Operations, requests, bytes, latency percentiles, errors, retries, throttling and
        concurrency since the manager was made (see :mod:`fsspec_unified.observability`)."""
        return self.metrics_registry.snapshot()

    def error_report(self, window_s: float = 300.0) -> ErrorReport:
        """Errors by code and by operation, and retries, over the last ``window_s`` seconds."""
        return self.metrics_registry.error_report(window_s)

    def _observe(self, name: str, client: BaseOSSClient | None, object_name: str | None,
                 bulk: bool, kwargs: dict[str, Any]):
        """The operation scope of one call (see :func:`~..observability.scope.observed`)."""
        config = getattr(client, "config", None)
        return operation(
            self.metrics_registry, name, provider=getattr(client, "provider", None),
            bucket=kwargs.get("bucket") or getattr(config, "bucket_name", None),
            key=object_name, bulk=bulk,
        )

    # -- background entry points ---------------------------------------------------------

    def submit_upload(self, *args: Any, **kwargs: Any) -> TransferHandle:
        """:meth:`upload_file` in the background; returns a handle to control it."""
        return self._submit(self.upload_file, args, kwargs)

    def submit_download(self, *args: Any, **kwargs: Any) -> TransferHandle:
        """:meth:`download_file` in the background; returns a handle to control it."""
        return self._submit(self.download_file, args, kwargs)

    def shutdown(self) -> None:
        """Wait for background transfers and release their threads (this process's)."""
        with FORK_GUARD.lock:
            executor, self._background = self._background, None
            owned = self._background_pid == os.getpid()
        if executor is not None and owned:
            executor.shutdown(wait=True)
        self.scheduler.shutdown()

    def __enter__(self) -> TransferManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # -- helpers -------------------------------------------------------------------------

    def _submit(self, method: Callable[..., TransferResult], args, kwargs) -> TransferHandle:
        control = kwargs.setdefault("control", TransferControl())
        return TransferHandle(self._executor().submit(method, *args, **kwargs), control)

    def _executor(self) -> ThreadPoolExecutor:
        """This process's background executor, created on first use (again after a fork)."""
        pid = os.getpid()
        with FORK_GUARD.lock:
            if self._background is None or self._background_pid != pid:
                # An executor inherited through fork is abandoned, not shut down: its threads
                # live in the parent only.
                self._background = ThreadPoolExecutor(thread_name_prefix="transfer-coordinator")
                self._background_pid = pid
            return self._background

    @staticmethod
    def _bucket(client: BaseOSSClient, bucket: str | None) -> str:
        bucket = bucket or client.config.bucket_name
        if not bucket:
            raise ConfigurationError(
                "bucket: pass bucket= or set OSSConfig.bucket_name on the client"
            )
        return bucket

    def _operation(self, op_class: type[Operation], client: BaseOSSClient, object_name: str,
                   bucket: str | None, progress_callback: Any,
                   control: TransferControl | None):
        return op_class(
            self.scheduler, self.config, client, self._bucket(client, bucket), object_name,
            as_progress_callback(progress_callback), control or TransferControl(),
        )

    def upload_operation(
        self, client: BaseOSSClient, object_name: str, bucket: str | None,
        progress_callback: Any, control: TransferControl | None, content_type: str | None,
        metadata: dict[str, str] | None, overwrite: bool,
        job_class: type[UploadOperation] = UploadOperation,
    ) -> UploadOperation:
        op = self._operation(job_class, client, object_name, bucket, progress_callback, control)
        op.content_type = content_type
        op.metadata = metadata
        op.part_body_hook = self.part_body_hook
        op.overwrite = overwrite
        return op


def _write_all(write: Callable[[bytes], object], data: bytes) -> None:
    """Call ``write`` until every byte of ``data`` is taken.

    A buffered file on a pipe whose reader left returns the count it managed instead of
    raising (the error comes with the next call), so one call could silently drop the rest:
    a download to ``| head`` would then look complete. Writers that return no count (text
    streams, some file-likes) take everything.
    """
    remaining: bytes | memoryview = data  # bytes first: some writers keep what they get
    while remaining:
        written = write(remaining)
        if not isinstance(written, int) or written >= len(remaining):
            return
        if written <= 0:
            raise OSError(f"the destination took no bytes ({len(remaining)} left to write)")
        remaining = memoryview(remaining)[written:]
