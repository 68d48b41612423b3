"""``UnifiedFileSystem``: the fsspec filesystem over every backend, registered as ``unified``.

Paths are ``bucket/key`` (``unified://`` optional); the root lists buckets; "directories" are
key prefixes, shown from common prefixes, and a key ending in ``/`` (a directory marker, as
the AWS console, Hadoop or Spark create) is that directory, never a zero-byte file.
Everything goes through the driver interface
(:class:`~fsspec_unified.driver.base_oss.BaseOSSClient`): this module never imports an SDK.
Bulk operations (``cat``, ``put``, ``get``, ``copy``, ``rm`` of many paths) run on a thread pool
bounded by ``max_workers``; ``put_file``/``get_file`` go through the transfer manager; the listing
cache (thread-safe, see :mod:`~fsspec_unified.listing_cache`) is invalidated by every write,
copy and delete.

Behaviour callers may rely on, and where it differs from s3fs (entries: see
:mod:`~fsspec_unified.entries`; deleting and directories: :mod:`~fsspec_unified.directories`):

* ``ls`` returns names unless ``detail=True`` (as s3fs, gcsfs, adlfs and the local fs).
* Reads pin the object: ``cat_ranges`` takes one ETag per path and sends it as ``If-Match``
  with every range; a replaced object raises ``ConcurrentModificationError``.
* Writes: ``ContentType=``/``Metadata=`` (or ``content_type=``/``metadata=``) are honoured,
  the type is guessed from the extension otherwise; ``mode="create"`` is create-only on the
  server (single PUT and multipart). Inside ``with fs.transaction:`` every ``pipe_file``,
  ``put_file``, ``touch`` and ``open(..., "wb")`` becomes visible only at commit; copies and
  deletes are not deferred.
* ``get`` never writes outside its destination (:mod:`~fsspec_unified.paths`).
* ``version_aware=True`` enables ``version_id=`` and ``bucket/key?versionId=...`` paths; on a
  filesystem that is not version aware a ``?`` in a path is part of the key (s3fs silently
  drops the version there and reads the latest object).
* ``checksum``/``ukey`` come from the ETag (and version id), never from reading the data;
  nothing here takes an ETag for an MD5.
"""

from __future__ import annotations

import logging
import mimetypes
import operator
import os
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from hashlib import sha256
from typing import Any, TypeVar

from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractFileSystem
from fsspec.transaction import Transaction
from fsspec.utils import glob_translate, isfilelike

from .buffered_file import UnifiedFile
from .directories import DirectoryOperations, directories_among
from .driver import create_client
from .driver.callbacks import as_fsspec_callback
from .driver.engine.reads import DEFAULT_MERGE_GAP_BYTES
from .driver.exceptions import (
    BucketNotFoundError,
    InvalidArgumentError,
    InvalidRangeError,
    ObjectNotFoundError,
)
from .driver.transfer_manager import TransferManager
from .driver.types import ObjectInfo
from .entries import bucket_entry, directory_entry, object_entry
from .listing_cache import ThreadSafeDirCache
from .observability import ErrorReport, MetricsRegistry, MetricsSnapshot
from .observability.scope import observed, operation
from .paths import VERSION_MARKER, check_local_targets, split_version_suffix
from .storage_options import parse_storage_options

T = TypeVar("T")
R = TypeVar("R")

PROTOCOL = "unified"
logger = logging.getLogger("fsspec_unified.filesystem")
_STREAM_CHUNK_BYTES = 1024 * 1024
_WRITE_MODES = {"overwrite": "wb", "create": "xb"}


class UnifiedTransaction(Transaction):
    """fsspec's transaction; the listing cache is dropped once it ends (either way)."""

    def complete(self, commit: bool = True) -> None:
        fs = self.fs
        try:
            super().complete(commit)
        finally:
            if fs is not None:
                fs.invalidate_cache()


class UnifiedFileSystem(DirectoryOperations, AbstractFileSystem):
    """fsspec filesystem over S3, MinIO and Aliyun OSS (see the module docstring).

    Storage options: ``provider`` (``s3``/``aws``, ``minio``, ``oss``/``aliyun``), every
    ``OSSConfig`` field, the s3fs aliases ``key``, ``secret``, ``token``, ``endpoint_url``,
    ``client_kwargs``, and ``block_size``, ``max_workers``, ``rate_limit_bytes_per_s``,
    ``resumable``, ``checkpoint_dir``, ``version_aware``, ``retry_policy`` (see
    :class:`~fsspec_unified.storage_options.FilesystemOptions`).
    """

    protocol = (PROTOCOL,)
    root_marker = ""
    transaction_type = UnifiedTransaction

    def __init__(self, **storage_options: Any) -> None:
        super().__init__(**storage_options)
        self.dircache = ThreadSafeDirCache(**storage_options)
        config, self.options = parse_storage_options(storage_options)
        self.client = create_client(config)
        if self.options.version_aware and not self.client.capabilities.supports_versioning:
            raise ValueError(
                f"version_aware=True: the {self.client.provider} driver does not support "
                "object versioning"
            )
        self.transfers = TransferManager(self.options.transfer_config())
        self.blocksize = self.options.block_size
        self.default_block_size = self.options.block_size  # the s3fs name
        self.version_aware = self.options.version_aware

    def close(self) -> None:
        """Release the filesystem's worker threads and connection pools.

        fsspec has no way to close a filesystem, and keeps instances cached, so their idle
        threads and pooled connections live as long as the process. Call this once nothing
        else is using the filesystem (no transfer running, no file open); it may still be
        used afterwards: threads and connections are then created again on first use."""
        self.transfers.shutdown()
        self.client.close()

    # -- what it did ---------------------------------------------------------------------

    def metrics(self) -> MetricsSnapshot:
        """Operations, requests, bytes, latency percentiles, errors by code, retries,
        throttling responses and concurrency since the filesystem was made (see
        :mod:`fsspec_unified.observability`; ``.as_dict()`` for JSON)."""
        return self.transfers.metrics()

    def error_report(self, window_s: float = 300.0) -> ErrorReport:
        """Errors by code and by operation, and retries, over the last ``window_s`` seconds."""
        return self.transfers.error_report(window_s)

    @property
    def metrics_registry(self) -> MetricsRegistry:
        """The registry behind :meth:`metrics` (what the exporters read)."""
        return self.transfers.metrics_registry

    def _observe(self, name: str, client: object, path: Any, bulk: bool,
                 kwargs: dict[str, Any]):
        """The operation scope of one call (see :func:`~.observability.scope.observed`)."""
        return operation(self.metrics_registry, name, provider=self.client.provider,
                         **self._observed_target(path), bulk=bulk)

    def _observed_target(self, path: Any) -> dict[str, str | None]:
        if not isinstance(path, str):
            count = len(path) if isinstance(path, (list, tuple, dict)) else None
            return {"bucket": None, "key": None if count is None else f"({count} paths)"}
        try:
            bucket, key = self.split_path(path)
        except (ValueError, TypeError):
            return {"bucket": None, "key": path}
        return {"bucket": bucket or None, "key": key or None}

    @property
    def fsid(self) -> str:
        """Stable per provider and endpoint: two instances on one store share it."""
        endpoint = self.client.config.endpoint_url or "default"
        return f"{PROTOCOL}-{self.client.provider}-{sha256(endpoint.encode()).hexdigest()[:16]}"

    # -- paths ---------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: str | list[str]) -> str | list[str]:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3:]
        return path.strip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        """``(bucket, key)`` of a path; the key is ``""`` for a bucket itself.

        Unlike s3fs's ``split_path`` there is no third element: versions are split off by
        :meth:`split_versioned_path`.
        """
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key

    def split_versioned_path(self, path: str,
                             version_id: str | None = None) -> tuple[str, str, str | None]:
        """``(bucket, key, version_id)``; the version comes from ``version_id=`` or, on a
        version-aware filesystem, from a ``?versionId=`` suffix."""
        path = self._strip_protocol(path)
        path_version = None
        if self.version_aware and VERSION_MARKER in path:
            path, path_version = split_version_suffix(path)
        if version_id is not None and path_version is not None and version_id != path_version:
            raise ValueError(f"{path}: version_id={version_id!r} contradicts the path's "
                             f"versionId={path_version!r}")
        version_id = version_id or path_version
        if version_id is not None and not self.version_aware:
            raise ValueError("version_id needs a version-aware filesystem (version_aware=True)")
        bucket, key = self.split_path(path)
        return bucket, key, version_id

    def _object_path(self, path: str, version_id: str | None = None) -> tuple[str, str,
                                                                             str | None]:
        bucket, key, version_id = self.split_versioned_path(path, version_id)
        if not key:
            raise IsADirectoryError(f"{path!r} is a bucket, not an object")
        return bucket, key, version_id

    # -- listing -------------------------------------------------------------------------

    @observed("ls")
    def ls(self, path: str, detail: bool = False, refresh: bool = False, **kwargs: Any):
        """Names (or, with ``detail=True``, info dicts) directly under ``path``."""
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
            return [bucket_entry(b.name, b.creation_date) for b in self.client.list_buckets()]
        bucket, key = self.split_path(path)
        prefix = f"{key}/" if key else ""
        entries: dict[str, dict] = {}
        for item in self.transfers.list_objects(self.client, bucket, prefix, delimiter="/"):
            if item.key != prefix:  # the directory's own marker is the directory itself
                entry = object_entry(bucket, item)
                entries.setdefault(entry["name"], entry)
        return list(entries.values())

    @observed("find")
    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False,
             detail: bool = False, prefix: str = "", **kwargs: Any):
        """All objects under ``path`` in one flat listing (no per-directory requests).

        ``prefix`` keeps only names starting with ``path/prefix`` (as s3fs). Directory
        markers are directories: listed with ``withdirs=True``, never as files.
        """
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if maxdepth is not None or not bucket:
            found = super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=True,
                                 **kwargs)
            if prefix:
                stem = f"{path}/{prefix}" if path else prefix
                found = {name: entry for name, entry in found.items()
                         if name.startswith(stem)}
            return found if detail else sorted(found)
        base = f"{key}/" if key else ""
        found: dict[str, dict] = {}
        for item in self.transfers.list_objects(self.client, bucket, base + prefix):
            if item.key == base:
                continue
            entry = object_entry(bucket, item)
            if entry["type"] == "file":
                found[entry["name"]] = entry
            elif withdirs:
                found.setdefault(entry["name"], entry)
            if withdirs:
                self._add_parent_directories(found, entry["name"], path)
        if not found and key and not prefix:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = None
            if info is not None and info["type"] == "file":
                found[path] = info
        if withdirs and path and not prefix and self.isdir(path):
            found.setdefault(path, directory_entry(path))
        names = sorted(found)
        return {name: found[name] for name in names} if detail else names

    def _add_parent_directories(self, found: dict[str, dict], name: str, root: str) -> None:
        parent = self._parent(name)
        while parent and len(parent) > len(root) and parent not in found:
            found[parent] = directory_entry(parent)
            parent = self._parent(parent)

    def glob(self, path: str, maxdepth: int | None = None, **kwargs: Any):
        """fsspec's glob; a malformed pattern raises ``ValueError`` before any request."""
        glob_translate(self._strip_protocol(path))
        return super().glob(path, maxdepth=maxdepth, **kwargs)

    @observed("info")
    def info(self, path: str, version_id: str | None = None, **kwargs: Any) -> dict:
        bucket, key, version_id = self.split_versioned_path(path, version_id)
        path = f"{bucket}/{key}" if key else bucket
        if not path:
            return directory_entry("")
        if not key:
            if self._bucket_exists(bucket):
                return directory_entry(bucket)
            raise FileNotFoundError(path)
        if version_id is None and not self.version_aware:
            cached = self._info_from_parent_cache(path)
            if cached is not None:
                return cached
        try:
            head = self._head(bucket, key, version_id)
            return object_entry(bucket, head)
        except (ObjectNotFoundError, BucketNotFoundError):
            if version_id is not None:
                raise
        for _ in self.transfers.list_objects(self.client, bucket, key + "/", page_size=1):
            return directory_entry(path)
        raise FileNotFoundError(path)

    def _head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """HEAD of one object, retried like every other request of the filesystem."""
        return self.transfers.request(
            self.client, lambda: self.client.head_object(bucket, key, version_id=version_id),
            "head_object", bucket=bucket, key=key,
        )

    def _bucket_exists(self, bucket: str) -> bool:
        """HEAD bucket; a user refused that (403) but allowed to list still sees the bucket.

        s3fs's ``exists`` answers ``False`` there (its second probe, GetBucketLocation, is
        refused too); a one-key listing is a probe such a user passes, so the bucket is
        reported as existing rather than hidden. A user refused both gets ``PermissionError``.
        """
        try:
            return self.client.bucket_exists(bucket)
        except PermissionError:
            try:
                next(iter(self.client.list_objects(bucket, page_size=1)), None)
            except (BucketNotFoundError, ObjectNotFoundError):
                return False
            return True

    def _info_from_parent_cache(self, path: str) -> dict | None:
        listing = self._ls_from_cache(self._parent(path))
        if listing is None:
            return None
        for entry in listing:
            if entry["name"] == path:
                return entry
        return None

    @observed("exists")
    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path, **kwargs)
        except (FileNotFoundError, InvalidArgumentError):
            return False
        return True

    # -- reading -------------------------------------------------------------------------

    @observed("cat_file")
    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 version_id: str | None = None, **kwargs: Any) -> bytes:
        """``data[start:end]`` of the object, as fsspec documents (a Python slice): negative
        bounds count from the end, a range past the end or backwards reads as ``b""``; a bound
        that is not an integer raises ``InvalidRangeError`` before any request."""
        start, end = _slice_bounds(start, end)
        bucket, key, version_id = self._object_path(path, version_id)
        etag = None
        if (start is not None and start < 0) or (end is not None and end < 0):
            head = self._head(bucket, key, version_id)
            etag = head.etag  # the size and the bytes come from the same object
            start, end = _from_end(head.size, start, end)
        if start is not None and end is not None and end <= start:
            return b""
        return self.transfers.read(self.client, key, start or 0, end, bucket=bucket,
                                   if_match=etag, version_id=version_id)

    @observed("cat", bulk=True)
    def cat(self, path, recursive: bool = False, on_error: str = "raise", **kwargs: Any):
        """Fetch many objects concurrently; directories in the expansion are skipped."""
        paths = self.expand_path(path, recursive=recursive)
        directories = directories_among(self, paths)
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

    @observed("cat_ranges", target="paths", bulk=True)
    def cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", **kwargs):
        """Byte ranges of objects, concurrently; the ranges of one path come from one version.

        The ranges of one path are sorted, those closer than ``max_gap`` bytes (default
        1 MiB) are fetched by one request, and the requests run concurrently, all pinned to
        the ETag of the path's first response (``If-Match``): an object replaced meanwhile
        raises ``ConcurrentModificationError`` instead of mixing bytes of two versions. A path
        with ranges counted from the end (negative) or open-ended is sized by one HEAD first.
        With ``on_error="return"`` (fsspec's default here) errors take the place of the bytes.
        """
        if not isinstance(starts, list):
            starts = [starts] * len(paths)
        if not isinstance(ends, list):
            ends = [ends] * len(paths)
        if len(starts) != len(paths) or len(ends) != len(paths):
            raise ValueError("paths, starts and ends must have the same length")
        gap = DEFAULT_MERGE_GAP_BYTES if max_gap is None else max_gap
        by_path: dict[str, list[int]] = {}
        for index, name in enumerate(self._strip_protocol(p) for p in paths):
            by_path.setdefault(name, []).append(index)
        results: list[Any] = [b""] * len(paths)

        def fetch(name: str) -> None:
            indices = by_path[name]
            try:
                bucket, key, version_id = self._object_path(name)
                ranges = [_slice_bounds(starts[i], ends[i]) for i in indices]
                etag = None
                if any((start is None and end is None) or _from_end_needed(start, end)
                       for start, end in ranges):
                    head = self._head(bucket, key, version_id)
                    etag = head.etag
                    ranges = [_from_end(head.size, start, end) for start, end in ranges]
                    ranges = [(start or 0, head.size if end is None else end)
                              for start, end in ranges]
                else:
                    ranges = [(start or 0, end) for start, end in ranges]
                data = self.transfers.read_ranges(self.client, key, ranges, bucket=bucket,
                                                  if_match=etag, version_id=version_id,
                                                  merge_gap_bytes=gap)
                for i, value in zip(indices, data, strict=True):
                    results[i] = value
            except Exception as error:
                if on_error == "raise":
                    raise
                for i in indices:
                    results[i] = error

        self._map(fetch, list(by_path))
        return results

    def _open(self, path: str, mode: str = "rb", block_size: int | None = None,
              autocommit: bool = True, cache_options: dict | None = None,
              **kwargs: Any) -> UnifiedFile:
        if mode not in ("rb", "wb", "xb"):
            raise ValueError(f"mode {mode!r} is not supported: 'rb', 'wb' or 'xb' (object "
                             "stores have no append or update in place)")
        bucket, key, version_id = self._object_path(path, kwargs.pop("version_id", None))
        if version_id is not None and mode != "rb":
            raise ValueError("version_id is for reading; a write always makes a new version")
        content_type, metadata = _write_attributes(key, kwargs)
        if mode == "rb":
            content_type = metadata = None
        return UnifiedFile(self, f"{bucket}/{key}", mode,
                           block_size=block_size or self.options.block_size,
                           autocommit=autocommit, cache_options=cache_options,
                           version_id=version_id, content_type=content_type,
                           metadata=metadata, **kwargs)

    @observed("get_file", target="rpath")
    def get_file(self, rpath: str, lpath, callback=DEFAULT_CALLBACK, outfile=None,
                 version_id: str | None = None, **kwargs: Any) -> None:
        """Download one object to ``lpath``, or into ``outfile`` / a file-like ``lpath``."""
        if outfile is None and isfilelike(lpath):
            outfile = lpath
        if outfile is not None:
            bucket, key, version_id = self._object_path(rpath, version_id)
            self._download_to_stream(bucket, key, version_id, outfile, callback)
            return
        bucket, key, version_id = self.split_versioned_path(rpath, version_id)
        if key:
            # The download's own HEAD tells an object from a directory: no isdir request
            # first, so an object costs one HEAD and its ranged GETs.
            os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
            try:
                self.transfers.download_file(self.client, key, lpath, callback, bucket=bucket,
                                             version_id=version_id)
                return
            except ObjectNotFoundError:
                if version_id is not None or not self.isdir(rpath):
                    raise
        elif not self.isdir(rpath):
            raise FileNotFoundError(rpath)
        os.makedirs(lpath, exist_ok=True)

    def _download_to_stream(self, bucket: str, key: str, version_id: str | None,
                            outfile, callback) -> None:
        """The object written into ``outfile`` in order, one pinned range at a time."""
        self.transfers.download_to(self.client, key, outfile.write, callback, bucket=bucket,
                                   version_id=version_id)

    @observed("get", target="rpath", bulk=True)
    def get(self, rpath, lpath, recursive=False, callback=DEFAULT_CALLBACK, maxdepth=None,
            **kwargs: Any) -> None:
        """fsspec's ``get``, run concurrently; no file is written outside ``lpath``."""
        calls = _collect_transfers(AbstractFileSystem.get, self, rpath, lpath, recursive,
                                   maxdepth, kwargs)
        if isinstance(lpath, (str, os.PathLike)):
            check_local_targets(calls, os.fspath(lpath))
        self._run_transfers(self.get_file, calls, callback)

    # -- writing -------------------------------------------------------------------------

    @observed("pipe_file")
    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Write ``value``; ``mode="create"`` fails with ``FileExistsError`` if ``path``
        exists, decided by the server (create-only PUT or CompleteMultipartUpload)."""
        if mode not in _WRITE_MODES:
            raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
        bucket, key, _ = self._object_path(path)
        if self._intrans:
            with self.open(f"{bucket}/{key}", _WRITE_MODES[mode], **kwargs) as handle:
                handle.write(value)
            return
        content_type, metadata = _write_attributes(key, kwargs)
        self.transfers.upload_bytes(self.client, value, key, bucket=bucket,
                                    content_type=content_type, metadata=metadata,
                                    overwrite=mode == "overwrite")
        self.invalidate_cache(path)

    @observed("pipe", bulk=True)
    def pipe(self, path, value=None, **kwargs: Any) -> None:
        """Write one value, or a ``{path: bytes}`` mapping concurrently."""
        if isinstance(path, str):
            self.pipe_file(self._strip_protocol(path), value, **kwargs)
            return
        self._map(lambda item: self.pipe_file(self._strip_protocol(item[0]), item[1], **kwargs),
                  list(path.items()))

    @observed("put_file", target="rpath")
    def put_file(self, lpath: str, rpath: str, callback=DEFAULT_CALLBACK,
                 mode: str = "overwrite", **kwargs: Any) -> None:
        """Upload one file; ``mode="create"`` is create-only on the server (multipart too)."""
        if mode not in _WRITE_MODES:
            raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
        if os.path.isdir(lpath):
            return  # prefixes need no creating
        bucket, key, _ = self._object_path(rpath)
        if "ContentType" not in kwargs and "content_type" not in kwargs:
            kwargs["content_type"] = mimetypes.guess_type(os.fspath(lpath))[0]
        if self._intrans:
            self._put_file_deferred(lpath, f"{bucket}/{key}", _WRITE_MODES[mode], callback,
                                    kwargs)
            return
        content_type, metadata = _write_attributes(key, kwargs)
        self.transfers.upload_file(self.client, lpath, key, callback, bucket=bucket,
                                   content_type=content_type, metadata=metadata,
                                   overwrite=mode == "overwrite")
        self.invalidate_cache(rpath)

    def _put_file_deferred(self, lpath: str, rpath: str, mode: str, callback,
                           kwargs: dict) -> None:
        """Inside a transaction: stream the file into a file registered with it, so the
        parts upload now and the object appears only when the transaction commits."""
        callback = as_fsspec_callback(callback)
        with open(lpath, "rb") as source, self.open(rpath, mode, **kwargs) as target:
            callback.set_size(os.fstat(source.fileno()).st_size)
            while chunk := source.read(self.options.block_size):
                target.write(chunk)
                callback.relative_update(len(chunk))

    @observed("put", target="rpath", bulk=True)
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

    @observed("touch")
    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        if not truncate and self.exists(path):
            return
        self.pipe_file(path, b"", **kwargs)

    @observed("cp_file", target="path2")
    def cp_file(self, path1: str, path2: str, callback=DEFAULT_CALLBACK, **kwargs: Any) -> None:
        """Server-side copy; objects above the provider's single-copy limit are copied
        part by part with UploadPartCopy, concurrently, keeping the source's Content-Type
        and metadata. No bytes pass through the client."""
        src_bucket, src_key, src_version = self._object_path(path1)
        dst_bucket, dst_key, _ = self._object_path(path2)
        if src_version is not None:
            raise ValueError("copying a specific version is not supported; read it and write")
        if (src_bucket, src_key) == (dst_bucket, dst_key):
            # Refused for every size: the server refuses a single copy onto itself, but a
            # part-by-part one would succeed, and a move would then delete the only copy.
            raise InvalidArgumentError(f"refusing to copy {path1!r} onto itself")
        source = self._head(src_bucket, src_key)
        self.transfers.copy(self.client, src_bucket, source, dst_key,
                            callback, bucket=dst_bucket)
        self.invalidate_cache(path2)

    @observed("copy", target="path1", bulk=True)
    def copy(self, path1, path2, recursive=False, maxdepth=None, on_error=None,
             callback=DEFAULT_CALLBACK, **kwargs: Any) -> None:
        """fsspec's ``copy`` (server-side, see :meth:`cp_file`), run concurrently;
        ``callback`` counts files and gets a branched child per file, as in ``put``/``get``.
        As in fsspec, ``on_error="ignore"`` (the default when recursive) skips sources that
        are not objects (the directories of the expansion); any other not-found (a missing
        bucket on either side, an object gone since the listing) still raises, so a caller
        that deletes the sources afterwards (a move) never deletes what was not copied."""
        if on_error is None:
            on_error = "ignore" if recursive else "raise"
        calls = _collect_transfers(AbstractFileSystem.copy, self, path1, path2, recursive,
                                   maxdepth, dict(kwargs, on_error=on_error))

        def copy_one(source: str, target: str, **call_kwargs: Any) -> None:
            try:
                self.cp_file(source, target, **call_kwargs)
            except FileNotFoundError as error:
                if (on_error == "raise" or isinstance(error, BucketNotFoundError)
                        or not self.isdir(source)):
                    raise

        self._run_transfers(copy_one, calls, callback)

    # -- metadata, versions and URLs -----------------------------------------------------

    def modified(self, path: str, version_id: str | None = None) -> datetime:
        info = self.info(path, version_id=version_id)
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

    def ukey(self, path: str, version_id: str | None = None) -> str:
        """The ETag, and the version id where there is one: changes with every write."""
        info = self.info(path, version_id=version_id)
        if info["type"] != "file":
            return sha256(repr(sorted(info.items())).encode()).hexdigest()
        version = info.get("VersionId")
        return f"{info['ETag']}:{version}" if version else info["ETag"]

    def checksum(self, path: str, version_id: str | None = None) -> int:
        """An integer from the ETag (s3fs's ``checksum``); not a digest of the bytes."""
        etag = self.ukey(path, version_id=version_id).split(":")[0].split("-")[0]
        try:
            return int(etag, 16)
        except ValueError:  # an ETag that is not hexadecimal
            return int(sha256(etag.encode()).hexdigest(), 16)

    @observed("object_version_info")
    def object_version_info(self, path: str) -> list[dict]:
        """Every version of one object, newest first, as s3fs lists them (``Key``,
        ``VersionId``, ``IsLatest``, ``LastModified``, ``ETag``, ``Size``); delete markers
        are left out, as in s3fs."""
        if not self.version_aware:
            raise ValueError("object_version_info needs a version-aware filesystem "
                             "(version_aware=True)")
        bucket, key, _ = self._object_path(path)
        return [
            {"Key": item.key, "VersionId": item.version_id, "IsLatest": item.is_latest,
             "LastModified": item.last_modified, "ETag": item.etag, "Size": item.size,
             "StorageClass": item.storage_class or "STANDARD"}
            for item in self.client.list_object_versions(bucket, prefix=key)
            if item.key == key and not item.is_delete_marker
        ]

    @observed("sign")
    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        bucket, key, _ = self._object_path(path)
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
        """``function`` over ``items`` concurrently, in order, within the filesystem's one
        budget of requests in flight (see :class:`~.driver.engine.scheduler.RequestScheduler`)."""
        return self.transfers.map(function, list(items))


def _slice_bounds(start: Any, end: Any) -> tuple[int | None, int | None]:
    """The bounds of a range as ``int`` (numpy integers too) or ``None``, as a slice takes
    them; anything else raises :class:`InvalidRangeError`."""
    bounds = []
    for name, value in (("start", start), ("end", end)):
        try:
            if isinstance(value, bool):
                raise TypeError(name)
            bounds.append(None if value is None else operator.index(value))
        except TypeError:
            raise InvalidRangeError(
                f"range {name} must be an integer or None, got {value!r}") from None
    return bounds[0], bounds[1]


def _from_end(size: int, start: int | None, end: int | None) -> tuple[int | None, int | None]:
    """Resolve negative (from-the-end) range bounds against an object of ``size`` bytes."""
    start = max(0, size + start) if start is not None and start < 0 else start
    end = max(0, size + end) if end is not None and end < 0 else end
    return start, end


def _from_end_needed(start: int | None, end: int | None) -> bool:
    """Whether a range needs the object's size: counted from the end."""
    return (start is not None and start < 0) or (end is not None and end < 0) or end is None


def _write_attributes(key: str, kwargs: dict) -> tuple[str | None, dict[str, str] | None]:
    """Pop ``content_type``/``ContentType`` and ``metadata``/``Metadata`` from ``kwargs``;
    the type is guessed from the key's extension when not given (as s3fs)."""
    content_type = kwargs.pop("content_type", None)
    s3fs_type = kwargs.pop("ContentType", None)
    metadata = kwargs.pop("metadata", None)
    s3fs_metadata = kwargs.pop("Metadata", None)
    content_type = content_type or s3fs_type or mimetypes.guess_type(key)[0]
    metadata = metadata or s3fs_metadata
    return content_type, dict(metadata) if metadata else None


class _TransferCollector:
    """Stands in for the filesystem while fsspec's ``put``/``get``/``copy`` expand their
    paths, and records the single-file transfers they would make instead of making them one
    by one."""

    def __init__(self, fs: UnifiedFileSystem) -> None:
        self._fs = fs
        self.calls: list[tuple[str, str, dict]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def _record(self, source: str, target: str, callback=None, **kwargs: Any) -> None:
        self.calls.append((source, target, kwargs))

    put_file = get_file = cp_file = _record


def _collect_transfers(method, fs, source, target, recursive, maxdepth, kwargs):
    collector = _TransferCollector(fs)
    method(collector, source, target, recursive=recursive, maxdepth=maxdepth, **kwargs)
    return collector.calls
