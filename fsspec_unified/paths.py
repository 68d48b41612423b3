"""Paths of ``UnifiedFileSystem``: versioned object paths, and local targets kept inside.

Two concerns that are pure string work and need no server:

* ``bucket/key?versionId=...`` (s3fs's spelling of one version of an object) is split into
  bucket, key and version id by :func:`split_version_suffix`.
* :func:`check_local_targets` refuses a download whose local target would land outside the
  destination the caller named. Object keys are data from the server, and a key such as
  ``a/../../etc/x``, ``/etc/x`` or (on Windows) ``..\\x`` must never choose where a file is
  written. The check is the project's own, whatever fsspec's path mapping does.
"""

from __future__ import annotations

import ntpath
import os
import posixpath

from .driver.exceptions import UnsafeLocalPathError

VERSION_MARKER = "?versionId="


def split_version_suffix(path: str) -> tuple[str, str | None]:
    """``(path, version_id)`` of ``bucket/key?versionId=...``; ``version_id`` is ``None``
    when the path names no version."""
    base, marker, version_id = path.partition(VERSION_MARKER)
    if not marker:
        return path, None
    if not version_id:
        raise ValueError(f"{path!r}: empty versionId")
    return base, version_id


def check_local_targets(calls: list[tuple[str, str, dict]], destination: str) -> None:
    """Raise :class:`UnsafeLocalPathError` if any ``(remote, local, kwargs)`` transfer would
    write outside ``destination`` (or, for a single file, anywhere but ``destination``).

    Checked before anything is written, on the normalised paths: every local target must
    resolve to ``destination`` itself or a path below it, so ``..`` components in a key
    (``\\`` separators too, on Windows) or an absolute key cannot climb out, while a
    destination that itself contains ``..`` (``get(..., "../out")``) works.
    """
    root = os.path.abspath(destination)
    for remote, local, _ in calls:
        if not _inside(os.path.abspath(local), root):
            raise UnsafeLocalPathError(
                f"refusing to download {remote!r}: its local path {local!r} is outside the "
                f"destination {destination!r} (the key contains '..', an absolute path or a "
                "separator that escapes)"
            )


def _inside(path: str, root: str) -> bool:
    pathmod = ntpath if os.sep == "\\" else posixpath
    path, root = pathmod.normcase(path), pathmod.normcase(root)
    if path == root:
        return True
    try:
        return pathmod.commonpath([path, root]) == root
    except ValueError:  # different drives on Windows
        return False
