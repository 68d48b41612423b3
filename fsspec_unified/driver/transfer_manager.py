"""``TransferManager``: concurrent, resumable, verified, rate-limited transfers.

The manager is the entry point; the work is done by small pieces beside it:
``upload.py`` / ``download.py`` (strategies per source kind), ``transfer_job.py`` (the worker
pool, retries, rate limit and checkpoints they share), ``retry.py``, ``bandwidth.py``,
``checkpoint.py``, ``transfer_control.py`` (pause / resume / cancel) and ``callbacks.py``
(progress). It talks only to :class:`~.base_oss.BaseOSSClient`, so every backend gets the same
behaviour, and a backend's limits (minimum part size, maximum part count) come from its
``capabilities``.

``upload_file`` / ``upload_stream`` / ``download_file`` block until done; the ``submit_*``
variants run in the background and return a :class:`TransferHandle` to pause, resume, cancel
or wait on. The bucket defaults to the client's ``OSSConfig.bucket_name``.

The background executor belongs to one process: a manager used before ``os.fork()`` builds a
new one in the child on first use (its parent's worker threads do not exist there, and work
handed to the inherited executor would never run).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, BinaryIO

from .base_oss import BaseOSSClient
from .callbacks import as_progress_callback
from .engine.config import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_PART_SIZE_BYTES,
    TransferConfig,
    TransferResult,
)
from .engine.control import TransferControl, TransferHandle
from .engine.downloads import FileDownload
from .engine.retry import RetryPolicy
from .engine.uploads import FileUpload, PartBodyHook, StreamUpload, UploadJob
from .exceptions import ConfigurationError


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
        self._background: ThreadPoolExecutor | None = None
        self._background_pid: int | None = None
        #: See :data:`fsspec_unified.driver.engine.uploads.PartBodyHook` (tests only).
        self.part_body_hook: PartBodyHook | None = None

    # -- blocking entry points -----------------------------------------------------------

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
        job = self._upload_job(
            FileUpload, client, object_name, bucket, progress_callback, control, content_type,
            metadata, overwrite,
        )
        return job.run(local_file)

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
        job = self._upload_job(
            StreamUpload, client, object_name, bucket, progress_callback, control,
            content_type, metadata, overwrite,
        )
        return job.run(stream, size_hint)

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

        Every range is pinned to the ETag the first HEAD saw: if the object is replaced
        meanwhile, ``ConcurrentModificationError`` is raised and nothing appears under
        ``local_file``.
        """
        job = FileDownload(
            self.config, client, self._bucket(client, bucket), object_name,
            as_progress_callback(progress_callback), control or TransferControl(),
        )
        job.version_id = version_id
        return job.run(local_file)

    # -- background entry points ---------------------------------------------------------

    def submit_upload(self, *args: Any, **kwargs: Any) -> TransferHandle:
        """:meth:`upload_file` in the background; returns a handle to control it."""
        return self._submit(self.upload_file, args, kwargs)

    def submit_download(self, *args: Any, **kwargs: Any) -> TransferHandle:
        """:meth:`download_file` in the background; returns a handle to control it."""
        return self._submit(self.download_file, args, kwargs)

    def shutdown(self) -> None:
        """Wait for background transfers and release their threads (this process's)."""
        with _FORK_GUARD.lock:
            executor, self._background = self._background, None
            owned = self._background_pid == os.getpid()
        if executor is not None and owned:
            executor.shutdown(wait=True)

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
        with _FORK_GUARD.lock:
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

    def _upload_job(
        self, job_class: type[UploadJob], client: BaseOSSClient, object_name: str,
        bucket: str | None, progress_callback: Any, control: TransferControl | None,
        content_type: str | None, metadata: dict[str, str] | None, overwrite: bool,
    ) -> UploadJob:
        job = job_class(
            self.config, client, self._bucket(client, bucket), object_name,
            as_progress_callback(progress_callback), control or TransferControl(),
        )
        job.content_type = content_type
        job.metadata = metadata
        job.part_body_hook = self.part_body_hook
        job.overwrite = overwrite
        return job


class _ForkGuard:
    """One lock for creating executors, replaced in a forked child (a parent thread may have
    held it at the moment of the fork)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def reset(self) -> None:
        self.lock = threading.Lock()


_FORK_GUARD = _ForkGuard()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_FORK_GUARD.reset)
