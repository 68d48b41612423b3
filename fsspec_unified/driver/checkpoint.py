"""``CheckpointStore``: where resumable transfers keep their ``TransferProgress`` on disk.

One JSON file per transfer, named by a hash of what identifies it (direction, provider,
endpoint, bucket, key and local path), so a rerun of the same transfer finds its record. The
record itself holds what must still match for it to apply (for uploads the local file's size
and mtime, for downloads the object's ETag and size); a record that no longer matches is
found, reported and replaced rather than silently ignored. Writes are atomic
(temporary file, then rename) and the files are readable by their owner only; they hold no
credentials. A record that cannot be parsed is reported and discarded, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from .models import TransferProgress

logger = logging.getLogger("fsspec_unified.transfer")

_APP_DIR = "fsspec-unified"


def default_checkpoint_dir() -> Path:
    """``$XDG_CACHE_HOME/fsspec-unified/checkpoints`` (``~/.cache`` when unset)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache_home) / _APP_DIR / "checkpoints"


class CheckpointStore:
    """Load, save and delete transfer checkpoints in one directory."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_checkpoint_dir()

    def path_for(self, **identity: object) -> Path:
        """The checkpoint file for the transfer described by ``identity`` (JSON-able values)."""
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return self.directory / f"{identity.get('kind', 'transfer')}-{digest[:40]}.json"

    def load(self, path: Path) -> TransferProgress | None:
        """The saved progress, or ``None`` if there is none or it is unreadable (then removed)."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return TransferProgress.from_json(text)
        except ValueError as error:
            logger.warning("discarding unreadable checkpoint %s: %s", path, error)
            self.delete(path)
            return None

    def save(self, path: Path, progress: TransferProgress) -> None:
        """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(progress.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)

    def delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
