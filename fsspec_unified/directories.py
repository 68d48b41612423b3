"""Deleting and directories for ``UnifiedFileSystem`` (a mixin, to keep each file readable).

``rm`` deletes in batches of the provider's ``max_delete_batch``, concurrently; a directory
in the expansion loses its ``dir/`` marker key (not ``dir``), markers after the objects they
contain. ``rm(path)`` of one path that matches nothing raises ``FileNotFoundError``; a list of
paths is a bulk delete where keys already gone are ignored (S3's DeleteObjects semantics, as
s3fs). ``mkdir`` of a deeper path writes no marker (as s3fs); ``rmdir`` of a prefix that
still holds objects raises ``FileExistsError`` (as s3fs), of an empty directory deletes its
marker, of an empty bucket deletes the bucket.
"""

from __future__ import annotations

import os
from glob import has_magic
from itertools import islice
from typing import Any

from .observability.scope import observed


class DirectoryOperations:
    """``rm``, ``rm_file``, ``mkdir``, ``makedirs`` and ``rmdir`` over the driver.

    Expects the host class to provide ``client``, ``find``, ``info``, ``expand_path``,
    ``split_path``, ``_object_path``, ``_bucket_exists``, ``_map`` and ``invalidate_cache``.
    """

    @observed("rm_file")
    def rm_file(self, path: str) -> None:
        bucket, key, _ = self._object_path(path)
        if not self.client.object_exists(bucket, key):
            raise FileNotFoundError(path)
        self.client.delete_object(bucket, key)
        self.invalidate_cache(path)

    @observed("rm", bulk=True)
    def rm(self, path, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete paths in batches (concurrently); buckets only with ``recursive``.

        A directory in the expansion loses its ``dir/`` marker key (not ``dir``). One path
        that matches nothing raises ``FileNotFoundError``; a list of paths is a bulk delete
        where keys already gone are ignored.
        """
        types = self._expand_typed(path, recursive, maxdepth)
        objects: list[tuple[str, str]] = []
        markers: list[tuple[str, str]] = []
        buckets = []
        for name, kind in types.items():
            bucket, key = self.split_path(name)
            if not key:
                buckets.append(bucket)
            elif kind == "directory":
                markers.append((bucket, key + "/"))
            else:
                objects.append((bucket, key))
        # After the objects they contain, deepest first.
        markers.sort(key=lambda item: item[1].count("/"), reverse=True)
        self._delete_keys(objects)
        self._delete_keys(markers)
        for name in types:
            self.invalidate_cache(name)
        if recursive:
            for bucket in buckets:
                self.rmdir(bucket)

    def _expand_typed(self, path, recursive: bool, maxdepth: int | None) -> dict[str, str]:
        """``{name: "file" | "directory"}`` of what ``rm`` removes (fsspec's expansion,
        keeping the types the listing saw so that a marker-only directory is known)."""
        if isinstance(path, (str, os.PathLike)) and not has_magic(str(path)):
            path = self._strip_protocol(path)
            types = {}
            if recursive:
                found = self.find(path, maxdepth=maxdepth, withdirs=True, detail=True)
                types = {name: entry["type"] for name, entry in found.items()}
            if path not in types:
                try:
                    types[path] = self.info(path)["type"]
                except FileNotFoundError:
                    if not types:
                        raise
            return types
        names = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        directories = directories_among(self, names)
        return {name: "directory" if name in directories else "file" for name in names}

    def _delete_keys(self, keys: list[tuple[str, str]]) -> None:
        """Batch-delete ``(bucket, key)`` pairs, batches running concurrently."""
        limit = self.client.capabilities.max_delete_batch
        by_bucket: dict[str, list[str]] = {}
        for bucket, key in keys:
            by_bucket.setdefault(bucket, []).append(key)
        batches = [
            (bucket, bucket_keys[start:start + limit])
            for bucket, bucket_keys in by_bucket.items()
            for start in range(0, len(bucket_keys), limit)
        ]
        results = self._map(
            lambda batch: self.transfers.request(self.client,
                                                 lambda: self.client.delete_objects(*batch),
                                                 "delete_objects", bucket=batch[0]),
            batches,
        )
        failures = [failure for result in results for failure in result.failures]
        if failures:
            first = failures[0]
            raise OSError(
                f"could not delete {len(failures)} object(s), e.g. {first.key}: "
                f"{first.code} {first.message}"
            )

    @observed("mkdir")
    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create a bucket; for a deeper path only its bucket if missing (as s3fs: no
        marker object is written, a prefix exists through its objects)."""
        bucket, key = self.split_path(path)
        if key:
            if not self._bucket_exists(bucket):
                if not create_parents:
                    raise FileNotFoundError(bucket)
                self.client.create_bucket(bucket, kwargs.get("region"))
                self.invalidate_cache("")
            return
        self.client.create_bucket(bucket, kwargs.get("region"))
        self.invalidate_cache("")

    @observed("makedirs")
    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        bucket, key = self.split_path(path)
        if not self._bucket_exists(bucket):
            self.client.create_bucket(bucket)
            self.invalidate_cache("")
        elif not key and not exist_ok:
            raise FileExistsError(path)

    @observed("rmdir")
    def rmdir(self, path: str) -> None:
        """Delete an empty bucket, or the marker of an empty directory.

        A prefix that still holds objects raises ``FileExistsError`` (as s3fs; remove it with
        ``rm(path, recursive=True)``), an object raises ``NotADirectoryError``, a path that
        is nothing raises ``FileNotFoundError``.
        """
        bucket, key = self.split_path(path)
        if not key:
            self.client.delete_bucket(bucket)
            self.invalidate_cache(bucket)
            self.invalidate_cache("")
            return
        if self.info(path)["type"] == "file":
            raise NotADirectoryError(path)
        marker = key + "/"
        contents = islice(self.client.list_objects(bucket, marker, page_size=2), 2)
        if any(item.key != marker for item in contents):
            raise FileExistsError(f"{path} is not empty; use rm(path, recursive=True)")
        self.client.delete_object(bucket, marker)
        self.invalidate_cache(path)


def directories_among(fs: Any, paths: list[str]) -> set[str]:
    """The paths of an expansion that are directories: those that contain another one."""
    return set(paths) & {fs._parent(name) for name in paths}
