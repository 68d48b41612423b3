"""What ``sync`` copies, skips and deletes: both trees listed once, compared file by file.

A file is copied when it is missing at the destination, or when it differs:

1. the sizes differ: copy;
2. the sizes are equal and the content can be compared: equal ETags mean equal content, and
   when one side's ETag is an MD5 (32 hex digits: a single-part upload), a local file's MD5 is
   computed to compare with it; different digests: copy, equal: skip;
3. otherwise (a multipart ETag against a local file, say) the times decide: copy when the
   source was modified after the destination.

``sync`` sets a downloaded file's modification time to the object's, so by rule 3 a second
run copies nothing in either direction. An ETag that looks like an MD5 but is not one (some
server-side encryption) only makes ``sync`` copy a file again, never skip a changed one.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from ..filesystem import UnifiedFileSystem
from ..paths import check_local_targets
from .locations import Location

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_HASH_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FileState:
    """One file of a tree: what the comparison needs. ``etag`` is set for objects,
    ``local_path`` for local files (its MD5 is computed only when needed)."""

    size: int
    mtime_s: float
    etag: str | None = None
    local_path: str | None = None


@dataclass
class SyncPlan:
    """Relative names (``/``-separated) in each group, and the sizes to total them."""

    copy: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)

    def bytes_of(self, names: list[str]) -> int:
        return sum(self.sizes[name] for name in names)


def list_tree(fs: UnifiedFileSystem, location: Location) -> dict[str, FileState]:
    """Every file under ``location`` by its name relative to it; a missing local directory
    is an empty tree (a destination not made yet), a file is refused (``sync`` copies
    directories)."""
    if location.remote:
        return _remote_tree(fs, location.path.strip("/"))
    return _local_tree(location.path)


def locations_under(root: Location, names: list[str]) -> list[Location]:
    """``names`` (relative, from a listing) as locations under ``root``. Under a local root
    each must stay inside it: object keys are data from the server, and ``..`` in one must
    not choose where a file is written or deleted (the filesystem's own check, in
    :func:`fsspec_unified.paths.check_local_targets`, raising ``UnsafeLocalPathError``)."""
    locations = [root.child(name) for name in names]
    if not root.remote:
        check_local_targets([(name, location.path, {})
                             for name, location in zip(names, locations, strict=True)],
                            root.path)
    return locations


def plan_sync(source: dict[str, FileState], destination: dict[str, FileState],
              delete: bool) -> SyncPlan:
    plan = SyncPlan()
    for name, state in sorted(source.items()):
        plan.sizes[name] = state.size
        target = destination.get(name)
        if target is None or needs_copy(state, target):
            plan.copy.append(name)
        else:
            plan.skip.append(name)
    if delete:
        for name, state in sorted(destination.items()):
            if name not in source:
                plan.delete.append(name)
                plan.sizes[name] = state.size
    return plan


def needs_copy(source: FileState, destination: FileState) -> bool:
    """The rule of the module docstring."""
    if source.size != destination.size:
        return True
    same = _same_content(source, destination)
    if same is not None:
        return not same
    return source.mtime_s > destination.mtime_s


def _same_content(first: FileState, second: FileState) -> bool | None:
    """Whether two files of one size hold the same bytes, or ``None`` when no digest
    compares them."""
    if first.etag is not None and first.etag == second.etag:
        return True
    first_md5, second_md5 = _etag_md5(first.etag), _etag_md5(second.etag)
    if first_md5 is None and second_md5 is None:
        return None
    if first_md5 is None and first.local_path is not None:
        first_md5 = _file_md5(first.local_path)
    if second_md5 is None and second.local_path is not None:
        second_md5 = _file_md5(second.local_path)
    if first_md5 is None or second_md5 is None:
        return None
    return first_md5 == second_md5


def _etag_md5(etag: str | None) -> str | None:
    if etag is None:
        return None
    etag = etag.strip('"').lower()
    return etag if _MD5_ETAG.fullmatch(etag) else None


def _file_md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _remote_tree(fs: UnifiedFileSystem, root: str) -> dict[str, FileState]:
    tree = {}
    for name, entry in fs.find(root, detail=True).items():
        if name == root:
            raise NotADirectoryError(f"unified://{root} is an object, not a directory")
        tree[name[len(root) + 1:]] = FileState(
            size=entry["size"], mtime_s=entry["LastModified"].timestamp(), etag=entry["ETag"])
    return tree


def _local_tree(root: str) -> dict[str, FileState]:
    if os.path.isfile(root):
        raise NotADirectoryError(f"{root} is a file, not a directory")
    tree = {}
    for directory, _, files in os.walk(root):
        for file_name in files:
            path = os.path.join(directory, file_name)
            stat = os.stat(path)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            tree[name] = FileState(size=stat.st_size, mtime_s=stat.st_mtime, local_path=path)
    return tree
