"""``CheckpointStore``: where resumable transfers keep their ``TransferProgress`` on disk.

One checkpoint per transfer, named by a hash of what identifies it (direction, provider,
endpoint, bucket, key and local path), so a rerun of the same transfer finds its record. The
record holds what must still match for it to apply (for uploads the local file's size and
mtime and each part's MD5, for downloads the object's ETag and size); a record that no longer
matches is found, reported and replaced rather than silently ignored. The files are readable by
their owner only and hold no credentials. A record that cannot be parsed is reported and
discarded, never trusted.

Format (``<kind>-<hash>.jsonl``, JSON Lines): the first line is the whole ``TransferProgress``
(written atomically: temporary file, fsync, rename); every later line records one finished
part, ``{"part": n, "etag": "...", "size": bytes, "md5": "<base64>"}``, appended with
``O_APPEND``. So the bytes written grow linearly with the number of parts (rewriting the whole
record per part grew quadratically: about 2 GB at 10,000 parts). Appended lines are fsynced in
batches (every :data:`JOURNAL_FSYNC_EVERY_PARTS` lines or :data:`JOURNAL_FSYNC_INTERVAL_S`
seconds, and when the transfer stops). A crash of the machine loses at most the last batch,
whose parts are then simply sent again. A torn last line (a crash mid-append) is ignored, and
a resumed transfer rewrites its record with :meth:`CheckpointStore.save` before appending, so
a torn tail never merges with the next line.

A line must never claim bytes that may not be on disk. Uploads record parts the server holds,
so their lines are written at once (a crash of the process loses none). A download records
ranges of a local file whose writes sit in the page cache: while the download registers that
file with :meth:`CheckpointStore.data_file`, its lines are held in memory and each batch is
written only after the data file is fsynced (data, then lines, then the journal's fsync), so
no line can reach the disk, even by the kernel's own writeback, ahead of the bytes it
records. A crash of the process then loses the lines of the last batch (at most about
:data:`JOURNAL_FSYNC_INTERVAL_S` of ranges), which are downloaded again.

Locking: :meth:`CheckpointStore.lock` takes an exclusive ``flock`` on ``<kind>-<hash>.lock``
beside the checkpoint for the whole transfer, without waiting. A second transfer of the same
file, from another process or another thread, gets :class:`TransferInProgressError` naming
the pid of the holder, instead of sharing (and trampling) the record, the multipart upload or
the partial file. The lock file is removed when the transfer ends.

Listing: :meth:`CheckpointStore.records` reads every checkpoint of a directory and
:meth:`CheckpointStore.holder_pid` tells a running transfer from an interrupted one, for the
command line's ``transfers`` commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..exceptions import TransferInProgressError
from ..models import TransferProgress

logger = logging.getLogger("fsspec_unified.transfer")

_APP_DIR = "fsspec-unified"
CHECKPOINT_SUFFIX = ".jsonl"
LOCK_SUFFIX = ".lock"
JOURNAL_FSYNC_EVERY_PARTS = 64
JOURNAL_FSYNC_INTERVAL_S = 1.0

try:  # POSIX only; elsewhere transfers run unlocked (documented in README)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def default_checkpoint_dir() -> Path:
    """``$XDG_CACHE_HOME/fsspec-unified/checkpoints`` (``~/.cache`` when unset)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache_home) / _APP_DIR / "checkpoints"


class _Journal:
    """An ``O_APPEND`` descriptor on one checkpoint file, fsynced in batches.

    With ``data_fd`` (the file whose ranges the lines record), lines wait in memory until the
    batch is due; then ``data_fd`` is fsynced first, and only then are they written and fsynced.
    """

    def __init__(self, path: Path, data_fd: int | None = None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self.data_fd = data_fd
        self.pending: list[bytes] = []
        self.unsynced = 0
        self.last_sync = time.monotonic()

    def append(self, line: bytes) -> None:
        if self.data_fd is None:
            os.write(self.fd, line)
        else:
            self.pending.append(line)
        self.unsynced += 1
        if (self.unsynced >= JOURNAL_FSYNC_EVERY_PARTS
                or time.monotonic() - self.last_sync >= JOURNAL_FSYNC_INTERVAL_S):
            self.sync()

    def sync(self) -> None:
        if self.unsynced:
            if self.pending:
                os.fsync(self.data_fd)  # the bytes first: a line may only claim durable data
                os.write(self.fd, b"".join(self.pending))
                self.pending = []
            os.fsync(self.fd)
            self.unsynced = 0
        self.last_sync = time.monotonic()

    def close(self) -> None:
        try:
            self.sync()
        finally:
            os.close(self.fd)


class CheckpointStore:
    """Load, save, append to, lock and delete transfer checkpoints in one directory.

    Thread-safe: the workers of one transfer append through one store.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_checkpoint_dir()
        self._lock = threading.Lock()
        self._journals: dict[Path, _Journal] = {}
        self._data_fds: dict[Path, int] = {}

    def path_for(self, **identity: object) -> Path:
        """The checkpoint file for the transfer described by ``identity`` (JSON-able values)."""
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        kind = identity.get("kind", "transfer")
        return self.directory / f"{kind}-{digest[:40]}{CHECKPOINT_SUFFIX}"

    # -- reading -------------------------------------------------------------------------

    def load(self, path: Path) -> TransferProgress | None:
        """The saved progress with every appended part applied, or ``None`` if there is none
        or it is unreadable (then it is removed)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _parse(data.decode("utf-8"))  # not UTF-8: a UnicodeDecodeError, a ValueError
        except ValueError as error:
            logger.warning("discarding unreadable checkpoint %s: %s", path, error)
            self.delete(path)
            return None

    def records(self) -> list[tuple[Path, TransferProgress]]:
        """Every checkpoint in the directory with its progress, the oldest transfer first
        (what ``fsspec-unified transfers`` lists). Unreadable ones are discarded as by
        :meth:`load`."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"*-*{CHECKPOINT_SUFFIX}"):
            progress = self.load(path)
            if progress is not None:
                found.append((path, progress))
        return sorted(found, key=lambda record: record[1].start_time)

    def holder_pid(self, path: Path) -> int | None:
        """The pid of the live process whose transfer holds ``path``'s lock, if any.

        Read from the lock file without locking it (probing with ``flock`` would make a
        transfer starting at that moment fail with :class:`TransferInProgressError`). A lock
        file left by a killed process names a dead pid, which counts as no holder."""
        try:
            pid = int(path.with_suffix(LOCK_SUFFIX).read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid  # alive, but another user's
        return pid

    # -- writing -------------------------------------------------------------------------

    def save(self, path: Path, progress: TransferProgress) -> None:
        """Write the whole record atomically (a crash leaves the previous one intact); later
        :meth:`append_part` calls add to this record."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(progress.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with self._lock:
            self._close_journal(path)  # it points at the file being replaced
            os.replace(temp, path)

    def append_part(self, path: Path, part_number: int, etag: str, size: int,
                    md5: str | None) -> None:
        """Record one finished part: one line appended to the checkpoint :meth:`save` wrote."""
        line = json.dumps(
            {"part": part_number, "etag": etag, "size": size, "md5": md5},
            separators=(",", ":"),
        ).encode() + b"\n"
        with self._lock:
            journal = self._journals.get(path)
            if journal is None:
                journal = _Journal(path, self._data_fds.get(path))
                self._journals[path] = journal
            journal.append(line)

    @contextlib.contextmanager
    def data_file(self, path: Path, data_fd: int) -> Iterator[None]:
        """For the block, ``path`` records ranges of the file open as ``data_fd``: no line
        is written before that file is fsynced (see the module docs). When the block ends the
        lines are made durable (``data_fd`` first) while the descriptor is still open; if the
        block raised, a failure to do so is logged and the block's exception propagates."""
        with self._lock:
            self._close_journal(path)
            self._data_fds[path] = data_fd
        try:
            yield
        except BaseException:
            try:
                self._release_data_file(path)
            except Exception as error:
                logger.error("could not make the journal of %s durable: %s: %s", path,
                             type(error).__name__, error)
            raise
        self._release_data_file(path)

    def _release_data_file(self, path: Path) -> None:
        with self._lock:
            try:
                self._close_journal(path)
            finally:
                self._data_fds.pop(path, None)

    def flush(self, path: Path) -> None:
        """Make every appended line durable and release the descriptor."""
        with self._lock:
            self._close_journal(path)

    def delete(self, path: Path) -> None:
        with self._lock:
            self._close_journal(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _close_journal(self, path: Path) -> None:
        journal = self._journals.pop(path, None)
        if journal is not None:
            journal.close()

    # -- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, path: Path, *, description: str = "this transfer") -> Iterator[None]:
        """Hold the checkpoint's lock for the duration of the block (see the module docs).

        Raises :class:`TransferInProgressError` at once if another transfer holds it.
        """
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = path.with_suffix(LOCK_SUFFIX)
        fd = _acquire(lock_path, description)
        try:
            yield
        finally:
            # Unlink while holding the lock: a waiter that opened the old file notices (its
            # inode is no longer the one at the path) and retries on a new file. A lock file
            # left behind is harmless (the next transfer locks it), so a failure is only logged.
            try:
                os.unlink(lock_path)
            except FileNotFoundError:
                pass
            except OSError as error:
                logger.warning("could not remove the lock file %s: %s", lock_path, error)
            finally:
                os.close(fd)


def _acquire(lock_path: Path, description: str) -> int:
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder is not None else "another process"
            if holder == os.getpid():
                who = f"another thread of this process ({holder})"
            raise TransferInProgressError(
                f"{description} is already running in {who}; its checkpoint is locked "
                f"({lock_path}). Wait for it to finish, or cancel it, and retry.",
                holder_pid=holder, operation="transfer",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        if current is None or current.st_ino != os.fstat(fd).st_ino:
            os.close(fd)  # the previous holder removed it after we opened it: try again
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None


def _parse(text: str) -> TransferProgress:
    """A record: its first line, then every complete appended part line applied in order."""
    lines = text.split("\n")
    progress = TransferProgress.from_json(lines[0])
    complete_lines = lines[1:-1]  # the text ends with "\n"; anything after it is torn
    if lines[-1].strip():
        logger.warning("ignoring a torn last line in a checkpoint (a crash mid-write)")
    for number, line in enumerate(complete_lines, start=2):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            part_number = int(entry["part"])
            etag, size, md5 = str(entry["etag"]), int(entry["size"]), entry.get("md5")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not a part record: {exc}") from exc
        if part_number not in progress.parts_completed:
            progress.transferred += size
        progress.parts_completed[part_number] = etag
        if md5 is not None:
            progress.part_md5s[part_number] = str(md5)
        else:
            progress.part_md5s.pop(part_number, None)
    return progress
