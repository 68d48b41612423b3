"""Download strategy: parallel ranged GETs into a temporary file, verified, then renamed.

The temporary file sits next to the destination (same file system, so the final rename is
atomic) and is written at each range's offset as the bytes arrive, in chunks, so memory does
not grow with the object. Once every range is in, the size is checked, the object's ETag is
checked to be unchanged (so ranges of two versions are never mixed), and where the ETag is a
plain MD5 the file's MD5 is compared with it. Only then does the file take the final name; a
failed download leaves nothing under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from . import exceptions as errors
from .models import TransferProgress
from .transfer_config import TransferResult
from .transfer_job import TransferJob
from .types import MIB, ObjectInfo

logger = logging.getLogger("fsspec_unified.transfer")

_CHUNK_BYTES = 1 * MIB
_MD5_HEX_LENGTH = 32


class FileDownload(TransferJob):
    """Download one object to a local path; resumable when configured."""

    def run(self, destination: str | os.PathLike[str]) -> TransferResult:
        destination = os.path.abspath(destination)
        directory = os.path.dirname(destination)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"destination directory {directory} does not exist")
        if not os.access(directory, os.W_OK):
            raise PermissionError(f"destination directory {directory} is not writable")
        info = self.retry(lambda: self.client.head_object(self.bucket, self.key), "head_object")
        self.start_tracking(info.size)
        part_size = max(self.config.part_size_bytes, 1)
        part_count = max(1, -(-info.size // part_size))
        checkpoint = self.checkpoint_path(destination)
        progress = self.start_or_resume(checkpoint, destination, info, part_size)
        temp_path = progress.temp_file
        resumed = len(progress.parts_completed)
        try:
            fd = os.open(temp_path, os.O_WRONLY)
            try:
                self.run_parts(
                    lambda number: self.fetch_range(fd, number, part_size, info, progress,
                                                    checkpoint),
                    [n for n in range(1, part_count + 1) if n not in progress.parts_completed],
                )
                os.fsync(fd)
            finally:
                os.close(fd)
            self.control.checkpoint()
            self.verify(temp_path, info)
            os.replace(temp_path, destination)
        except BaseException as error:
            self.clean_up_after(error, checkpoint, progress)
            final = self.failure(error, f"download to {destination}", errors.DownloadError)
            if final is error:
                raise
            raise final from error
        if self.store is not None and checkpoint is not None:
            self.store.delete(checkpoint)
        self.tracker.finish()
        return TransferResult(
            self.bucket, self.key, info.size, info.etag, part_count, part_count - resumed,
            resumed, self.elapsed_s(),
        )

    def checkpoint_path(self, destination: str) -> Path | None:
        if self.store is None:
            return None
        return self.store.path_for(
            kind="download", provider=self.client.provider, endpoint=self.client.config.endpoint,
            bucket=self.bucket, key=self.key, local_path=destination,
        )

    def start_or_resume(
        self, checkpoint: Path | None, destination: str, info: ObjectInfo, part_size: int
    ) -> TransferProgress:
        """Continue a checkpointed download if the object and the partial file still match."""
        record = self.store.load(checkpoint) if self.store and checkpoint else None
        if record is not None:
            temp = record.temp_file
            if (
                record.kind == "download"
                and record.remote_etag == info.etag
                and record.total_size == info.size
                and record.part_size == part_size
                and temp
                and os.path.isfile(temp)
                and os.path.getsize(temp) == info.size
            ):
                logger.info("resuming download of %s/%s: %d ranges already on disk",
                            self.bucket, self.key, len(record.parts_completed))
                self.tracker.resume_from(record.transferred)
                return record
            logger.warning("checkpoint for %s no longer matches %s/%s (object or settings "
                           "changed); starting over", destination, self.bucket, self.key)
            if temp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        fd, temp = tempfile.mkstemp(
            prefix=f".{os.path.basename(destination)}.", suffix=".partial",
            dir=os.path.dirname(destination),
        )
        with os.fdopen(fd, "wb") as handle:
            handle.truncate(info.size)
        progress = TransferProgress(
            total_size=info.size, temp_file=temp, kind="download", provider=self.client.provider,
            endpoint=self.client.config.endpoint, bucket=self.bucket, key=self.key,
            local_path=destination, remote_etag=info.etag, part_size=part_size,
        )
        self.save_checkpoint(checkpoint, progress)
        return progress

    def fetch_range(
        self, fd: int, part_number: int, part_size: int, info: ObjectInfo,
        progress: TransferProgress, checkpoint: Path | None,
    ) -> None:
        start = (part_number - 1) * part_size
        end = min(start + part_size, info.size)

        def fetch() -> None:
            offset = start
            with self.client.get_object_stream(self.bucket, self.key, start, end) as body:
                while offset < end:
                    self.throttle(min(_CHUNK_BYTES, end - offset))
                    chunk = body.read(min(_CHUNK_BYTES, end - offset))
                    if not chunk:
                        raise errors.ConnectionError(
                            f"the server sent {offset - start} of {end - start} bytes of range "
                            f"{start}-{end}", operation="download", bucket=self.bucket,
                            key=self.key,
                        )
                    os.pwrite(fd, chunk, offset)
                    offset += len(chunk)

        if end > start:
            self.retry(fetch, f"get range {start}-{end}")
        self.record_part(checkpoint, progress, part_number, "", end - start)

    def verify(self, temp_path: str, info: ObjectInfo) -> None:
        """Size always; ETag unchanged and MD5 (for plain-MD5 ETags) when ``verify`` is on."""
        size = os.path.getsize(temp_path)
        if size != info.size:
            raise errors.DownloadError(
                f"downloaded {size} bytes, the object has {info.size}",
                operation="download", bucket=self.bucket, key=self.key,
            )
        if not self.config.verify:
            return
        now = self.retry(lambda: self.client.head_object(self.bucket, self.key), "head_object")
        if now.etag != info.etag:
            raise errors.DownloadError(
                f"the object changed during the download (ETag {info.etag} -> {now.etag})",
                operation="download", bucket=self.bucket, key=self.key,
            )
        etag = (info.etag or "").lower()
        if len(etag) == _MD5_HEX_LENGTH and all(c in "0123456789abcdef" for c in etag):
            digest = hashlib.md5()
            with open(temp_path, "rb") as handle:
                while chunk := handle.read(8 * MIB):
                    digest.update(chunk)
            if digest.hexdigest() != etag:
                raise errors.DownloadError(
                    f"MD5 {digest.hexdigest()} of the downloaded bytes does not match ETag {etag}",
                    operation="download", bucket=self.bucket, key=self.key,
                )

    def clean_up_after(
        self, error: BaseException, checkpoint: Path | None, progress: TransferProgress
    ) -> None:
        """Keep the partial file for a resume when asked to; otherwise remove it."""
        cancelled = isinstance(error, errors.TransferCancelledError)
        keep = self.control.keep_resumable if cancelled else self.store is not None
        verification_failed = isinstance(error, errors.DownloadError)
        if keep and not verification_failed and self.store is not None and checkpoint:
            self.save_checkpoint(checkpoint, progress)
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(progress.temp_file)
        if self.store is not None and checkpoint is not None:
            self.store.delete(checkpoint)
