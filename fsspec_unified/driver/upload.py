"""Upload strategies: a local file (seekable: concurrent, resumable) and a stream (read once).

A file smaller than one part goes up in a single PUT. A larger one becomes a server-side
multipart upload whose parts are read from their file offset by the worker that sends them,
so memory holds about ``max_workers`` parts whatever the file size. Each part carries its
Content-MD5; after completion the object's size and multipart ETag (the MD5 of the parts'
MD5s) are checked against what was sent, and a mismatch deletes the object and raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import exceptions as errors
from .base_oss import _read_full, content_md5
from .models import TransferProgress
from .transfer_config import TransferResult, choose_part_size
from .transfer_job import TransferJob
from .types import PartInfo

logger = logging.getLogger("fsspec_unified.transfer")

#: Test hook: called with (part_number, body) on every attempt to send a part, after its MD5
#: was computed; what it returns is sent instead. Lets tests corrupt a part in flight.
PartBodyHook = Callable[[int, bytes], bytes]

_MD5_HEX_LENGTH = 32


def expected_multipart_etag(part_etags: list[str]) -> str | None:
    """The S3-style multipart ETag for parts with these (MD5) ETags, or ``None`` if any
    part's ETag is not an MD5 (then the provider's ETag cannot be predicted)."""
    try:
        digests = b"".join(bytes.fromhex(etag) for etag in part_etags)
    except ValueError:
        return None
    if len(digests) != _MD5_HEX_LENGTH // 2 * len(part_etags):
        return None
    return f"{hashlib.md5(digests).hexdigest()}-{len(part_etags)}"


class UploadJob(TransferJob):
    """Common end of every upload: complete, verify, clean up."""

    content_type: str | None = None
    metadata: dict[str, str] | None = None
    part_body_hook: PartBodyHook | None = None

    def upload_part(self, upload_id: str, part_number: int, body: bytes) -> PartInfo:
        md5 = content_md5(body)

        def send() -> PartInfo:
            self.throttle(len(body))
            sent = self.part_body_hook(part_number, body) if self.part_body_hook else body
            return self.client.upload_part(
                self.bucket, self.key, upload_id, part_number, sent, md5=md5
            )

        return self.retry(send, f"upload_part {part_number}")

    def put_single(self, body: bytes) -> TransferResult:
        """Small objects: one PUT, verified by its MD5 ETag."""
        def send():
            self.control.checkpoint()
            self.throttle(len(body))
            return self.client.put_object(
                self.bucket, self.key, body, content_type=self.content_type,
                metadata=self.metadata,
            )

        written = self.retry(send, "put_object")
        self.tracker.update(len(body))
        if self.config.verify and written.etag and len(written.etag) == _MD5_HEX_LENGTH:
            self.verify_etag(written.etag, hashlib.md5(body).hexdigest(), len(body))
        return self.result(len(body), written.etag, 1, 1, 0)

    def create_upload(self) -> str:
        return self.retry(
            lambda: self.client.create_multipart_upload(
                self.bucket, self.key, content_type=self.content_type, metadata=self.metadata
            ),
            "create_multipart_upload",
        )

    def complete(self, upload_id: str, parts: list[PartInfo], size: int) -> str | None:
        """Complete the upload and verify the object; returns its ETag."""
        expected = expected_multipart_etag([part.etag for part in parts])
        try:
            written = self.retry(
                lambda: self.client.complete_multipart_upload(
                    self.bucket, self.key, upload_id, parts
                ),
                "complete_multipart_upload",
            )
            etag = written.etag
        except errors.UploadNotFoundError:
            # A retried Complete whose first attempt succeeded finds the upload gone.
            etag = self.client.head_object(self.bucket, self.key).etag
            if expected is None or (etag or "").lower() != expected:
                raise
        if self.config.verify:
            info = self.client.head_object(self.bucket, self.key)
            if info.size != size:
                self.discard_object()
                raise errors.UploadError(
                    f"uploaded object has {info.size} bytes, expected {size}; deleted it",
                    operation="upload", bucket=self.bucket, key=self.key,
                )
            if expected is not None:
                self.verify_etag(etag, expected, size)
        return etag

    def verify_etag(self, actual: str | None, expected: str, size: int) -> None:
        if (actual or "").lower() != expected.lower():
            self.discard_object()
            raise errors.UploadError(
                f"ETag {actual} of the uploaded object does not match {expected} computed from "
                f"the {size} bytes sent; deleted it",
                operation="upload", bucket=self.bucket, key=self.key,
            )

    def discard_object(self) -> None:
        self.client.delete_object(self.bucket, self.key)

    def abort_quietly(self, upload_id: str) -> None:
        try:
            self.retry(
                lambda: self.client.abort_multipart_upload(self.bucket, self.key, upload_id),
                "abort_multipart_upload",
            )
        except errors.OSSError as error:
            logger.error("could not abort upload %s of %s/%s: %s", upload_id, self.bucket,
                         self.key, error)

    def result(self, size, etag, total, sent, resumed) -> TransferResult:
        self.tracker.finish()
        return TransferResult(
            self.bucket, self.key, size, etag, total, sent, resumed, self.elapsed_s()
        )


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
        part_count = -(-size // part_size)
        checkpoint = self.checkpoint_path(path)
        progress, completed = self.start_or_resume(checkpoint, path, stat, part_size, part_count)
        upload_id = progress.upload_id
        sent: list[PartInfo] = []

        def send_part(part_number: int) -> None:
            offset = (part_number - 1) * part_size
            with open(path, "rb") as handle:
                handle.seek(offset)
                body = handle.read(min(part_size, size - offset))
            part = self.upload_part(upload_id, part_number, body)
            sent.append(part)
            self.record_part(checkpoint, progress, part_number, part.etag, len(body))

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
        if self.store is not None:
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

        The server is the authority on which parts exist: the checkpoint only says which
        upload to ask about. Parts whose size on the server is wrong are sent again.
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
                    completed = {
                        part.part_number: part for part in on_server
                        if part.part_number <= part_count
                        and part.size == min(part_size, stat.st_size - (part.part_number - 1)
                                             * part_size)
                    }
                    record.parts_completed = {n: p.etag for n, p in completed.items()}
                    record.transferred = sum(p.size or 0 for p in completed.values())
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

    def clean_up_after(
        self, error: BaseException, checkpoint: Path | None, upload_id: str,
        progress: TransferProgress,
    ) -> None:
        """Keep the upload for a resume when asked to; otherwise leave nothing behind."""
        cancelled = isinstance(error, errors.TransferCancelledError)
        keep = self.control.keep_resumable if cancelled else self.store is not None
        if keep and self.store is not None and checkpoint is not None:
            self.save_checkpoint(checkpoint, progress)
            logger.info("upload %s of %s/%s kept for a resume (%d parts done)", upload_id,
                        self.bucket, self.key, len(progress.parts_completed))
            return
        self.abort_quietly(upload_id)
        if self.store is not None and checkpoint is not None:
            self.store.delete(checkpoint)


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
            parts.append(self.upload_part(upload_id, number, body))
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
