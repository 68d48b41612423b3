"""Downloads to a local file: ranged GETs into a temporary file, pinned, then renamed.

The temporary file sits next to the destination (same file system, so the final rename is
atomic) and is written at each range's offset as the bytes arrive, in chunks, so memory does
not grow with the object. Ranges are read by :func:`~.reads.read_range` (retries that resume
mid-body, rate limit, budget). Every range after the first carries ``If-Match`` with the ETag
the first response gave (and the version id, when one was asked for), so ranges of two
versions of an object can never be mixed: if the object is replaced meanwhile, the server
answers 412 and the download fails with :class:`ConcurrentModificationError` (not retried),
leaving nothing under the final name. An ETag is only compared with ETags of the same server,
never with an MD5 of the bytes. Once every range is in, the size is checked; then the file
takes the final name. Nothing re-reads the file to verify it, and nothing is fsynced unless
the download is resumable (a crash then loses nothing the record claims).

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
import secrets
import stat as stat_module
from pathlib import Path

from .. import exceptions as errors
from ..models import TransferProgress
from ..types import ObjectInfo
from .config import TransferResult
from .operation import Operation
from .part_sizes import choose_range_size, streamed_range_size
from .reads import ObjectSeen, read_range

logger = logging.getLogger("fsspec_unified.transfer")

_TEMP_SUFFIX = ".partial"
_PARTIAL_NAME_ATTEMPTS = 100


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


class FileDownload(Operation):
    """Download one object (or one version of it) to a local path; resumable when configured.

    Without resume, the first ranged GET stands in for a HEAD: its response gives the size
    and the ETag that pins every other range, so an object no larger than one range costs one
    request. A resumable download starts with a HEAD instead (the record must be checked
    against the object before anything is fetched), and fsyncs its data before recording it.
    """

    version_id: str | None = None

    def run(self, destination: str | os.PathLike[str]) -> TransferResult:
        destination = os.path.abspath(destination)
        directory = os.path.dirname(destination)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"destination directory {directory} does not exist")
        if not os.access(directory, os.W_OK):
            raise PermissionError(f"destination directory {directory} is not writable")
        if self.store is None:
            return self.run_fresh(destination)
        checkpoint = self.checkpoint_path("download", destination)
        with self.holding_checkpoint(
                checkpoint, f"the download of {self.bucket}/{self.key} to {destination}"):
            return self.run_resumable(destination, checkpoint)

    def run_fresh(self, destination: str) -> TransferResult:
        """Not resumable: nothing recorded, nothing fsynced, a failure leaves no file."""
        fd, temp_path = _partial_file(destination)
        progress = TransferProgress(total_size=0, temp_file=temp_path)
        first_size = choose_range_size(self, None)

        def start_tracking(seen: ObjectSeen) -> None:
            self.start_tracking(seen.size or 0)

        with self.reported_as(f"download to {destination}", errors.DownloadError,
                              cleanup=lambda error: self.clean_up_after(error, None, progress)):
            try:
                seen = read_range(self, 0, first_size, _writer(fd), version_id=self.version_id,
                                  reuse_buffer=True, report=self.tracker_update,
                                  on_open=start_tracking)
                size = seen.size or 0
                step = streamed_range_size(self, size)
                spans = [(offset, min(offset + step, size))
                         for offset in range(first_size, size, step)]
                self.run_parts(lambda span: self.fetch(fd, span, seen.etag), spans)
            finally:
                os.close(fd)
            self.control.checkpoint()
            info = ObjectInfo(self.key, size=size, etag=seen.etag)
            self.check_size(temp_path, info)
            os.replace(temp_path, destination)
        self.tracker.finish()
        count = 1 + len(spans)
        return TransferResult(self.bucket, self.key, size, seen.etag, count, count, 0,
                              self.elapsed_s())

    def tracker_update(self, size_bytes: int) -> None:
        self.tracker.update(size_bytes)

    def fetch(self, fd: int, span: tuple[int, int], etag: str | None) -> None:
        read_range(self, span[0], span[1], _writer(fd), etag=etag, version_id=self.version_id,
                   reuse_buffer=True, report=self.tracker_update)

    def run_resumable(self, destination: str, checkpoint: Path | None) -> TransferResult:
        info = self.retry(
            lambda: self.client.head_object(self.bucket, self.key, version_id=self.version_id),
            "head_object",
        )
        self.start_tracking(info.size)
        part_size = choose_range_size(self, info.size)
        part_count = max(1, -(-info.size // part_size))
        progress = self.start_or_resume(checkpoint, destination, info, part_size)
        temp_path = progress.temp_file
        resumed = len(progress.parts_completed)

        def fetch_part(number: int) -> None:
            start = (number - 1) * progress.part_size
            end = min(start + progress.part_size, info.size)
            if end > start:
                read_range(self, start, end, _writer(fd), etag=info.etag or None,
                           version_id=self.version_id, reuse_buffer=True)
            self.record_part(checkpoint, progress, number, "", end - start)

        with self.reported_as(f"download to {destination}", errors.DownloadError,
                              cleanup=lambda error: self.clean_up_after(error, checkpoint,
                                                                        progress)):
            fd = os.open(temp_path, os.O_WRONLY | os.O_NOFOLLOW)
            try:
                with self.journaling_data_of(checkpoint, fd):
                    self.run_parts(fetch_part, [n for n in range(1, part_count + 1)
                                                if n not in progress.parts_completed])
                os.fsync(fd)
            finally:
                os.close(fd)
            self.control.checkpoint()
            self.check_size(temp_path, info)
            os.replace(temp_path, destination)
        if checkpoint is not None:
            self.store.delete(checkpoint)
        self.tracker.finish()
        return TransferResult(
            self.bucket, self.key, info.size, info.etag, part_count, part_count - resumed,
            resumed, self.elapsed_s(),
        )

    def start_or_resume(
        self, checkpoint: Path | None, destination: str, info: ObjectInfo, part_size: int
    ) -> TransferProgress:
        """Continue a checkpointed download if the object and the partial file still match."""
        record = self.load_own_checkpoint(checkpoint, "download", destination)
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
        fd, temp = _partial_file(destination)
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


def _partial_file(destination: str) -> tuple[int, str]:
    """A new, empty partial file beside ``destination`` (see :func:`is_own_temp_file`).

    Created with mode 0666 less the umask, as ``open()`` would create ``destination``
    (``mkstemp``'s 0600 would follow the file when it is renamed into place); ``O_EXCL``
    and ``O_NOFOLLOW`` keep it ours.
    """
    directory, name = os.path.split(destination)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(_PARTIAL_NAME_ATTEMPTS):
        path = os.path.join(directory, f".{name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free partial file name beside {destination}")


def _writer(fd: int):
    """A sink that writes each chunk at its offset in the open file."""
    def write(offset: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
    return write
