"""``UnifiedFileSystem``: the fsspec filesystem over every backend, registered as ``unified``.

Paths are ``bucket/key`` (``unified://`` optional); the root lists buckets; "directories" are
key prefixes, shown from common prefixes. Everything goes through the driver interface
(:class:`~fsspec_unified.driver.base_oss.BaseOSSClient`): this module never imports an SDK.
Bulk operations (``cat``, ``put``, ``get``, ``rm`` of many paths) run on a thread pool bounded
by ``max_workers``; ``put_file``/``get_file`` go through the transfer manager; the listing
cache is invalidated by every write, copy and delete, so ``ls``/``info``/``exists`` never
show stale results after this instance changed something.

Decisions: ``created`` returns an object's last-modified time (objects are immutable, so
the last write created them) and a bucket's creation date; ``mkdir`` of a bucket path creates
the bucket, of a deeper path does nothing (prefixes exist through their objects);
``checksum``/``ukey`` come from the ETag, never from reading the data.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractFileSystem

from .buffered_file import UnifiedFile
from .driver import create_client
from .driver.callbacks import as_fsspec_callback
from .driver.exceptions import (
    BucketNotFoundError,
    InvalidArgumentError,
    ObjectNotFoundError,
)
from .driver.transfer_config import choose_part_size
from .driver.transfer_manager import TransferManager
from .driver.types import ObjectInfo
from .storage_options import parse_storage_options

T = TypeVar("T")
R = TypeVar("R")

PROTOCOL = "unified"


class UnifiedFileSystem(AbstractFileSystem):
    """fsspec filesystem over S3, MinIO and Aliyun OSS (see the module docstring).

    Storage options: ``provider`` (``s3``/``aws``, ``minio``, ``oss``/``aliyun``), every
    ``OSSConfig`` field, the s3fs aliases ``key``, ``secret``, ``token``, ``endpoint_url``,
    ``client_kwargs``, and ``block_size``, ``max_workers``, ``rate_limit_bytes_per_s``,
    ``resumable``, ``checkpoint_dir`` (see
    :class:`~fsspec_unified.storage_options.FilesystemOptions`).
    """

    protocol = (PROTOCOL,)
    root_marker = ""

    def __init__(self, **storage_options: Any) -> None:
        super().__init__(**storage_options)
        config, self.options = parse_storage_options(storage_options)
        self.client = create_client(config)
        self.transfers = TransferManager(self.options.transfer_config())

    # -- paths ---------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> str | list[str]:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3:]
        return path.strip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        """``(bucket, key)`` of a path; the key is ``""`` for a bucket itself."""
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key

    def _object_path(self, path: str) -> tuple[str, str]:
        bucket, key = self.split_path(path)
        if not key:
            raise IsADirectoryError(f"{path!r} is a bucket, not an object")
        return bucket, key

    # -- listing -------------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any):
        path = self._strip_protocol(path)
        entries = None if refresh else self._ls_from_cache(path)
        if entries and len(entries) == 1 and entries[0]["name"] == path and (
            entries[0]["type"] == "directory"
        ):
            entries = None  # the parent's listing knows the directory, not its contents
        if entries is None:
            entries = self._list_directory(path)
            self.dircache[path] = entries
        if not entries and path:
            info = self.info(path)  # an object, or a directory that exists but is empty
            entries = [info] if info["type"] == "file" else []
        return entries if detail else [entry["name"] for entry in entries]

    def _list_directory(self, path: str) -> list[dict]:
        if not path:
            return [self._bucket_entry(b.name, b.creation_date) for b in self.client.list_buckets()]
        bucket, key = self.split_path(path)
        prefix = f"{key}/" if key else ""
        return [
            self._entry(bucket, item)
            for item in self.client.list_objects(bucket, prefix, delimiter="/")
            if item.key != prefix  # a "directory marker" object is the directory itself
        ]

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False,
             detail: bool = False, prefix: str = "", **kwargs: Any):
        """All objects under ``path`` in one flat listing (no per-directory requests)."""
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail,
                                **kwargs)
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            return super().find(path, withdirs=withdirs, detail=detail, **kwargs)
        base = f"{key}/" if key else ""
        found: dict[str, dict] = {}
        for item in self.client.list_objects(bucket, base + prefix):
            if item.key == base:
                continue
            entry = self._entry(bucket, item)
            found[entry["name"]] = entry
            if withdirs:
                self._add_parent_directories(found, entry["name"], path)
        if not found and key and not prefix:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = None
            if info is not None and info["type"] == "file":
                found[path] = info
        if withdirs and path and found and self.isdir(path):
            found.setdefault(path, self._directory_entry(path))
        names = sorted(found)
        return {name: found[name] for name in names} if detail else names

    def _add_parent_directories(self, found: dict[str, dict], name: str, root: str) -> None:
        parent = self._parent(name)
        while parent and len(parent) > len(root) and parent not in found:
            found[parent] = self._directory_entry(parent)
            parent = self._parent(parent)

    def info(self, path: str, **kwargs: Any) -> dict:
        path = self._strip_protocol(path)
        if not path:
            return self._directory_entry("")
        cached = self._info_from_parent_cache(path)
        if cached is not None:
            return cached
        bucket, key = self.split_path(path)
        if not key:
            if self.client.bucket_exists(bucket):
                return self._directory_entry(bucket)
            raise FileNotFoundError(path)
        try:
            return self._entry(bucket, self.client.head_object(bucket, key))
        except (ObjectNotFoundError, BucketNotFoundError):
            pass
        for _ in self.client.list_objects(bucket, key + "/", page_size=1):
            return self._directory_entry(path)
        raise FileNotFoundError(path)

    def _info_from_parent_cache(self, path: str) -> dict | None:
        listing = self._ls_from_cache(self._parent(path))
        if listing is None:
            return None
        for entry in listing:
            if entry["name"] == path:
                return entry
        return None

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
        except (FileNotFoundError, InvalidArgumentError):
            return False
        return True

    # -- entries -------------------------------------------------------------------------

    @staticmethod
    def _directory_entry(name: str) -> dict:
        return {"name": name, "size": 0, "type": "directory"}

    def _bucket_entry(self, name: str, created: datetime | None) -> dict:
        entry = self._directory_entry(name)
        entry["CreationDate"] = created
        return entry

    def _entry(self, bucket: str, item: ObjectInfo) -> dict:
        name = f"{bucket}/{item.key}".rstrip("/")
        if item.is_prefix:
            return self._directory_entry(name)
        return {
            "name": name,
            "size": item.size,
            "type": "file",
            "ETag": item.etag,
            "LastModified": item.last_modified,
            "ContentType": item.content_type,
            "StorageClass": item.storage_class,
            "metadata": dict(item.metadata),
        }

    # -- reading -------------------------------------------------------------------------

    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 **kwargs: Any) -> bytes:
        bucket, key = self._object_path(path)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.size(path)
            start = max(0, size + start) if start is not None and start < 0 else start
            end = max(0, size + end) if end is not None and end < 0 else end
        if start is not None and end is not None and end <= start:
            return b""
        return self.client.get_object(bucket, key, start, end)

    def cat(self, path, recursive: bool = False, on_error: str = "raise", **kwargs: Any):
        """Fetch many objects concurrently; directories in the expansion are skipped."""
        paths = self.expand_path(path, recursive=recursive)
        directories = _directories_among(self, paths)
        paths = [name for name in paths if name not in directories]
        if len(paths) == 1 and paths[0] == self._strip_protocol(path) and not recursive:
            return self.cat_file(paths[0], **kwargs)

        def fetch(name: str):
            try:
                return self.cat_file(name, **kwargs)
            except Exception as error:
                if on_error == "raise":
                    raise
                return error

        contents = self._map(fetch, paths)
        return {name: data for name, data in zip(paths, contents, strict=True)
                if on_error != "omit" or not isinstance(data, Exception)}

    def cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", **kwargs):
        def fetch(args):
            name, start, end = args
            try:
                return self.cat_file(name, start, end)
            except Exception as error:
                if on_error == "raise":
                    raise
                return error

        if not isinstance(starts, list):
            starts = [starts] * len(paths)
        if not isinstance(ends, list):
            ends = [ends] * len(paths)
        return self._map(fetch, list(zip(paths, starts, ends, strict=True)))

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None,
              autocommit: bool = True, cache_options: dict | None = None,
              **kwargs: Any) -> UnifiedFile:
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(f"mode {mode!r} is not supported (object stores have no append)")
        return UnifiedFile(self, path, mode, block_size=block_size or "default",
                           autocommit=autocommit, cache_options=cache_options, **kwargs)

    def get_file(self, rpath: str, lpath: str, callback=DEFAULT_CALLBACK, outfile=None,
                 **kwargs: Any) -> None:
        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        bucket, key = self._object_path(rpath)
        os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
        self.transfers.download_file(self.client, key, lpath, callback,
                                     bucket=bucket)

    def get(self, rpath, lpath, recursive=False, callback=DEFAULT_CALLBACK, maxdepth=None,
            **kwargs: Any) -> None:
        calls = _collect_transfers(AbstractFileSystem.get, self, rpath, lpath, recursive,
                                   maxdepth, kwargs)
        self._run_transfers(self.get_file, calls, callback)

    # -- writing -------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write ``value``; ``mode="create"`` fails with ``FileExistsError`` if ``path`` exists."""
        bucket, key = self._object_path(path)
        if mode not in ("overwrite", "create"):
            raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
        if mode == "create" or len(value) <= self.options.block_size:
            self.client.put_object(bucket, key, value, overwrite=mode == "overwrite")
        else:
            self.transfers.upload_stream(self.client, io.BytesIO(value), key, bucket=bucket)
        self.invalidate_cache(path)

    def pipe(self, path, value=None, **kwargs: Any) -> None:
        """Write one value, or a ``{path: bytes}`` mapping concurrently."""
        if isinstance(path, str):
            self.pipe_file(self._strip_protocol(path), value, **kwargs)
            return
        self._map(lambda item: self.pipe_file(self._strip_protocol(item[0]), item[1], **kwargs),
                  list(path.items()))

    def put_file(self, lpath: str, rpath: str, callback=DEFAULT_CALLBACK, **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            return  # prefixes need no creating
        bucket, key = self._object_path(rpath)
        self.transfers.upload_file(self.client, lpath, key, callback,
                                   bucket=bucket)
        self.invalidate_cache(rpath)

    def put(self, lpath, rpath, recursive=False, callback=DEFAULT_CALLBACK, maxdepth=None,
            **kwargs: Any) -> None:
        calls = _collect_transfers(AbstractFileSystem.put, self, lpath, rpath, recursive,
                                   maxdepth, kwargs)
        self._run_transfers(self.put_file, calls, callback)

    def _run_transfers(self, transfer_one: Callable, calls: list[tuple], callback) -> None:
        """Run single-file transfers on the pool; ``callback`` counts files, and each file
        gets a branched child callback that counts its bytes (fsspec's convention)."""
        callback = as_fsspec_callback(callback)
        callback.set_size(len(calls))
        lock = threading.Lock()

        def run(call: tuple) -> None:
            source, target, call_kwargs = call
            with callback.branched(source, target) as child:
                transfer_one(source, target, callback=child, **call_kwargs)
            with lock:
                callback.relative_update(1)

        self._map(run, calls)

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        if not truncate and self.exists(path):
            return
        self.pipe_file(path, b"")

    def cp_file(self, path1: str, path2: str, callback=DEFAULT_CALLBACK, **kwargs: Any) -> None:
        """Server-side copy; objects above the provider's single-copy limit are copied
        part by part with UploadPartCopy, concurrently. No bytes pass through the client."""
        src_bucket, src_key = self._object_path(path1)
        dst_bucket, dst_key = self._object_path(path2)
        size = self.info(path1)["size"]
        callback = as_fsspec_callback(callback)
        callback.set_size(size)
        if size <= self._copy_threshold_bytes:
            self.client.copy_object(src_bucket, src_key, dst_bucket, dst_key)
            callback.relative_update(size)
        else:
            self._multipart_copy(src_bucket, src_key, dst_bucket, dst_key, size, callback)
        self.invalidate_cache(path2)

    @property
    def _copy_threshold_bytes(self) -> int:
        return self.client.capabilities.max_single_copy_bytes

    def _multipart_copy(self, src_bucket, src_key, dst_bucket, dst_key, size, callback) -> None:
        part_size = choose_part_size(size, max(self.options.block_size, 64 * 2**20),
                                     self.client.capabilities)
        upload_id = self.client.create_multipart_upload(dst_bucket, dst_key)
        ranges = [(n + 1, start, min(start + part_size, size))
                  for n, start in enumerate(range(0, size, part_size))]

        lock = threading.Lock()

        def copy_part(args):
            number, start, end = args
            part = self.client.upload_part_copy(dst_bucket, dst_key, upload_id, number,
                                                src_bucket, src_key, start, end)
            with lock:
                callback.relative_update(end - start)
            return part

        try:
            parts = self._map(copy_part, ranges)
            self.client.complete_multipart_upload(dst_bucket, dst_key, upload_id, parts)
        except BaseException:
            self.client.abort_multipart_upload(dst_bucket, dst_key, upload_id)
            raise

    # -- deleting and directories --------------------------------------------------------

    def rm_file(self, path: str) -> None:
        bucket, key = self._object_path(path)
        if not self.client.object_exists(bucket, key):
            raise FileNotFoundError(path)
        self.client.delete_object(bucket, key)
        self.invalidate_cache(path)

    def rm(self, path, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete paths in batches (concurrently); buckets only with ``recursive``.

        Directories in the expansion also lose their ``dir/`` marker key: consoles create
        such markers on S3 and OSS, and some servers list a prefix until it is deleted.
        """
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        directories = _directories_among(self, paths)
        objects: list[tuple[str, str]] = []
        markers: list[tuple[str, str]] = []
        buckets = []
        for name in paths:
            bucket, key = self.split_path(name)
            if not key:
                buckets.append(bucket)
            elif name in directories:
                markers.append((bucket, key + "/"))
            else:
                objects.append((bucket, key))
        # After the objects they contain, deepest first.
        markers.sort(key=lambda item: item[1].count("/"), reverse=True)
        self._delete_keys(objects)
        self._delete_keys(markers)
        for name in paths:
            self.invalidate_cache(name)
        if recursive:
            for bucket in buckets:
                self.rmdir(bucket)

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
        results = self._map(lambda batch: self.client.delete_objects(*batch), batches)
        failures = [failure for result in results for failure in result.failures]
        if failures:
            first = failures[0]
            raise OSError(
                f"could not delete {len(failures)} object(s), e.g. {first.key}: "
                f"{first.code} {first.message}"
            )

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        bucket, key = self.split_path(path)
        if key:
            if not create_parents and not self.exists(bucket):
                raise FileNotFoundError(bucket)
            if create_parents and not self.client.bucket_exists(bucket):
                self.client.create_bucket(bucket, kwargs.get("region"))
            return
        self.client.create_bucket(bucket, kwargs.get("region"))
        self.invalidate_cache("")

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        bucket, key = self.split_path(path)
        if not self.client.bucket_exists(bucket):
            self.client.create_bucket(bucket)
            self.invalidate_cache("")
        elif not key and not exist_ok:
            raise FileExistsError(path)

    def rmdir(self, path: str) -> None:
        """Delete an empty bucket; for a deeper path, nothing (a prefix vanishes with its
        last object) unless the path is an object, which is not a directory."""
        bucket, key = self.split_path(path)
        if key:
            if self.isfile(path):
                raise NotADirectoryError(path)
            return
        self.client.delete_bucket(bucket)
        self.invalidate_cache(bucket)
        self.invalidate_cache("")

    # -- metadata and URLs ---------------------------------------------------------------

    def modified(self, path: str) -> datetime:
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(path)
        return info["LastModified"]

    def created(self, path: str) -> datetime:
        bucket, key = self.split_path(path)
        if key:
            return self.modified(path)
        for item in self.client.list_buckets():
            if item.name == bucket:
                return item.creation_date
        raise FileNotFoundError(path)

    def ukey(self, path: str) -> str:
        return self.info(path)["ETag"]

    def checksum(self, path: str) -> int:
        return int(self.ukey(path).split("-")[0], 16)

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        bucket, key = self._object_path(path)
        return self.client.presigned_url(bucket, key, kwargs.get("method", "GET"), expiration)

    def invalidate_cache(self, path: str | None = None) -> None:
        if path is None:
            self.dircache.clear()
            return
        path = self._strip_protocol(path)
        while True:
            self.dircache.pop(path, None)
            if not path:
                return
            path = self._parent(path)

    # -- helpers -------------------------------------------------------------------------

    def _map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``function`` over ``items`` on at most ``max_workers`` threads, in order."""
        items = list(items)
        if len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(min(self.options.max_workers, len(items)),
                                thread_name_prefix="unified-bulk") as pool:
            return list(pool.map(function, items))



class _TransferCollector:
    """Stands in for the filesystem while fsspec's ``put``/``get`` expand their paths, and
    records the single-file transfers they would make instead of making them one by one."""

    def __init__(self, fs: UnifiedFileSystem) -> None:
        self._fs = fs
        self.calls: list[tuple[str, str, dict]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def _record(self, source: str, target: str, callback=None, **kwargs: Any) -> None:
        self.calls.append((source, target, kwargs))

    put_file = get_file = _record


def _directories_among(fs: UnifiedFileSystem, paths: list[str]) -> set[str]:
    """The paths of an expansion that are directories: those that contain another one."""
    return set(paths) & {fs._parent(name) for name in paths}


def _collect_transfers(method, fs, source, target, recursive, maxdepth, kwargs):
    collector = _TransferCollector(fs)
    method(collector, source, target, recursive=recursive, maxdepth=maxdepth, **kwargs)
    return collector.calls
