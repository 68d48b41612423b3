"""Upload strategies: a local file (seekable: concurrent, resumable) and a stream (read once).

A file smaller than one part goes up in a single PUT. A larger one becomes a server-side
multipart upload whose parts are read from their file offset by the worker that sends them,
so memory holds about ``max_workers`` parts whatever the file size.

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
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .. import exceptions as errors
from ..base_oss import _read_full, content_md5
from ..models import TransferProgress
from ..types import MIB, PartInfo
from .config import TransferResult, choose_part_size
from .operation import TransferJob

logger = logging.getLogger("fsspec_unified.transfer")

#: Test hook: called with (part_number, body) on every attempt to send a part, after its MD5
#: was computed; what it returns is sent instead. Lets tests corrupt a part in flight.
PartBodyHook = Callable[[int, bytes], bytes]

_HASH_CHUNK_BYTES = 1 * MIB


class UploadJob(TransferJob):
    """Common end of every upload: complete, check, clean up."""

    content_type: str | None = None
    metadata: dict[str, str] | None = None
    part_body_hook: PartBodyHook | None = None
    overwrite: bool = True

    def upload_part(self, upload_id: str, part_number: int, body: bytes,
                    ) -> tuple[PartInfo, str]:
        """Send one part (retried); returns it and the base64 MD5 the server verified."""
        md5 = content_md5(body)

        def send() -> PartInfo:
            self.throttle(len(body))
            sent = self.part_body_hook(part_number, body) if self.part_body_hook else body
            return self.client.upload_part(
                self.bucket, self.key, upload_id, part_number, sent, md5=md5
            )

        return self.retry(send, f"upload_part {part_number}"), md5

    def put_single(self, body: bytes) -> TransferResult:
        """Small objects: one PUT, its body verified by the server against its Content-MD5."""
        def send():
            self.control.checkpoint()
            self.throttle(len(body))
            return self.client.put_object(
                self.bucket, self.key, body, content_type=self.content_type,
                metadata=self.metadata, overwrite=self.overwrite,
            )

        written = self.retry(send, "put_object")
        self.tracker.update(len(body))
        return self.result(len(body), written.etag, 1, 1, 0)

    def refuse_existing(self) -> None:
        """With ``overwrite=False``, fail before sending parts if the key is already taken.

        Only a fast path: the create-only Complete is what makes the write safe from races.
        """
        if not self.overwrite:
            exists = self.retry(lambda: self.client.object_exists(self.bucket, self.key),
                                "head_object")
            if exists:
                raise errors.ObjectExistsError(
                    f"{self.bucket}/{self.key} exists and overwrite=False",
                    operation="upload", bucket=self.bucket, key=self.key,
                )

    def create_upload(self) -> str:
        return self.retry(
            lambda: self.client.create_multipart_upload(
                self.bucket, self.key, content_type=self.content_type, metadata=self.metadata
            ),
            "create_multipart_upload",
        )

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
            written = self.retry(send_complete, "complete_multipart_upload")
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
            info = self.retry(lambda: self.client.head_object(self.bucket, self.key),
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

    def abort_quietly(self, upload_id: str) -> None:
        """Abort the multipart upload, retried; a failure is logged, never raised.

        The retries wait with a plain ``time.sleep`` (bounded by the retry policy), not
        through the control: an abort usually follows a cancel, and waiting through the
        control would raise at once, leaving the upload (and its storage) on the server.
        """
        try:
            self.config.retry_policy.call(
                lambda: self.client.abort_multipart_upload(self.bucket, self.key, upload_id),
                description=f"abort_multipart_upload of {self.bucket}/{self.key}",
                sleep=time.sleep,
            )
        except Exception as error:
            logger.error("could not abort upload %s of %s/%s: %s: %s", upload_id, self.bucket,
                         self.key, type(error).__name__, error)

    def result(self, size, etag, total, sent, resumed) -> TransferResult:
        self.tracker.finish()
        return TransferResult(
            self.bucket, self.key, size, etag, total, sent, resumed, self.elapsed_s()
        )


def _same_etag(first: str | None, second: str | None) -> bool | None:
    """Whether two ETags from the same server name the same object (``None``: unknown)."""
    if not first or not second:
        return None
    return first.strip('"').lower() == second.strip('"').lower()


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


class FileUpload(UploadJob):
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
        checkpoint = self.checkpoint_path(path)
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
            with open(path, "rb") as handle:
                handle.seek(offset)
                body = handle.read(min(part_size, size - offset))
            part, md5 = self.upload_part(upload_id, part_number, body)
            sent.append(part)
            self.record_part(checkpoint, progress, part_number, part.etag, len(body), md5)

        try:
            self.run_parts(send_part, [n for n in range(1, part_count + 1) if n not in completed])
            self.control.checkpoint()
            if os.stat(path).st_mtime_ns != stat.st_mtime_ns or os.path.getsize(path) != size:
                raise errors.UploadError(
                    f"{path} changed while it was being uploaded",
                    operation="upload", bucket=self.bucket, key=self.key,
                )
            parts = sorted([*completed.values(), *sent], key=lambda part: part.part_number)
            etag = self.complete(upload_id, parts, size)
        except BaseException as error:
            self.clean_up_after(error, checkpoint, upload_id, progress)
            final = self.failure(error, f"upload of {path}", errors.UploadError)
            if final is error:
                raise
            raise final from error
        if self.store is not None and checkpoint is not None:
            self.store.delete(checkpoint)
        return self.result(size, etag, part_count, len(sent), len(completed))

    def checkpoint_path(self, path: str) -> Path | None:
        if self.store is None:
            return None
        return self.store.path_for(
            kind="upload", provider=self.client.provider, endpoint=self.client.config.endpoint,
            bucket=self.bucket, key=self.key, local_path=path,
        )

    def start_or_resume(
        self, checkpoint: Path | None, path: str, stat: os.stat_result, part_size: int,
        part_count: int,
    ) -> tuple[TransferProgress, dict[int, PartInfo]]:
        """Resume the checkpointed upload if it still applies, else start a new one.

        A part is kept only if the server has it at the right size *and* the local bytes of
        that part still have the MD5 recorded when it was sent; every other part is sent
        again (uploading a part number again replaces the server's copy).
        """
        record = self.store.load(checkpoint) if self.store and checkpoint else None
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


class StreamUpload(UploadJob):
    """Upload a stream read once, in order; parts go up concurrently while the next are read.

    The stream is read only as workers free up, so memory stays near ``max_workers + 1``
    parts. A stream cannot be re-read, so this upload is not resumable; a failure aborts it.
    """

    def run(self, stream: BinaryIO, size_hint: int = 0) -> TransferResult:
        """Upload ``stream``; ``size_hint`` is the total reported to progress, if known."""
        self.start_tracking(size_hint)
        part_size = max(self.config.part_size_bytes, self.client.capabilities.min_part_size_bytes)
        first = _read_full(stream, part_size)
        second = _read_full(stream, part_size) if len(first) == part_size else b""
        if not second:
            return self.put_single(first)
        self.refuse_existing()
        upload_id = self.create_upload()
        initial, first, second = [first, second], None, None  # the generator owns them now
        parts: list[PartInfo] = []
        max_parts = self.client.capabilities.max_parts
        total = 0

        def bodies(pending: list[bytes]):
            """Yield (part number, body), reading the next body only when one is taken."""
            nonlocal total
            number = 0
            while pending:
                body = pending.pop(0)
                number += 1
                if number > max_parts:
                    raise errors.UploadError(
                        f"stream needs more than {max_parts} parts; use a larger part_size_bytes",
                        operation="upload", bucket=self.bucket, key=self.key,
                    )
                total += len(body)
                yield number, body
                if not pending and (following := _read_full(stream, part_size)):
                    pending.append(following)

        def send(item: tuple[int, bytes]) -> None:
            number, body = item
            parts.append(self.upload_part(upload_id, number, body)[0])
            self.tracker.update(len(body))

        try:
            self.run_parts(send, bodies(initial))
            parts.sort(key=lambda part: part.part_number)
            etag = self.complete(upload_id, parts, total)
        except BaseException as error:
            self.abort_quietly(upload_id)
            final = self.failure(error, "upload of a stream", errors.UploadError)
            if final is error:
                raise
            raise final from error
        return self.result(total, etag, len(parts), len(parts), 0)
