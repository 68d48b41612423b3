"""``UnifiedFile``: the file object behind ``UnifiedFileSystem.open``.

Reading uses fsspec's block caches over ranged GETs, and every GET of one open file is pinned
to the object the file saw when it was opened: it carries ``If-Match`` with that ETag (and the
version id when one was asked for), so an object replaced while the file is open makes the next
read raise :class:`~fsspec_unified.driver.exceptions.ConcurrentModificationError` (an
``OSError``) instead of returning bytes of two versions. The ETag comes from the file's
``details`` (``fs.info``, which may answer from the listing cache, as in s3fs): a cache older
than the object fails the first read rather than reading past a stale size.

Reads and writes go through the filesystem's transfer engine (the one data path: retries,
budget, rate limit, progress). Block fetches are pinned, retried reads.

Writing turns the buffer into a server-side multipart upload
(:class:`~fsspec_unified.driver.engine.uploads.MultipartWrite`): the first full block starts
the upload, every block becomes a part sent in the background while the caller keeps writing
(at most ``max_workers`` parts in flight, so memory stays near ``(max_workers + 1) x
block_size`` whatever the file size), and ``close`` completes it. Blocks are handed to the
engine as views of the write buffer, never copied. The part size grows with the part number
(doubling every 1,000 parts), so a file of unknown length can reach the provider's maximum
object size. Each part and each single PUT carries its Content-MD5, which the server verifies:
that is the integrity check (an ETag is never taken for an MD5, and no object is ever deleted
on a guess). A file that never fills one block is a single PUT.

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

import io
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from fsspec.spec import AbstractBufferedFile

from .driver.callbacks import as_fsspec_callback
from .driver.exceptions import TransferCancelledError
from .observability.scope import OpenOperation

if TYPE_CHECKING:
    from .driver.engine.uploads import MultipartWrite
    from .filesystem import UnifiedFileSystem

logger = logging.getLogger(__name__)

WRITE_MODES = ("wb", "xb")
T = TypeVar("T")


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
        self._writer: MultipartWrite | None = None
        self._parts_sent = False  # every part handed over; the upload awaits completion
        self._pending_body: memoryview | None = None  # a small file's bytes, until commit
        if mode in WRITE_MODES:
            caps = fs.client.capabilities
            size = fs.options.block_size if block_size in ("default", None) else block_size
            block_size = min(max(int(size), caps.min_part_size_bytes), caps.max_part_size_bytes)
            self._base_block_size = block_size
            # The whole write (every part, from every ``write``, and the completion in
            # ``close``) is one operation in the filesystem's metrics and logs.
            self._recording: OpenOperation | None = OpenOperation(
                fs.metrics_registry, "write", fs.client.provider, self.bucket, self.key,
                bulk=False)
            self._writer = fs.transfers.open_write(
                fs.client, self.key, self.callback, bucket=self.bucket,
                content_type=content_type, metadata=self.metadata, overwrite=mode != "xb",
            )
        if mode == "xb" and fs.exists(path):
            # A fast path only (the write itself is create-only). Checked before the base
            # class marks the file open: an open file that is garbage-collected gets closed,
            # and closing a write-mode file commits it.
            refused = FileExistsError(path)
            self._end_recording(refused)
            raise refused
        if mode == "rb" and version_id is not None:
            self.details = fs.info(path, version_id=version_id)
        super().__init__(fs, path, mode, block_size, **kwargs)
        if mode == "rb":
            etag = self.details.get("ETag")  # also when the caller passed ``size``
            self._pinned_etag = etag.strip('"') if etag else None

    # -- reading -------------------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        data = self.fs.transfers.read(
            self.fs.client, self.key, start, end, bucket=self.bucket,
            if_match=self._pinned_etag, version_id=self.version_id,
        )
        self.callback.relative_update(len(data))
        return data

    # -- writing -------------------------------------------------------------------------

    def _initiate_upload(self) -> None:
        """Nothing yet: the multipart upload starts only once a full block is written."""

    def _upload_chunk(self, final: bool = False) -> bool:
        return self._recorded(self._send_chunk, final)

    def _send_chunk(self, final: bool) -> bool:
        view = self.buffer.getbuffer()  # no copy; the buffer is replaced below
        writer = self._writer
        if final and writer.part_count == 0:
            self._pending_body = view
            if self.autocommit:
                self._finish()
            return True
        offset = 0
        while len(view) - offset >= self.blocksize or (final and offset < len(view)):
            part = view[offset:offset + self.blocksize]
            offset += len(part)
            writer.add(part)
            self.blocksize = writer.next_part_size(self._base_block_size)
        if final:
            writer.parts()  # every part sent (or the first failure raised)
            self._parts_sent = True
            if self.autocommit:
                self._finish()
            return True
        # Keep what did not fill a block for the next flush.
        remainder = view[offset:]
        self.buffer = io.BytesIO()
        self.buffer.write(remainder)
        return False

    def _finish(self) -> None:
        """Make the object: complete the multipart upload, or send the single PUT.

        ``"xb"`` makes either request create-only, so a key written meanwhile by someone else
        raises ``FileExistsError`` and is left as it is.
        """
        try:
            self._recorded(self._make_object)
        except BaseException as error:
            self._end_recording(error)
            raise
        self._end_recording(None)

    def _recorded(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` as a step of this write's operation (once it is recorded)."""
        recording = self._recording
        return function(*args) if recording is None else recording.run(function, *args)

    def _end_recording(self, error: BaseException | None) -> None:
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.finish(error)

    def _make_object(self) -> None:
        writer = self._writer
        if self._parts_sent:
            writer.complete()
            self._parts_sent = False
        elif self._pending_body is not None:
            writer.op.put_single(self._pending_body)
            self._pending_body = None
        else:
            return  # already committed, or discarded
        self.version_id = writer.op.version_id
        self.fs.invalidate_cache(self.path)

    def commit(self) -> None:
        """Make the object visible (``autocommit=False``): fsspec's transactions call this.

        A file still open is closed first (its last part uploaded). If the completion fails,
        the upload is aborted and the error raised.
        """
        if not self.writable() and not self._parts_sent and self._pending_body is None:
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
        self._end_recording(sys.exc_info()[1] or TransferCancelledError(
            f"the write of {self.path} was discarded"))
        self._pending_body = None
        self._parts_sent = False
        self.buffer = None
        self.closed = True
        self._writer.abort(quiet=propagating)

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
