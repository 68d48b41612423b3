"""Uploads: every write of the library, whatever its source, goes through here.

- :class:`FileUpload`: a local file (seekable: concurrent, resumable). A file no larger than
  one part goes up in a single PUT; a larger one becomes a server-side multipart upload whose
  parts are read from their file offset by the worker that sends them, so memory holds about
  ``max_workers`` parts whatever the file size.
- :class:`MultipartWrite`: bytes pushed part by part (``open("wb")``, a stream, a large
  ``pipe``); parts go up concurrently while the caller produces the next ones, at most
  ``max_workers`` in flight. :func:`upload_stream` and :func:`upload_bytes` are built on it.

Every part and single PUT is one :meth:`~.operation.Operation.request`: retried under the
policy, rate limited, inside a slot of the scheduler's budget, its MD5 computed once.

Integrity comes from what the server verifies, never from guessing what an ETag means: every
PUT and every part carries its Content-MD5, which the server checks (a body changed in flight
is rejected and the part is sent again; OSS also returns a CRC64 the driver checks). An ETag is
an identifier, not a checksum (SSE-KMS, SSE-C and S3 Express ETags are not MD5s), so no ETag is
ever compared with an MD5 here and nothing is ever deleted because of one. After a multipart
upload completes, the size the server reports is checked (``TransferConfig.verify``); a
mismatch raises :class:`UploadError` and leaves the object alone (another writer may own it).

``overwrite=False`` makes the final PUT or CompleteMultipartUpload create-only (the server
decides, in the same request; ``ObjectExistsError`` if the key is taken). A multipart upload
also checks first, so that it does not send every part only to be refused.

Resume (``TransferConfig.resumable``): the checkpoint records each finished part's MD5. A rerun
keeps a part the server still has only if its local bytes still have that MD5 (so a file
rewritten with the same size and mtime, as ``cp -p`` or ``rsync -t`` do, cannot produce a mixed
object); changed or unrecorded parts are sent again.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from .. import exceptions as errors
from ..base_oss import _read_full, content_md5
from ..models import TransferProgress
from ..types import MIB, PartInfo, WriteResult
from .config import TransferResult
from .operation import Operation
from .part_sizes import choose_part_size, stream_part_size

logger = logging.getLogger("fsspec_unified.transfer")

#: Test hook: called with (part_number, body) on every attempt to send a part, after its MD5
#: was computed; what it returns is sent instead. Lets tests corrupt a part in flight.
PartBodyHook = Callable[[int, bytes], bytes]

_HASH_CHUNK_BYTES = 1 * MIB
# Some servers report an upload's initiation time in whole seconds.
_INITIATED_RESOLUTION_S = 1.0


class UploadOperation(Operation):
    """What every upload shares: single PUT, parts, complete, check, clean up."""

    content_type: str | None = None
    metadata: dict[str, str] | None = None
    part_body_hook: PartBodyHook | None = None
    overwrite: bool = True
    version_id: str | None = None  # the version the upload created, in a versioned bucket

    def upload_part(self, upload_id: str, part_number: int, body: bytes | memoryview,
                    ) -> tuple[PartInfo, str]:
        """Send one part (one request); returns it and the base64 MD5 the server verified."""
        md5 = content_md5(body)

        def send() -> PartInfo:
            sent = self.part_body_hook(part_number, body) if self.part_body_hook else body
            return self.client.upload_part(
                self.bucket, self.key, upload_id, part_number, sent, md5=md5
            )

        part = self.request(send, f"upload_part {part_number}", size_bytes=len(body))
        return part, md5

    def put_single(self, body: bytes | memoryview) -> TransferResult:
        """Small objects: one PUT, its body verified by the server against its Content-MD5."""
        def send() -> WriteResult:
            self.control.checkpoint()
            return self.client.put_object(
                self.bucket, self.key, body, content_type=self.content_type,
                metadata=self.metadata, overwrite=self.overwrite,
            )

        written = self.request(send, "put_object", size_bytes=len(body))
        self.version_id = written.version_id
        self.tracker.update(len(body))
        return self.result(len(body), written.etag, 1, 1, 0)

    def refuse_existing(self) -> None:
        """With ``overwrite=False``, fail before sending parts if the key is already taken.

        Only a fast path: the create-only Complete is what makes the write safe from races.
        """
        if not self.overwrite:
            exists = self.request(lambda: self.client.object_exists(self.bucket, self.key),
                                  "head_object")
            if exists:
                raise errors.ObjectExistsError(
                    f"{self.bucket}/{self.key} exists and overwrite=False",
                    operation="upload", bucket=self.bucket, key=self.key,
                )

    def create_upload(self) -> str:
        """Start the multipart upload; returns its id.

        A create whose answer was lost (the connection dropped or timed out after the request
        went out, or the answer was cut short) may still have started an upload on the
        server, which nobody knows the id of. When a retry then succeeds,
        :meth:`abort_lost_uploads` aborts those.
        """
        lost: list[tuple[float, float]] = []  # when each attempt whose answer was lost ran
        sent: list[float] = []  # when the last attempt started

        def send() -> str:
            sent[:] = [time.monotonic()]
            try:
                return self.client.create_multipart_upload(
                    self.bucket, self.key, content_type=self.content_type,
                    metadata=self.metadata,
                )
            except errors.ThrottlingError:
                raise  # refused: no upload was started
            except (errors.ConnectionError, errors.ServiceError):
                # No answer, or one the SDK could not read (botocore turns a truncated 200
                # into a 500): the server may have started the upload all the same.
                lost.append((sent[0], time.monotonic()))
                raise

        upload_id = self.request(send, "create_multipart_upload")
        if lost:
            self.abort_lost_uploads(upload_id, lost, (sent[0], time.monotonic()))
        return upload_id

    def abort_lost_uploads(self, upload_id: str, lost: list[tuple[float, float]],
                           succeeded: tuple[float, float]) -> None:
        """Abort this key's uploads that started while a create whose answer was lost ran.

        ``lost`` and ``succeeded`` are the local times (start, end) of those attempts and of
        the one that gave ``upload_id``. The listing gives each upload's start on the
        server's clock; ours maps the server's clock onto ours (whatever the skew), so each
        lost attempt becomes an interval of server time, widened by the listing's
        resolution. The one risk, accepted: another writer of the same key whose upload
        started within one of those intervals (as long as the lost attempt took, up to the
        read timeout) loses it and fails; the alternative is an upload that stays on the
        server, billed, until a lifecycle rule removes it.
        """
        def list_uploads() -> list:
            return [u for u in self.client.list_multipart_uploads(self.bucket, self.key)
                    if u.key == self.key and u.initiated is not None]

        try:  # retried like the abort: the network that lost the answer may still be flaky
            uploads = self.config.retry_policy.call(
                list_uploads, description=f"list_multipart_uploads of {self.bucket}/{self.key}",
                sleep=time.sleep)
        except Exception as error:
            logger.warning("could not list the uploads of %s/%s to abort lost creates: %s: %s",
                           self.bucket, self.key, type(error).__name__, error)
            return
        ours = next((u.initiated for u in uploads if u.upload_id == upload_id), None)
        if ours is None:
            return
        slack = timedelta(seconds=_INITIATED_RESOLUTION_S)
        # ours happened between succeeded[0] and succeeded[1], local time.
        windows = [(ours - timedelta(seconds=succeeded[1] - start) - slack,
                    ours - timedelta(seconds=succeeded[0] - end) + slack)
                   for start, end in lost]
        for upload in uploads:
            if upload.upload_id != upload_id and any(
                    low <= upload.initiated <= high for low, high in windows):
                logger.info("aborting upload %s of %s/%s: started by a create whose answer "
                            "was lost", upload.upload_id, self.bucket, self.key)
                self.abort_quietly(upload.upload_id)

    def complete(self, upload_id: str, parts: list[PartInfo], size: int) -> str | None:
        """Complete the upload and check the object's size; returns its ETag.

        Nothing here deletes: a size mismatch raises, and the object stays for the caller to
        inspect (it may be another writer's).
        """
        attempts = 0

        def send_complete():
            nonlocal attempts
            attempts += 1
            return self.client.complete_multipart_upload(
                self.bucket, self.key, upload_id, parts, overwrite=self.overwrite
            )

        try:
            written = self.request(send_complete, "complete_multipart_upload")
            self.version_id = written.version_id
        except errors.UploadNotFoundError:
            # A retried Complete whose earlier attempt succeeded (its answer was lost) finds
            # the upload gone; the object of the right size is then taken to be ours. On the
            # first attempt the upload was gone before we asked (aborted, expired by a
            # lifecycle rule): an object there is someone else's, whatever its size.
            if attempts < 2:
                raise
            info = self.client.head_object(self.bucket, self.key)
            if info.size != size:
                raise
            logger.info("upload %s of %s/%s had already completed", upload_id, self.bucket,
                        self.key)
            return info.etag
        if self.config.verify:
            info = self.request(lambda: self.client.head_object(self.bucket, self.key),
                                "head_object")
            if _same_etag(info.etag, written.etag) is False:
                # Compared with the ETag the same server just returned: another writer
                # replaced the object after our Complete; its size says nothing about ours.
                logger.warning("%s/%s was replaced by another writer right after the upload "
                               "completed", self.bucket, self.key)
            elif info.size != size:
                raise errors.UploadError(
                    f"the completed object has {info.size} bytes, {size} were sent; "
                    "it was left in place",
                    operation="upload", bucket=self.bucket, key=self.key,
                )
        return written.etag

    def abort(self, upload_id: str) -> None:
        """Abort the multipart upload, retried; the last failure is raised.

        The retries wait with a plain ``time.sleep`` (bounded by the retry policy), not
        through the control: an abort usually follows a cancel, and waiting through the
        control would raise at once, leaving the upload (and its storage) on the server.
        """
        self.config.retry_policy.call(
            lambda: self.client.abort_multipart_upload(self.bucket, self.key, upload_id),
            description=f"abort_multipart_upload of {self.bucket}/{self.key}",
            sleep=time.sleep,
        )

    def abort_quietly(self, upload_id: str) -> None:
        """:meth:`abort`, with a failure logged instead of raised (cleanup after a failure)."""
        try:
            self.abort(upload_id)
        except Exception as error:
            logger.error("could not abort upload %s of %s/%s: %s: %s", upload_id, self.bucket,
                         self.key, type(error).__name__, error)

    def result(self, size, etag, total, sent, resumed) -> TransferResult:
        self.tracker.finish()
        return TransferResult(
            self.bucket, self.key, size, etag, total, sent, resumed, self.elapsed_s(),
            self.version_id,
        )


def _same_etag(first: str | None, second: str | None) -> bool | None:
    """Whether two ETags from the same server name the same object (``None``: unknown)."""
    if not first or not second:
        return None
    return first.strip('"').lower() == second.strip('"').lower()


def _read_at(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes of the open file from ``offset`` (a file that shrank meanwhile gives
    fewer; the size check before completing catches that)."""
    body = os.pread(fd, length, offset)
    while len(body) < length:
        more = os.pread(fd, length - len(body), offset + len(body))
        if not more:
            break
        body += more
    return body


def _file_still_matches(progress: TransferProgress) -> bool:
    """Whether the local file still has the size and mtime its upload record was made for."""
    try:
        stat = os.stat(progress.local_path)
    except (OSError, TypeError):
        return False
    return (stat.st_size, stat.st_mtime_ns) == (progress.total_size, progress.local_mtime_ns)


def local_part_md5(path: str, offset: int, length: int) -> str:
    """Base64 MD5 (the Content-MD5 form) of ``length`` bytes of ``path`` from ``offset``."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        handle.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_HASH_CHUNK_BYTES, remaining))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


class FileUpload(UploadOperation):
    """Upload one local file (see the module docstring); resumable when configured."""

    def run(self, path: str | os.PathLike[str]) -> TransferResult:
        path = os.path.abspath(path)
        stat = os.stat(path)
        size = stat.st_size
        self.start_tracking(size)
        part_size = choose_part_size(size, self.config.part_size_bytes, self.client.capabilities)
        if size <= part_size:
            with open(path, "rb") as handle:
                return self.put_single(handle.read())
        checkpoint = self.checkpoint_path("upload", path)
        with self.holding_checkpoint(checkpoint,
                                     f"the upload of {path} to {self.bucket}/{self.key}"):
            return self.run_multipart(path, stat, part_size, checkpoint)

    def run_multipart(self, path: str, stat: os.stat_result, part_size: int,
                      checkpoint: Path | None) -> TransferResult:
        size = stat.st_size
        part_count = -(-size // part_size)
        self.refuse_existing()
        progress, completed = self.start_or_resume(checkpoint, path, stat, part_size, part_count)
        upload_id = progress.upload_id
        sent: list[PartInfo] = []

        def send_part(part_number: int) -> None:
            offset = (part_number - 1) * part_size
            body = _read_at(fd, offset, min(part_size, size - offset))
            part, md5 = self.upload_part(upload_id, part_number, body)
            sent.append(part)
            self.record_part(checkpoint, progress, part_number, part.etag, len(body), md5)

        def clean_up(error: BaseException) -> None:
            self.clean_up_after(error, checkpoint, upload_id, progress)

        with self.reported_as(f"upload of {path}", errors.UploadError, cleanup=clean_up):
            fd = os.open(path, os.O_RDONLY)
            try:
                self.run_parts(send_part,
                               [n for n in range(1, part_count + 1) if n not in completed])
            finally:
                os.close(fd)
            self.control.checkpoint()
            if os.stat(path).st_mtime_ns != stat.st_mtime_ns or os.path.getsize(path) != size:
                raise errors.UploadError(
                    f"{path} changed while it was being uploaded",
                    operation="upload", bucket=self.bucket, key=self.key,
                )
            parts = sorted([*completed.values(), *sent], key=lambda part: part.part_number)
            etag = self.complete(upload_id, parts, size)
        if self.store is not None and checkpoint is not None:
            self.store.delete(checkpoint)
        return self.result(size, etag, part_count, len(sent), len(completed))

    def start_or_resume(
        self, checkpoint: Path | None, path: str, stat: os.stat_result, part_size: int,
        part_count: int,
    ) -> tuple[TransferProgress, dict[int, PartInfo]]:
        """Resume the checkpointed upload if it still applies, else start a new one.

        A part is kept only if the server has it at the right size *and* the local bytes of
        that part still have the MD5 recorded when it was sent; every other part is sent
        again (uploading a part number again replaces the server's copy).
        """
        record = self.load_own_checkpoint(checkpoint, "upload", path)
        if record is not None:
            matches = (
                record.kind == "upload"
                and record.total_size == stat.st_size
                and record.local_mtime_ns == stat.st_mtime_ns
                and record.part_size == part_size
                and record.upload_id
            )
            if matches:
                try:
                    on_server = list(self.client.list_parts(self.bucket, self.key,
                                                            record.upload_id))
                except errors.UploadNotFoundError:
                    logger.warning("upload %s of %s/%s is gone from the server; starting over",
                                   record.upload_id, self.bucket, self.key)
                else:
                    completed = self.parts_still_valid(record, on_server, path, part_size,
                                                       stat.st_size, part_count)
                    record.parts_completed = {n: p.etag for n, p in completed.items()}
                    record.part_md5s = {n: record.part_md5s[n] for n in completed}
                    record.transferred = sum(p.size or 0 for p in completed.values())
                    self.save_checkpoint(checkpoint, record)
                    self.tracker.resume_from(record.transferred)
                    logger.info("resuming upload of %s: %d of %d parts already on the server",
                                path, len(completed), part_count)
                    return record, completed
            else:
                logger.warning("checkpoint for %s/%s no longer matches %s (file changed or "
                               "settings differ); starting over", self.bucket, self.key, path)
                if record.upload_id:
                    self.abort_quietly(record.upload_id)
        upload_id = self.create_upload()
        progress = TransferProgress(
            total_size=stat.st_size, kind="upload", provider=self.client.provider,
            endpoint=self.client.config.endpoint, bucket=self.bucket, key=self.key,
            local_path=path, local_mtime_ns=stat.st_mtime_ns, upload_id=upload_id,
            part_size=part_size,
        )
        self.save_checkpoint(checkpoint, progress)
        return progress, {}

    def parts_still_valid(
        self, record: TransferProgress, on_server: list[PartInfo], path: str, part_size: int,
        size: int, part_count: int,
    ) -> dict[int, PartInfo]:
        """The server's parts whose size is right and whose local bytes are unchanged."""
        completed: dict[int, PartInfo] = {}
        changed, unrecorded = [], []
        for part in on_server:
            number = part.part_number
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            if number > part_count or part.size != length:
                continue
            recorded = record.part_md5s.get(number)
            if recorded is None:
                unrecorded.append(number)  # sent, but the record never said: cannot check
            elif local_part_md5(path, offset, length) != recorded:
                changed.append(number)
            else:
                completed[number] = part
        if changed:
            logger.warning("the local bytes of part(s) %s of %s changed since they were "
                           "uploaded (same size and mtime); sending them again",
                           ", ".join(map(str, changed)), path)
        if unrecorded:
            logger.info("part(s) %s of %s are on the server but not in the checkpoint; "
                        "sending them again", ", ".join(map(str, unrecorded)), path)
        return completed

    def clean_up_after(
        self, error: BaseException, checkpoint: Path | None, upload_id: str,
        progress: TransferProgress,
    ) -> None:
        """Keep the upload for a resume when asked to; otherwise leave nothing behind. A step
        that fails is logged; ``error`` is still what the caller sees."""
        cancelled = isinstance(error, errors.TransferCancelledError)
        keep = self.control.keep_resumable if cancelled else self.store is not None
        if isinstance(error, FileExistsError):
            keep = False  # overwrite=False and the key is taken: a resume cannot succeed
        if keep and not _file_still_matches(progress):
            keep = False  # the file changed: a resume could never use these parts
        if keep and self.store is not None and checkpoint is not None:
            self.quietly(lambda: self.save_checkpoint(checkpoint, progress),
                         f"save the checkpoint {checkpoint}")
            logger.info("upload %s of %s/%s kept for a resume (%d parts done)", upload_id,
                        self.bucket, self.key, len(progress.parts_completed))
            return
        self.abort_quietly(upload_id)
        if self.store is not None and checkpoint is not None:
            self.quietly(lambda: self.store.delete(checkpoint),
                         f"delete the checkpoint {checkpoint}")


class MultipartWrite:
    """One object written part by part as its bytes arrive (see the module docstring).

    :meth:`add` sends a part in the background and returns at once unless ``max_workers``
    parts are already in flight; :meth:`complete` waits for them and makes the object;
    :meth:`abort` (also safe after a failure) leaves nothing on the server. The first part
    starts the multipart upload. ``size_hint`` is only for progress.
    """

    def __init__(self, op: UploadOperation) -> None:
        self.op = op
        self.upload_id: str | None = None
        self.size = 0
        self._group = None
        self._parts: list[PartInfo] = []
        self._parts_lock = threading.Lock()
        self._count = 0

    @property
    def part_count(self) -> int:
        return self._count

    def next_part_size(self, base: int) -> int:
        """How many bytes the next part should have, for a stream whose length is unknown
        (grows with the part number, see :mod:`.part_sizes`)."""
        return stream_part_size(self._count + 1, base, self.op.client.capabilities)

    def add(self, body: bytes | memoryview) -> None:
        """Send ``body`` as the next part (in the background)."""
        op = self.op
        self._submit(len(body), lambda upload_id, number: op.upload_part(upload_id, number,
                                                                         body)[0])

    def add_copy(self, src_bucket: str, src_key: str, start: int, end: int,
                 etag: str | None) -> None:
        """Make the next part from bytes ``[start, end)`` of another object, server-side,
        pinned to its ``etag`` (no bytes pass through the client)."""
        op = self.op

        def send(upload_id: str, number: int) -> PartInfo:
            return op.request(
                lambda: op.client.upload_part_copy(op.bucket, op.key, upload_id, number,
                                                   src_bucket, src_key, start, end,
                                                   if_match=etag),
                f"upload_part_copy {number}",
            )

        self._submit(end - start, send)

    def _submit(self, size: int, send: Callable[[str, int], PartInfo]) -> None:
        op = self.op
        max_parts = op.client.capabilities.max_parts
        if self._count >= max_parts:
            raise errors.UploadError(
                f"more than {max_parts} parts: write with a larger part size",
                operation="upload", bucket=op.bucket, key=op.key,
            )
        if self.upload_id is None:
            op.refuse_existing()
            self.upload_id = op.create_upload()
            self._group = op.scheduler.group(op.config.max_workers, op.control.checkpoint)
        self._count += 1
        number = self._count
        upload_id = self.upload_id
        self.size += size

        def task() -> None:
            part = send(upload_id, number)
            with self._parts_lock:
                self._parts.append(part)
            op.tracker.update(size)

        if not self._group.submit(task):
            self._group.wait()  # raises the failure that stopped the group

    def parts(self) -> list[PartInfo]:
        """Wait for every part; the parts in order, or the first failure."""
        if self._group is not None:
            self._group.wait()
        return sorted(self._parts, key=lambda part: part.part_number)

    def complete(self) -> TransferResult:
        """Wait for the parts and make the object (create-only without ``overwrite``)."""
        parts = self.parts()
        etag = self.op.complete(self.upload_id, parts, self.size)
        self.upload_id = None
        return self.op.result(self.size, etag, len(parts), len(parts), 0)

    def abort(self, error: BaseException | None = None, *, quiet: bool = True) -> None:
        """Stop sending parts and abort the upload. A failed abort is logged (``quiet``, for
        cleanup after ``error``) or raised (an abort the caller asked for)."""
        if self._group is not None:
            self._group.cancel()
        upload_id, self.upload_id = self.upload_id, None
        if upload_id is None:
            return
        if quiet:
            self.op.abort_quietly(upload_id)
        else:
            self.op.abort(upload_id)


def upload_stream(op: UploadOperation, stream: BinaryIO) -> TransferResult:
    """Upload a stream read once, in order (not resumable: it cannot be re-read).

    Less than two parts' worth goes up in a single PUT; more as a :class:`MultipartWrite`
    whose part size grows with the part number, so a stream of unknown length is not limited
    to ``max_parts`` times the first part size. Memory stays near ``max_workers + 1`` parts.
    """
    base = max(op.config.part_size_bytes, op.client.capabilities.min_part_size_bytes)
    first = _read_full(stream, base)
    second = _read_full(stream, base) if len(first) == base else b""
    if not second:
        return op.put_single(first)
    writer = MultipartWrite(op)
    with op.reported_as("upload of a stream", errors.UploadError, cleanup=writer.abort):
        writer.add(first)
        writer.add(second)
        first = second = None  # the parts in flight hold them now
        while body := _read_full(stream, writer.next_part_size(base)):
            writer.add(body)
        return writer.complete()


def upload_bytes(op: UploadOperation, data: bytes | bytearray | memoryview) -> TransferResult:
    """Upload bytes already in memory: one PUT up to one part, else parts sliced without
    copying (a memoryview per part) and sent concurrently."""
    view = memoryview(data).cast("B")
    part_size = choose_part_size(len(view), op.config.part_size_bytes, op.client.capabilities)
    if len(view) <= part_size:
        return op.put_single(view)
    writer = MultipartWrite(op)
    with op.reported_as("upload of bytes", errors.UploadError, cleanup=writer.abort):
        for offset in range(0, len(view), part_size):
            writer.add(view[offset:offset + part_size])
        return writer.complete()
