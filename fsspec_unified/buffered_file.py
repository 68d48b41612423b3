"""``UnifiedFile``: the file object behind ``UnifiedFileSystem.open``.

Reading uses fsspec's block caches over ranged GETs. Writing turns the buffer into a
server-side multipart upload: the first full block starts the upload, every block becomes a
part sent in the background while the caller keeps writing (at most ``max_workers`` parts in
flight, so memory stays near ``(max_workers + 1) x block_size`` whatever the file size), and
``close`` completes it. Parts are retried under the transfer manager's retry policy. A file
that never fills one block is a single PUT. An exception inside ``with fs.open(..., "wb")``
aborts the upload: no object, no orphaned parts.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractBufferedFile

from .driver.callbacks import as_fsspec_callback
from .driver.exceptions import UploadError
from .driver.upload import expected_multipart_etag

if TYPE_CHECKING:
    from .driver.types import PartInfo
    from .filesystem import UnifiedFileSystem


class UnifiedFile(AbstractBufferedFile):
    """A buffered file on one object (see the module docstring)."""

    fs: UnifiedFileSystem

    def __init__(
        self,
        fs: UnifiedFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | str | None = "default",
        callback: Callback = DEFAULT_CALLBACK,
        **kwargs: Any,
    ) -> None:
        self.bucket, self.key = fs.split_path(path)
        self.callback = as_fsspec_callback(callback)
        self._upload_id: str | None = None
        self._parts: list[Future[PartInfo]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(fs.options.max_workers)
        self._callback_lock = threading.Lock()  # parts finish on several threads
        if mode in ("wb", "xb"):
            caps = fs.client.capabilities
            size = fs.options.block_size if block_size in ("default", None) else block_size
            block_size = min(max(int(size), caps.min_part_size_bytes), caps.max_part_size_bytes)
        if mode == "xb" and fs.exists(path):
            # Checked before the base class marks the file open: an open file that is
            # garbage-collected gets closed, and closing a write-mode file commits it.
            raise FileExistsError(path)
        super().__init__(fs, path, mode, block_size, **kwargs)

    # -- reading -------------------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        data = self.fs.client.get_object(self.bucket, self.key, start, end)
        self.callback.relative_update(len(data))
        return data

    # -- writing -------------------------------------------------------------------------

    def _initiate_upload(self) -> None:
        """Nothing yet: the multipart upload starts only once a full block is written."""

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        if final and self._upload_id is None:
            self.fs.client.put_object(self.bucket, self.key, data)
            self.callback.relative_update(len(data))
            return True
        if self._upload_id is None:
            self._upload_id = self.fs.client.create_multipart_upload(self.bucket, self.key)
            self._pool = ThreadPoolExecutor(self.fs.options.max_workers,
                                            thread_name_prefix="unified-file")
        view = memoryview(data)
        offset = 0
        while len(view) - offset >= self.blocksize or (final and offset < len(view)):
            part = bytes(view[offset:offset + self.blocksize])
            offset += len(part)
            self._submit_part(part)
        if final:
            self._complete()
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

    def _complete(self) -> None:
        parts = [future.result() for future in self._parts]
        written = self.fs.client.complete_multipart_upload(
            self.bucket, self.key, self._upload_id, parts
        )
        expected = expected_multipart_etag([part.etag for part in parts])
        if expected is not None and (written.etag or "").lower() != expected:
            self.fs.client.delete_object(self.bucket, self.key)
            raise UploadError(
                f"{self.path}: ETag {written.etag} does not match {expected} of the parts sent",
                bucket=self.bucket, key=self.key,
            )
        self._shutdown_pool()

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def discard(self) -> None:
        """Abandon the write: abort the multipart upload; nothing is stored."""
        self._shutdown_pool()
        if self._upload_id is not None:
            self.fs.client.abort_multipart_upload(self.bucket, self.key, self._upload_id)
            self._upload_id = None
        self.buffer = None
        self.closed = True

    def close(self) -> None:
        """Finish the write; if finishing fails, abort the upload before raising."""
        if self.closed or not self.writable():
            return super().close()
        try:
            super().close()
        except BaseException:
            self.closed = False
            self.discard()
            raise

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if exc_type is not None and self.writable():
            self.discard()
        else:
            self.close()
