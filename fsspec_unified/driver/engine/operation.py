"""``Operation``: one operation on one object, and what every kind of operation shares.

An operation (an upload, a download, a read, a copy) owns the pieces each of them needs, so
that each exists once: the retry loop (waiting through the control, so a cancel interrupts
backoff), :meth:`Operation.request` (one request under the retry policy, the rate limit and a
slot of the scheduler's budget), the progress tracker, the checkpoint store, and
:meth:`Operation.run_parts`, which hands units of work to the scheduler's workers and stops at
the first failure.

Cleanup after a failure (saving the record, aborting, removing files) goes through
:meth:`Operation.quietly`: a cleanup step that fails is logged, and the caller still sees the
error that stopped the transfer, never the cleanup's.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from .. import exceptions as errors
from ..base_oss import BaseOSSClient
from ..callbacks import ProgressCallback, ProgressTracker
from ..models import TransferProgress, utc_now
from .checkpoint import CheckpointStore
from .config import TransferConfig
from .control import TransferControl
from .scheduler import RequestScheduler

logger = logging.getLogger("fsspec_unified.transfer")

T = TypeVar("T")


class Operation:
    """Shared machinery of one operation on one object (see the module docstring)."""

    def __init__(
        self,
        scheduler: RequestScheduler,
        config: TransferConfig,
        client: BaseOSSClient,
        bucket: str,
        key: str,
        progress_callback: ProgressCallback | None = None,
        control: TransferControl | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.config = config
        self.client = client
        self.bucket = bucket
        self.key = key
        self._progress_callback = progress_callback
        self.tracker = ProgressTracker(0)  # replaced by start_tracking once the size is known
        self.control = control or TransferControl()
        self.store = CheckpointStore(config.checkpoint_dir) if config.resumable else None
        self._state_lock = threading.Lock()
        self.started = time.monotonic()

    def start_tracking(self, total_bytes: int) -> None:
        """Begin reporting progress against ``total_bytes`` (0 when unknown)."""
        self.tracker = ProgressTracker(total_bytes, self._progress_callback)

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def retry(self, operation: Callable[[], T], description: str) -> T:
        """Run ``operation`` under the retry policy, aborting at once on cancel."""
        return self.config.retry_policy.call(
            operation, description=f"{description} of {self.bucket}/{self.key}",
            sleep=self.control.sleep,
        )

    def request(self, send: Callable[[], T], description: str, *, size_bytes: int = 0) -> T:
        """Send one request under the retry policy: each attempt first waits for the rate
        limit to allow its ``size_bytes`` (the body it sends), then holds a slot of the
        scheduler's budget while the request runs."""
        def attempt() -> T:
            self.throttle(size_bytes)
            with self.scheduler.slot() as slot:
                result = send()
                slot.moved(size_bytes)
                return result

        return self.retry(attempt, description)

    def throttle(self, size_bytes: int) -> None:
        """Wait until the rate limit allows ``size_bytes`` more."""
        self.scheduler.throttle(size_bytes, self.control.sleep)

    def run_parts(self, work: Callable[[T], None], items: Iterable[T]) -> None:
        """Run ``work(item)`` for every item on the scheduler's workers, at most
        ``max_workers`` of this operation's items at once (so memory holds about that many
        parts), checking for pause and cancel before each; the first failure stops the rest
        and is raised."""
        self.scheduler.run_all(work, items, in_flight=self.config.max_workers,
                               before_each=self.control.checkpoint)

    def checkpoint_path(self, kind: str, local_path: str) -> Path | None:
        """Where the checkpoint of this transfer of ``local_path`` lives (``None`` when not
        resumable): one file per kind, endpoint, object and local file."""
        if self.store is None:
            return None
        return self.store.path_for(**self._identity(kind, local_path))

    def _identity(self, kind: str, local_path: str) -> dict[str, str]:
        return {"kind": kind, "provider": self.client.provider,
                "endpoint": self.client.config.endpoint, "bucket": self.bucket,
                "key": self.key, "local_path": local_path}

    def load_own_checkpoint(self, path: Path | None, kind: str,
                            local_path: str) -> TransferProgress | None:
        """The record at ``path`` if it is this transfer's, else ``None``: there is none, it
        is unreadable (the store discards it), or it says it is another transfer's (another
        object, endpoint, provider or local file: copied or tampered with). A record that is
        not this transfer's is ignored and left alone: the multipart upload or partial file
        it names may be someone else's, so nothing is used, aborted or removed because of it
        (this transfer's own record then replaces it)."""
        record = self.store.load(path) if self.store is not None and path else None
        if record is None:
            return None
        identity = self._identity(kind, local_path)
        foreign = sorted(name for name, value in identity.items()
                         if getattr(record, name) != value)
        if foreign:
            logger.warning("ignoring checkpoint %s: it is the record of another transfer (%s "
                           "differ); leaving what it names alone", path, ", ".join(foreign))
            return None
        return record

    def save_checkpoint(self, path: Path | None, progress: TransferProgress) -> None:
        """Write the whole record (at the start, on resume); no-op if not resumable."""
        if self.store is None or path is None:
            return
        with self._state_lock:
            self.store.save(path, progress)

    def record_part(
        self, path: Path | None, progress: TransferProgress, part_number: int, etag: str,
        size: int, md5: str | None = None,
    ) -> None:
        """Note a finished part in ``progress``, append it to the checkpoint (one line, so
        checkpoint writes grow linearly with the parts), and report its bytes.

        ``md5`` is the base64 MD5 of the local bytes sent for the part (its Content-MD5).
        """
        with self._state_lock:
            if part_number not in progress.parts_completed:
                progress.transferred += size
            progress.parts_completed[part_number] = etag
            if md5 is not None:
                progress.part_md5s[part_number] = md5
            progress.last_update = utc_now()
            if self.store is not None and path is not None:
                self.store.append_part(path, part_number, etag, size, md5)
        self.tracker.update(size)

    @contextlib.contextmanager
    def holding_checkpoint(self, path: Path | None, description: str) -> Iterator[None]:
        """Hold the checkpoint's lock for the block (a second transfer of the same file gets
        ``TransferInProgressError``); make appended lines durable when the block ends.

        If the block raised, a failure to flush is logged and the block's error propagates."""
        if self.store is None or path is None:
            yield
            return
        with self.store.lock(path, description=description):
            try:
                yield
            except BaseException:
                self.quietly(lambda: self.store.flush(path), f"flush the checkpoint {path}")
                raise
            self.store.flush(path)

    @contextlib.contextmanager
    def journaling_data_of(self, path: Path | None, data_fd: int) -> Iterator[None]:
        """For the block, the checkpoint's lines record ranges of the file open as
        ``data_fd``: none is written before that file is fsynced (see ``checkpoint.py``)."""
        if self.store is None or path is None:
            yield
            return
        with self.store.data_file(path, data_fd):
            yield

    def quietly(self, cleanup: Callable[[], object], what: str) -> None:
        """Run one cleanup step after a failure; if it fails too, log that and return, so
        the error that stopped the transfer is the one the caller sees."""
        try:
            cleanup()
        except Exception as error:
            logger.error("after a failed transfer of %s/%s, could not %s: %s: %s",
                         self.bucket, self.key, what, type(error).__name__, error)

    @contextlib.contextmanager
    def reported_as(
        self, what: str, error_class: type[errors.TransferError],
        cleanup: Callable[[BaseException], object] | None = None,
    ) -> Iterator[None]:
        """Run the block; if it fails, run ``cleanup(error)`` and raise what :meth:`failure`
        says (the error itself, or ``error_class`` naming ``what`` and the attempts)."""
        try:
            yield
        except BaseException as error:
            if cleanup is not None:
                cleanup(error)
            final = self.failure(error, what, error_class)
            if final is error:
                raise
            raise final from error

    def failure(self, error: BaseException, what: str, error_class: type[errors.TransferError]):
        """The exception to raise for a failed transfer.

        Cancellation and errors that retrying cannot fix (bad credentials, missing bucket,
        invalid input, local I/O) propagate as they are, so callers can still catch
        ``PermissionError`` or ``FileNotFoundError``; transient errors that outlasted the retry
        policy become ``error_class`` naming what was tried.
        """
        if isinstance(error, errors.TransferError) or not self.config.retry_policy.is_retryable(
            error
        ):
            return error
        attempts = self.config.retry_policy.max_attempts
        return error_class(
            f"{what} failed after up to {attempts} attempts per part: "
            f"{type(error).__name__}: {error}",
            operation=what.split(" ")[0], bucket=self.bucket, key=self.key,
        )
