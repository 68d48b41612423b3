"""Download strategy: parallel ranged GETs into a temporary file, pinned, then renamed.

The temporary file sits next to the destination (same file system, so the final rename is
atomic) and is written at each range's offset as the bytes arrive, in chunks, so memory does
not grow with the object. Every ranged GET carries ``If-Match`` with the ETag the first HEAD
saw (and the version id, when one was asked for), so ranges of two versions of an object can
never be mixed: if the object is replaced meanwhile, the server answers 412 and the download
fails with :class:`ConcurrentModificationError` (not retried), leaving nothing under the final
name. An ETag is only compared with ETags of the same server, never with an MD5 of the bytes
(on AWS under SSE-KMS or SSE-C it is none). Once every range is in, the size is checked; then
the file takes the final name.

Resume: the checkpoint names the partial file. Before that file is used or removed, it must
lie in the destination's directory with the name this module gives it
(``.<destination name>.<random>.partial``) and be a regular file; any other path in a record
(a tampered or foreign checkpoint) is refused: the record is ignored and the path untouched.
A partial file exists only while a record names it: if the first record cannot be written, the
file is removed at once. A resumed download rewrites its record before adding to it, and its
ranges are recorded only once their bytes are on disk (see ``checkpoint.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat as stat_module
import tempfile
from pathlib import Path

from .. import exceptions as errors
from ..models import TransferProgress
from ..types import MIB, ObjectInfo
from .config import TransferResult
from .operation import TransferJob

logger = logging.getLogger("fsspec_unified.transfer")

_CHUNK_BYTES = 1 * MIB
_TEMP_SUFFIX = ".partial"


def is_own_temp_file(temp: str | None, destination: str) -> bool:
    """Whether ``temp`` is a partial file this module made for ``destination``: in the same
    directory, named ``.<name>.<random>.partial``, a regular file (not a symlink)."""
    if not temp or not os.path.isabs(temp):
        return False
    directory, name = os.path.split(destination)
    if os.path.dirname(temp) != directory:
        return False
    pattern = re.escape(f".{name}.") + r"[A-Za-z0-9_]+" + re.escape(_TEMP_SUFFIX)
    if not re.fullmatch(pattern, os.path.basename(temp)):
        return False
    try:
        mode = os.lstat(temp).st_mode
    except FileNotFoundError:
        return True  # ours by name; nothing there to misuse
    return stat_module.S_ISREG(mode)


class FileDownload(TransferJob):
    """Download one object (or one version of it) to a local path; resumable when configured."""

    version_id: str | None = None

    def run(self, destination: str | os.PathLike[str]) -> TransferResult:
        destination = os.path.abspath(destination)
        directory = os.path.dirname(destination)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"destination directory {directory} does not exist")
        if not os.access(directory, os.W_OK):
            raise PermissionError(f"destination directory {directory} is not writable")
        checkpoint = self.checkpoint_path(destination)
        with self.holding_checkpoint(
                checkpoint, f"the download of {self.bucket}/{self.key} to {destination}"):
            return self.run_locked(destination, checkpoint)

    def run_locked(self, destination: str, checkpoint: Path | None) -> TransferResult:
        info = self.retry(
            lambda: self.client.head_object(self.bucket, self.key, version_id=self.version_id),
            "head_object",
        )
        self.start_tracking(info.size)
        part_size = max(self.config.part_size_bytes, 1)
        part_count = max(1, -(-info.size // part_size))
        progress = self.start_or_resume(checkpoint, destination, info, part_size)
        temp_path = progress.temp_file
        resumed = len(progress.parts_completed)
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_NOFOLLOW)
            try:
                with self.journaling_data_of(checkpoint, fd):
                    self.run_parts(
                        lambda number: self.fetch_range(fd, number, part_size, info, progress,
                                                        checkpoint),
                        [n for n in range(1, part_count + 1)
                         if n not in progress.parts_completed],
                    )
                os.fsync(fd)
            finally:
                os.close(fd)
            self.control.checkpoint()
            self.check_size(temp_path, info)
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
            if not is_own_temp_file(temp, destination):
                logger.warning(
                    "refusing checkpoint %s: its partial file %r is not a %s file beside %s; "
                    "ignoring the record and leaving that path alone",
                    checkpoint, temp, _TEMP_SUFFIX, destination,
                )
            elif (
                record.kind == "download"
                and record.remote_etag == info.etag
                and record.version_id == self.version_id
                and record.total_size == info.size
                and record.part_size == part_size
                and os.path.isfile(temp)
                and os.path.getsize(temp) == info.size
            ):
                logger.info("resuming download of %s/%s: %d ranges already on disk",
                            self.bucket, self.key, len(record.parts_completed))
                # Rewrite the record whole: lines appended from now on must not follow a
                # torn last line (they would merge with it and spoil the record).
                self.save_checkpoint(checkpoint, record)
                self.tracker.resume_from(record.transferred)
                return record
            else:
                logger.warning("checkpoint for %s no longer matches %s/%s (object or settings "
                               "changed); starting over", destination, self.bucket, self.key)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        fd, temp = tempfile.mkstemp(
            prefix=f".{os.path.basename(destination)}.", suffix=_TEMP_SUFFIX,
            dir=os.path.dirname(destination),
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.truncate(info.size)
            progress = TransferProgress(
                total_size=info.size, temp_file=temp, kind="download",
                provider=self.client.provider, endpoint=self.client.config.endpoint,
                bucket=self.bucket, key=self.key, local_path=destination,
                remote_etag=info.etag, part_size=part_size, version_id=self.version_id,
            )
            self.save_checkpoint(checkpoint, progress)
        except BaseException:
            # No record names this file yet (or none could be written): nothing would ever
            # resume or remove it.
            self.quietly(lambda: os.unlink(temp), f"remove the partial file {temp}")
            raise
        return progress

    def fetch_range(
        self, fd: int, part_number: int, part_size: int, info: ObjectInfo,
        progress: TransferProgress, checkpoint: Path | None,
    ) -> None:
        start = (part_number - 1) * part_size
        end = min(start + part_size, info.size)

        def fetch() -> None:
            offset = start
            with self.client.get_object_stream(
                self.bucket, self.key, start, end, if_match=info.etag or None,
                version_id=self.version_id,
            ) as body:
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

    def check_size(self, temp_path: str, info: ObjectInfo) -> None:
        """The file must have exactly the object's size (always checked, it costs nothing)."""
        size = os.path.getsize(temp_path)
        if size != info.size:
            raise errors.DownloadError(
                f"downloaded {size} bytes, the object has {info.size}",
                operation="download", bucket=self.bucket, key=self.key,
            )

    def clean_up_after(
        self, error: BaseException, checkpoint: Path | None, progress: TransferProgress
    ) -> None:
        """Keep the partial file for a resume when asked to; otherwise remove it. A step that
        fails is logged; ``error`` is still what the caller sees.

        A replaced object (``ConcurrentModificationError``) or a failed check leaves nothing
        to resume: the partial file holds bytes of a version that is gone.
        """
        cancelled = isinstance(error, errors.TransferCancelledError)
        keep = self.control.keep_resumable if cancelled else self.store is not None
        if isinstance(error, (errors.DownloadError, errors.PreconditionFailedError)):
            keep = False
        if keep and self.store is not None and checkpoint:
            self.quietly(lambda: self.save_checkpoint(checkpoint, progress),
                         f"save the checkpoint {checkpoint}")
            return

        def remove_partial_file() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(progress.temp_file)

        self.quietly(remove_partial_file, f"remove the partial file {progress.temp_file}")
        if self.store is not None and checkpoint is not None:
            self.quietly(lambda: self.store.delete(checkpoint),
                         f"delete the checkpoint {checkpoint}")
