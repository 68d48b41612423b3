"""``UnifiedFile``: the file object behind ``UnifiedFileSystem.open``.

Reading uses fsspec's block caches over ranged GETs, and every GET of one open file is pinned
to the object the file saw when it was opened: it carries ``If-Match`` with that ETag (and the
version id when one was asked for), so an object replaced while the file is open makes the next
read raise :class:`~fsspec_unified.driver.exceptions.ConcurrentModificationError` (an
``OSError``) instead of returning bytes of two versions. The ETag comes from the file's
``details`` (``fs.info``, which may answer from the listing cache, as in s3fs): a cache older
than the object fails the first read rather than reading past a stale size.

Writing turns the buffer into a server-side multipart upload: the first full block starts the
upload, every block becomes a part sent in the background while the caller keeps writing (at
most ``max_workers`` parts in flight, so memory stays near ``(max_workers + 1) x block_size``
whatever the file size), and ``close`` completes it. Parts are retried under the transfer
manager's retry policy; each part and each single PUT carries its Content-MD5, which the server
verifies: that is the integrity check (an ETag is never taken for an MD5, and no object is ever
deleted on a guess). A file that never fills one block is a single PUT.

Mode ``"xb"`` is atomic: the single PUT or the CompleteMultipartUpload carries the provider's
create-only condition, so of two writers racing on one path exactly one succeeds and the other
gets ``FileExistsError`` (its upload is aborted). The existence check at ``open`` stays as a
fast path only.

With ``autocommit=False`` (what ``fs.transaction`` uses) ``close`` uploads the parts but the
object appears only on :meth:`UnifiedFile.commit` (the CompleteMultipartUpload, or the single
PUT of a small file, whose bytes stay in memory until then); :meth:`UnifiedFile.discard` aborts.
An exception inside ``with fs.open(..., "wb")`` aborts the upload: no object, no orphaned parts,
and the exception that ended the block is the one raised, even if the abort fails too.
"""

from __future__ import annotations

import logging
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractBufferedFile

from .driver.callbacks import as_fsspec_callback
from .driver.exceptions import UploadError

if TYPE_CHECKING:
    from .driver.types import PartInfo
    from .filesystem import UnifiedFileSystem

logger = logging.getLogger(__name__)

WRITE_MODES = ("wb", "xb")


class UnifiedFile(AbstractBufferedFile):
    """A buffered file on one object (see the module docstring).

    ``version_id`` reads that version of the object (reading only: opening a version for
    writing is a ``ValueError``); ``content_type`` and ``metadata`` are stored with the object a
    write creates. After a write, ``version_id`` holds the version the write created, if the
    bucket is versioned.
    """

    fs: UnifiedFileSystem

    def __init__(
        self,
        fs: UnifiedFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | str | None = "default",
        callback: Callback = DEFAULT_CALLBACK,
        *,
        version_id: str | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.bucket, self.key = fs.split_path(path)
        if mode in WRITE_MODES and version_id is not None:
            raise ValueError(f"{path}: a version can only be opened for reading, not {mode!r}")
        self.version_id = version_id
        self.content_type = content_type
        self.metadata = dict(metadata) if metadata else None
        self.callback = as_fsspec_callback(callback)
        self._upload_id: str | None = None
        self._parts: list[Future[PartInfo]] = []
        self._uploaded_parts: list[PartInfo] | None = None  # set once every part is sent
        self._pending_body: bytes | None = None  # a small file's bytes, waiting for commit
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(fs.options.max_workers)
        self._callback_lock = threading.Lock()  # parts finish on several threads
        if mode in WRITE_MODES:
            caps = fs.client.capabilities
            size = fs.options.block_size if block_size in ("default", None) else block_size
            block_size = min(max(int(size), caps.min_part_size_bytes), caps.max_part_size_bytes)
        if mode == "xb" and fs.exists(path):
            # A fast path only (the write itself is create-only). Checked before the base
            # class marks the file open: an open file that is garbage-collected gets closed,
            # and closing a write-mode file commits it.
            raise FileExistsError(path)
        if mode == "rb" and version_id is not None:
            self.details = fs.info(path, version_id=version_id)
        super().__init__(fs, path, mode, block_size, **kwargs)
        if mode == "rb":
            etag = self.details.get("ETag")  # also when the caller passed ``size``
            self._pinned_etag = etag.strip('"') if etag else None

    # -- reading -------------------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        data = self.fs.client.get_object(
            self.bucket, self.key, start, end,
            if_match=self._pinned_etag, version_id=self.version_id,
        )
        self.callback.relative_update(len(data))
        return data

    # -- writing -------------------------------------------------------------------------

    def _initiate_upload(self) -> None:
        """Nothing yet: the multipart upload starts only once a full block is written."""

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        if final and self._upload_id is None:
            self._pending_body = data
            if self.autocommit:
                self._finish()
            return True
        if self._upload_id is None:
            self._upload_id = self.fs.client.create_multipart_upload(
                self.bucket, self.key, content_type=self.content_type, metadata=self.metadata
            )
            self._pool = ThreadPoolExecutor(self.fs.options.max_workers,
                                            thread_name_prefix="unified-file")
        view = memoryview(data)
        offset = 0
        while len(view) - offset >= self.blocksize or (final and offset < len(view)):
            part = bytes(view[offset:offset + self.blocksize])
            offset += len(part)
            self._submit_part(part)
        if final:
            self._uploaded_parts = [future.result() for future in self._parts]
            self._shutdown_pool()
            if self.autocommit:
                self._finish()
            return True
        # Keep what did not fill a block for the next flush.
        remainder = bytes(view[offset:])
        self.buffer.seek(0)
        self.buffer.truncate()
        self.buffer.write(remainder)
        return False

    def _submit_part(self, body: bytes) -> None:
        if len(self._parts) >= self.fs.client.capabilities.max_parts:
            raise UploadError(
                f"{self.path}: more than {self.fs.client.capabilities.max_parts} parts; open "
                "with a larger block_size", bucket=self.bucket, key=self.key,
            )
        self._slots.acquire()  # bounds memory: at most max_workers parts in flight
        self._raise_failed_part()
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(self._send_part, number, body))

    def _send_part(self, number: int, body: bytes) -> PartInfo:
        try:
            part = self.fs.transfers.config.retry_policy.call(
                lambda: self.fs.client.upload_part(
                    self.bucket, self.key, self._upload_id, number, body
                ),
                description=f"upload_part {number} of {self.path}",
            )
            with self._callback_lock:
                self.callback.relative_update(len(body))
            return part
        finally:
            self._slots.release()

    def _raise_failed_part(self) -> None:
        for future in self._parts:
            if future.done() and future.exception() is not None:
                raise future.exception()

    def _finish(self) -> None:
        """Make the object: complete the multipart upload, or send the single PUT.

        ``"xb"`` makes either request create-only, so a key written meanwhile by someone else
        raises ``FileExistsError`` and is left as it is.
        """
        overwrite = self.mode != "xb"
        if self._upload_id is not None:
            written = self.fs.client.complete_multipart_upload(
                self.bucket, self.key, self._upload_id, self._uploaded_parts,
                overwrite=overwrite,
            )
            self._upload_id = None
        elif self._pending_body is not None:
            written = self.fs.client.put_object(
                self.bucket, self.key, self._pending_body, content_type=self.content_type,
                metadata=self.metadata, overwrite=overwrite,
            )
            self.callback.relative_update(len(self._pending_body))
            self._pending_body = None
        else:
            return  # already committed, or discarded
        self.version_id = written.version_id
        self.fs.invalidate_cache(self.path)

    def _shutdown_pool(self, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=cancel)

    def commit(self) -> None:
        """Make the object visible (``autocommit=False``): fsspec's transactions call this.

        A file still open is closed first (its last part uploaded). If the completion fails,
        the upload is aborted and the error raised.
        """
        if not self.writable() and self._upload_id is None and self._pending_body is None:
            return  # read mode, or nothing left to commit
        if not self.closed:
            self.close()
            if self.autocommit:
                return  # close() already made the object
        try:
            self._finish()
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Abandon the write: abort the multipart upload, drop buffered bytes; nothing stored.

        Safe to call more than once. While another exception is propagating (an ``except``
        block, a ``with`` exit, a transaction's rollback), a failed abort is logged and that
        other exception goes on; otherwise the failed abort is raised.
        """
        if self.mode not in WRITE_MODES:
            return
        propagating = sys.exc_info()[1] is not None
        upload_id, self._upload_id = self._upload_id, None
        self._pending_body = None
        self._uploaded_parts = None
        self.buffer = None
        self.closed = True
        try:
            self._shutdown_pool(cancel=True)
            if upload_id is not None:
                self.fs.client.abort_multipart_upload(self.bucket, self.key, upload_id)
        except Exception:
            if not propagating:
                raise
            logger.warning("%s: aborting multipart upload %s failed", self.path, upload_id,
                           exc_info=True)

    def close(self) -> None:
        """Finish the write; if finishing fails, abort the upload before raising."""
        if self.closed or not self.writable():
            return super().close()
        try:
            super().close()
        except BaseException:
            self.discard()
            raise

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if exc_type is not None and self.writable():
            self.discard()
        else:
            self.close()
