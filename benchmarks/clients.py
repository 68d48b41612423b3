"""One adapter per benchmarked client, all behind :class:`StorageClient`.

Each adapter uses the API a user of that client would reach for first (its transfer manager
or file helpers for large files, its bulk calls where it has them) with its default tuning,
with two exceptions:

- connection pools are sized to the small-object concurrency, so that no client throws
  connections away under the same load;
- where a client's large-file call is sequential unless told otherwise (opendal's writer,
  oss2's resumable functions, which ossfs calls for large files), it is given
  ``TRANSFER_CONCURRENCY``, the part concurrency boto3's transfer manager uses by
  default, so that no peer is measured at a setting its documentation tells users to raise.

Clients without a bulk small-object API run single-object calls on a pool of
``SMALL_OBJECT_WORKERS`` threads (:class:`PooledSmallObjects`), so they all meet the same
concurrency; the same pool uploads and downloads a directory tree file by file for clients
without a recursive ``put``/``get``. The fsspec filesystems (fsspec-unified, s3fs, ossfs,
obstore's adapter) use their own bulk and recursive calls, which is what their users get.

A client that has no API at all for an operation raises :class:`NotSupported` from it; the
report lists that pair as not measured, with the reason.

SDKs are imported inside the adapters: a missing package makes building that one adapter
raise ``ImportError``, and the runner skips it with a note instead of failing the run.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fsspec_unified.exceptions import ConfigurationError

SMALL_OBJECT_WORKERS = 16
TRANSFER_CONCURRENCY = 10  # boto3's TransferConfig().max_concurrency
COPY_CHUNK_BYTES = 8 * 1024 * 1024
_LIST_PAGE_SIZE = 1000


class NotSupported(Exception):
    """The client has no API for the operation (the message says why)."""


@dataclass(frozen=True)
class Section:
    """One endpoint of the run, with the peer its clients' ratios are taken against."""

    title: str
    baseline: str
    region: str


S3_SECTION = Section("S3 endpoint (SeaweedFS)", "s3fs", "us-east-1")
OSS_SECTION = Section(
    "OSS gateway (OSS protocol in front of the same SeaweedFS)", "ossfs", "cn-hangzhou"
)


@dataclass(frozen=True)
class Target:
    """Where a client sends its requests, as plain data so a child process can receive it.

    A client writes to its own ``bucket`` and reads from ``seed_bucket``, which the reference
    filled before the first round and nobody writes afterwards: no client reads what another
    one wrote, and the seed data is stored once instead of once per client.
    """

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    seed_bucket: str
    region: str


class StorageClient(ABC):
    """The operations the workloads time, for one client.

    Writes go to ``target.bucket``, reads and listings to ``target.seed_bucket``. Keys are
    relative to the bucket; a prefix ends with ``/``. Implementations return only once the
    operation is complete (the object stored, the local file closed).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.bucket = target.bucket
        self.seed_bucket = target.seed_bucket

    @abstractmethod
    def upload_file(self, local_path: str, key: str) -> None: ...

    @abstractmethod
    def download_file(self, key: str, local_path: str) -> None: ...

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store the concatenated ``chunks``, written as they come (no local file)."""
        raise NotSupported("no streaming-write API")

    @abstractmethod
    def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive) of the object."""

    def read_ranges(self, key: str, starts: list[int], ends: list[int]) -> list[bytes]:
        """Several ranges of one object in one call."""
        raise NotSupported("no batched range-read API")

    @abstractmethod
    def put_small(self, items: Mapping[str, bytes]) -> None:
        """Store every ``key -> bytes`` item."""

    @abstractmethod
    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        """The bytes of each key, in the order given."""

    @abstractmethod
    def list_directory(self, prefix: str) -> list[str]:
        """Keys (and sub-prefixes) directly under ``prefix``, as listed by the server."""

    @abstractmethod
    def list_prefix(self, prefix: str) -> list[str]:
        """Keys of every object under ``prefix``, at any depth, as listed by the server."""

    @abstractmethod
    def put_tree(self, local_dir: str, prefix: str) -> None:
        """Upload every file under ``local_dir`` to ``prefix`` + its relative path."""

    @abstractmethod
    def get_tree(self, prefix: str, local_dir: str) -> None:
        """Download every object under ``prefix`` to ``local_dir`` + its relative key."""

    def drop_caches(self) -> None:  # noqa: B027 - optional hook
        """Forget cached listings, so that every round asks the server as the first did.

        Called untimed before each operation; the default has nothing to forget.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads; the default leaves them to garbage collection."""

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ChunkStream(io.RawIOBase):
    """A read-only, unseekable stream over an iterator of chunks.

    What a program that produces data on the fly hands to an SDK that only takes a file
    object (boto3's ``upload_fileobj``, minio's ``put_object``).
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def chunk_reader(chunks: Iterable[bytes]) -> io.BufferedReader:
    """A buffered file object over ``chunks``: ``read(n)`` returns ``n`` bytes until the end."""
    return io.BufferedReader(ChunkStream(chunks), COPY_CHUNK_BYTES)


def files_under(local_dir: str) -> dict[str, str]:
    """``relative/posix/path -> absolute path`` of every file under ``local_dir``."""
    root = Path(local_dir)
    return {path.relative_to(root).as_posix(): str(path) for path in root.rglob("*")
            if path.is_file()}


class PooledSmallObjects(StorageClient):
    """Bulk calls as single-object calls on ``SMALL_OBJECT_WORKERS`` threads.

    Small objects go through ``put_object``/``get_object``; a directory tree goes file by file
    through the client's own ``upload_file``/``download_file``, after a listing for a download.
    The pool lives as long as the client, so its threads are reused across rounds the way a
    long-running application would reuse them.
    """

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._pool = ThreadPoolExecutor(SMALL_OBJECT_WORKERS, thread_name_prefix="bench")

    @abstractmethod
    def put_object(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_object(self, key: str) -> bytes: ...

    def _on_pool(self, function: Callable[..., Any], *arguments: Iterable[Any]) -> list[Any]:
        # list() drains the iterator, so the first failure is raised here.
        return list(self._pool.map(function, *arguments))

    def put_small(self, items: Mapping[str, bytes]) -> None:
        self._on_pool(self.put_object, items.keys(), items.values())

    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        return self._on_pool(self.get_object, keys)

    def put_tree(self, local_dir: str, prefix: str) -> None:
        files = files_under(local_dir)
        self._on_pool(self.upload_file, files.values(), [prefix + name for name in files])

    def get_tree(self, prefix: str, local_dir: str) -> None:
        keys = self.list_prefix(prefix)
        self._on_pool(partial(self._download_into, prefix, local_dir), keys)

    def _download_into(self, prefix: str, local_dir: str, key: str) -> None:
        destination = os.path.join(local_dir, key.removeprefix(prefix))
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        self.download_file(key, destination)

    def close(self) -> None:
        self._pool.shutdown()


class FsspecStorageClient(StorageClient):
    """A client reached through an fsspec filesystem (``self.fs``): ``put_file``/``get_file``,
    ``open(..., "wb")``, ``cat_file``/``cat_ranges``, bulk ``pipe``/``cat``, ``ls``/``find``,
    and recursive ``put``/``get``."""

    fs: Any

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def _seed_path(self, key: str) -> str:
        return f"{self.seed_bucket}/{key}"

    def _seed_keys(self, paths: Iterable[str]) -> list[str]:
        return [path.removeprefix(f"{self.seed_bucket}/") for path in paths]

    def upload_file(self, local_path: str, key: str) -> None:
        self.fs.put_file(local_path, self._path(key))

    def download_file(self, key: str, local_path: str) -> None:
        self.fs.get_file(self._seed_path(key), local_path)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        with self.fs.open(self._path(key), "wb") as target:
            for chunk in chunks:
                target.write(chunk)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        # Keywords: s3fs's third positional parameter is a version id.
        return self.fs.cat_file(self._seed_path(key), start=start, end=end)

    def read_ranges(self, key: str, starts: list[int], ends: list[int]) -> list[bytes]:
        # fsspec's default puts a failed range's exception in its place; raise it instead.
        return self.fs.cat_ranges([self._seed_path(key)] * len(starts), starts, ends,
                                  on_error="raise")

    def put_small(self, items: Mapping[str, bytes]) -> None:
        self.fs.pipe({self._path(key): data for key, data in items.items()})

    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        paths = [self._seed_path(key) for key in keys]
        contents = self.fs.cat(paths)
        return [contents[path] for path in paths]

    def list_directory(self, prefix: str) -> list[str]:
        return self._seed_keys(self.fs.ls(self._seed_path(prefix), detail=False))

    def list_prefix(self, prefix: str) -> list[str]:
        return self._seed_keys(self.fs.find(self._seed_path(prefix)))

    def put_tree(self, local_dir: str, prefix: str) -> None:
        # Trailing separators on both sides: the directory's contents go under the prefix,
        # whether or not it exists already (fsspec's copy rules).
        self.fs.put(local_dir.rstrip("/") + "/", self._path(prefix), recursive=True)

    def get_tree(self, prefix: str, local_dir: str) -> None:
        self.fs.get(self._seed_path(prefix), local_dir.rstrip("/") + "/", recursive=True)

    def drop_caches(self) -> None:
        self.fs.invalidate_cache()


class UnifiedClient(FsspecStorageClient):
    """fsspec-unified as its users reach it: the ``unified`` filesystem, whose
    ``put_file``/``get_file`` go through the transfer manager and whose bulk calls run on its
    own thread pool (``max_workers``; its connection pool already has 16 connections)."""

    def __init__(self, target: Target, provider: str) -> None:
        from fsspec_unified import UnifiedFileSystem

        super().__init__(target)
        self.fs = UnifiedFileSystem(
            provider=provider,
            endpoint=target.endpoint_url,
            access_key=target.access_key,
            secret_key=target.secret_key,
            region=target.region,
            max_workers=SMALL_OBJECT_WORKERS,
            skip_instance_cache=True,
        )

    def close(self) -> None:
        self.fs.client.close()


class S3fsClient(FsspecStorageClient):
    """s3fs, through the same fsspec calls."""

    def __init__(self, target: Target) -> None:
        import s3fs

        super().__init__(target)
        self.fs = s3fs.S3FileSystem(
            key=target.access_key,
            secret=target.secret_key,
            client_kwargs={"endpoint_url": target.endpoint_url, "region_name": target.region},
            skip_instance_cache=True,  # a fresh instance, not one another adapter warmed
        )


class ObstoreFsspecClient(FsspecStorageClient):
    """obstore's fsspec adapter (``obstore.fsspec.FsspecStore``): a writer that uploads parts
    as they fill, and ``cat_ranges`` as one ``get_ranges`` per object."""

    def __init__(self, target: Target) -> None:
        from obstore.fsspec import FsspecStore

        super().__init__(target)
        self.fs = FsspecStore(
            "s3",
            endpoint=target.endpoint_url,
            access_key_id=target.access_key,
            secret_access_key=target.secret_key,
            region=target.region,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
            skip_instance_cache=True,
        )


def concurrent_oss2() -> Any:
    """oss2, with ``TRANSFER_CONCURRENCY`` as the thread count of its resumable functions
    (by default one for uploads and four for downloads).

    Set as oss2's default rather than passed per call, because ossfs forwards its keywords to
    small-file calls too, which take no thread count; each client has a process of its own,
    so the default is that client's alone.
    """
    import oss2

    oss2.defaults.multipart_num_threads = TRANSFER_CONCURRENCY
    oss2.defaults.multiget_num_threads = TRANSFER_CONCURRENCY
    return oss2


class OssfsClient(FsspecStorageClient):
    """ossfs, through the same fsspec calls; for large files its ``put_file``/``get_file``
    call oss2's resumable functions, with the same thread count as the oss2 peer."""

    def __init__(self, target: Target) -> None:
        import ossfs

        concurrent_oss2()
        super().__init__(target)
        self.fs = ossfs.OSSFileSystem(
            endpoint=target.endpoint_url,
            key=target.access_key,
            secret=target.secret_key,
            skip_instance_cache=True,
        )

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        raise NotSupported(
            "ossfs writes a file with AppendObject, which the OSS test gateway does not serve"
        )


class Boto3Client(PooledSmallObjects):
    """boto3: its transfer manager (``upload_file``/``download_file``/``upload_fileobj``,
    default ``TransferConfig``) for large files, ``put_object``/``get_object`` for small ones
    and ranges."""

    def __init__(self, target: Target) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        super().__init__(target)
        self.transfer_config = TransferConfig()
        # A private session: boto3's default session is not safe to share across threads.
        self.s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=target.endpoint_url,
            aws_access_key_id=target.access_key,
            aws_secret_access_key=target.secret_key,
            region_name=target.region,
            config=Config(max_pool_connections=SMALL_OBJECT_WORKERS),
        )

    def upload_file(self, local_path: str, key: str) -> None:
        self.s3.upload_file(local_path, self.bucket, key, Config=self.transfer_config)

    def download_file(self, key: str, local_path: str) -> None:
        self.s3.download_file(self.seed_bucket, key, local_path, Config=self.transfer_config)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        self.s3.upload_fileobj(chunk_reader(chunks), self.bucket, key,
                               Config=self.transfer_config)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        response = self.s3.get_object(
            Bucket=self.seed_bucket, Key=key, Range=f"bytes={start}-{end - 1}"
        )
        return response["Body"].read()

    def put_object(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_object(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.seed_bucket, Key=key)["Body"].read()

    def _list(self, prefix: str, **options: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.seed_bucket, Prefix=prefix, **options
        )
        names = []
        for page in pages:
            names += [entry["Key"] for entry in page.get("Contents", ())]
            names += [entry["Prefix"] for entry in page.get("CommonPrefixes", ())]
        return names

    def list_directory(self, prefix: str) -> list[str]:
        return self._list(prefix, Delimiter="/")

    def list_prefix(self, prefix: str) -> list[str]:
        return self._list(prefix)

    def close(self) -> None:
        super().close()
        self.s3.close()


class MinioClient(PooledSmallObjects):
    """The minio SDK: ``fput_object``/``fget_object`` for large files, ``put_object`` of a
    stream of unknown length for streaming, ``get_object`` (with offset and length for
    ranges) and ``put_object`` for small objects."""

    def __init__(self, target: Target) -> None:
        import minio
        import urllib3

        super().__init__(target)
        endpoint = urlsplit(target.endpoint_url)
        # minio's own default pool, except for its size (10), which is below our concurrency.
        http_client = urllib3.PoolManager(
            maxsize=SMALL_OBJECT_WORKERS,
            retries=urllib3.Retry(
                total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self.minio = minio.Minio(
            endpoint.netloc,
            access_key=target.access_key,
            secret_key=target.secret_key,
            secure=endpoint.scheme == "https",
            region=target.region,
            http_client=http_client,
        )

    def upload_file(self, local_path: str, key: str) -> None:
        self.minio.fput_object(self.bucket, key, local_path)

    def download_file(self, key: str, local_path: str) -> None:
        self.minio.fget_object(self.seed_bucket, key, local_path)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        self.minio.put_object(self.bucket, key, chunk_reader(chunks), length=-1,
                              part_size=COPY_CHUNK_BYTES)

    def _read(self, key: str, **options: int) -> bytes:
        response = self.minio.get_object(self.seed_bucket, key, **options)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return self._read(key, offset=start, length=end - start)

    def put_object(self, key: str, data: bytes) -> None:
        self.minio.put_object(self.bucket, key, io.BytesIO(data), len(data))

    def get_object(self, key: str) -> bytes:
        return self._read(key)

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        objects = self.minio.list_objects(self.seed_bucket, prefix, recursive=recursive)
        return [entry.object_name for entry in objects]

    def list_directory(self, prefix: str) -> list[str]:
        return self._list(prefix, recursive=False)

    def list_prefix(self, prefix: str) -> list[str]:
        return self._list(prefix, recursive=True)


class ObstoreClient(PooledSmallObjects):
    """obstore (Rust object_store): ``put`` of a path (its own concurrent multipart) for
    uploads, a chunked ``get`` stream into the file for downloads, ``open_writer`` for
    streaming, ``get_range``/``get_ranges`` for ranges."""

    def __init__(self, target: Target) -> None:
        import obstore

        super().__init__(target)
        self.obstore = obstore
        self.store = self._store(target.bucket)
        self.seed_store = self._store(target.seed_bucket)

    def _store(self, bucket: str) -> Any:
        from obstore.store import S3Store

        return S3Store(
            bucket,
            endpoint=self.target.endpoint_url,
            access_key_id=self.target.access_key,
            secret_access_key=self.target.secret_key,
            region=self.target.region,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def upload_file(self, local_path: str, key: str) -> None:
        self.obstore.put(self.store, key, Path(local_path))

    def download_file(self, key: str, local_path: str) -> None:
        result = self.obstore.get(self.seed_store, key)
        with open(local_path, "wb") as target:
            for chunk in result.stream(min_chunk_size=COPY_CHUNK_BYTES):
                target.write(chunk)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        with self.obstore.open_writer(self.store, key) as target:
            for chunk in chunks:
                target.write(chunk)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return bytes(self.obstore.get_range(self.seed_store, key, start=start, end=end))

    def read_ranges(self, key: str, starts: list[int], ends: list[int]) -> list[bytes]:
        ranges = self.obstore.get_ranges(self.seed_store, key, starts=starts, ends=ends)
        return [bytes(data) for data in ranges]

    def put_object(self, key: str, data: bytes) -> None:
        self.obstore.put(self.store, key, data)

    def get_object(self, key: str) -> bytes:
        return bytes(self.obstore.get(self.seed_store, key).bytes())

    def list_directory(self, prefix: str) -> list[str]:
        # obstore prefixes are whole path segments, written without the trailing slash.
        listing = self.obstore.list_with_delimiter(self.seed_store, prefix.rstrip("/"))
        return [entry["path"] for entry in listing["objects"]] + [
            f"{path}/" for path in listing["common_prefixes"]
        ]

    def list_prefix(self, prefix: str) -> list[str]:
        pages = self.obstore.list(self.seed_store, prefix.rstrip("/"), chunk_size=_LIST_PAGE_SIZE)
        return [entry["path"] for page in pages for entry in page]


class OpendalClient(PooledSmallObjects):
    """Apache OpenDAL: ``Operator.open`` readers and writers (chunked, concurrent parts) for
    large files and streaming, ``read``/``write`` for small objects and ranges, ``list``.
    It has no batched range read in its Python API."""

    def __init__(self, target: Target) -> None:
        import opendal

        super().__init__(target)
        options = {
            "endpoint": target.endpoint_url,
            "region": target.region,
            "access_key_id": target.access_key,
            "secret_access_key": target.secret_key,
        }
        self.operator = opendal.Operator("s3", bucket=target.bucket, **options)
        self.seed_operator = opendal.Operator("s3", bucket=target.seed_bucket, **options)

    def _writer(self, key: str) -> Any:
        return self.operator.open(key, "wb", chunk=COPY_CHUNK_BYTES,
                                  concurrent=TRANSFER_CONCURRENCY)

    def upload_file(self, local_path: str, key: str) -> None:
        with open(local_path, "rb") as source, self._writer(key) as target:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)

    def download_file(self, key: str, local_path: str) -> None:
        with self.seed_operator.open(key, "rb") as source, open(local_path, "wb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        with self._writer(key) as target:
            for chunk in chunks:
                target.write(chunk)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return bytes(self.seed_operator.read(key, offset=start, size=end - start))

    def put_object(self, key: str, data: bytes) -> None:
        self.operator.write(key, data)

    def get_object(self, key: str) -> bytes:
        return bytes(self.seed_operator.read(key))

    def list_directory(self, prefix: str) -> list[str]:
        return [entry.path for entry in self.seed_operator.list(prefix)]

    def list_prefix(self, prefix: str) -> list[str]:
        entries = self.seed_operator.list(prefix, recursive=True)
        return [entry.path for entry in entries if not entry.path.endswith("/")]


class Oss2Client(PooledSmallObjects):
    """oss2, Aliyun's SDK: ``resumable_upload``/``resumable_download`` for large files,
    ``put_object`` of a generator (chunked transfer encoding) for streaming,
    ``put_object``/``get_object`` for small objects and ranges, ``ObjectIteratorV2``."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.oss2 = oss2 = concurrent_oss2()
        auth = oss2.Auth(target.access_key, target.secret_key)
        session = oss2.Session(pool_size=SMALL_OBJECT_WORKERS)
        self.oss_bucket, self.seed_oss_bucket = (
            oss2.Bucket(auth, target.endpoint_url, name, session=session, region=target.region)
            for name in (target.bucket, target.seed_bucket)
        )

    def upload_file(self, local_path: str, key: str) -> None:
        self.oss2.resumable_upload(self.oss_bucket, key, local_path)

    def download_file(self, key: str, local_path: str) -> None:
        self.oss2.resumable_download(self.seed_oss_bucket, key, local_path)

    def stream_write(self, key: str, chunks: Iterable[bytes]) -> None:
        self.oss_bucket.put_object(key, iter(chunks))

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return self.seed_oss_bucket.get_object(key, byte_range=(start, end - 1)).read()

    def put_object(self, key: str, data: bytes) -> None:
        self.oss_bucket.put_object(key, data)

    def get_object(self, key: str) -> bytes:
        return self.seed_oss_bucket.get_object(key).read()

    def _list(self, prefix: str, delimiter: str) -> list[str]:
        entries = self.oss2.ObjectIteratorV2(
            self.seed_oss_bucket, prefix=prefix, delimiter=delimiter, max_keys=_LIST_PAGE_SIZE
        )
        return [entry.key for entry in entries]

    def list_directory(self, prefix: str) -> list[str]:
        return self._list(prefix, delimiter="/")

    def list_prefix(self, prefix: str) -> list[str]:
        return self._list(prefix, delimiter="")


@dataclass(frozen=True)
class ClientSpec:
    """A benchmarked client: how it is named in the table, where it connects, how it is
    built, and (``workloads``) the only workloads it runs, when it is not all of them."""

    name: str
    ours: bool  # fsspec-unified itself, as opposed to a peer it is compared with
    section: Section
    build: Callable[[Target], StorageClient]
    workloads: frozenset[str] | None = None

    @property
    def bucket(self) -> str:
        """The client's own bucket for what it writes."""
        return "bench-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def runs(self, workload: str) -> bool:
        return self.workloads is None or workload in self.workloads


CLIENT_SPECS: tuple[ClientSpec, ...] = (
    ClientSpec("fsspec-unified s3", True, S3_SECTION, partial(UnifiedClient, provider="s3")),
    ClientSpec("fsspec-unified minio", True, S3_SECTION,
               partial(UnifiedClient, provider="minio")),
    ClientSpec("boto3", False, S3_SECTION, Boto3Client),
    ClientSpec("minio", False, S3_SECTION, MinioClient),
    ClientSpec("s3fs", False, S3_SECTION, S3fsClient),
    ClientSpec("obstore", False, S3_SECTION, ObstoreClient),
    # Plain obstore is the peer for everything else; its adapter matters where fsspec users
    # meet it: the file-like writer and cat_ranges.
    ClientSpec("obstore-fsspec", False, S3_SECTION, ObstoreFsspecClient,
               frozenset({"stream write", "cat_ranges"})),
    ClientSpec("opendal", False, S3_SECTION, OpendalClient),
    ClientSpec("fsspec-unified oss", True, OSS_SECTION, partial(UnifiedClient, provider="oss")),
    ClientSpec("ossfs", False, OSS_SECTION, OssfsClient),
    ClientSpec("oss2", False, OSS_SECTION, Oss2Client),
)
SPECS_BY_NAME = {spec.name: spec for spec in CLIENT_SPECS}


def describe_error(error: BaseException) -> str:
    """One line for the report: the exception's type and message."""
    return f"{type(error).__name__}: {error}"


def build_client(spec: ClientSpec, target: Target) -> StorageClient | str:
    """The client, or the reason it cannot be benchmarked here (a package that is not
    installed, a provider whose driver does not exist yet)."""
    try:
        return spec.build(target)
    except (ImportError, ConfigurationError) as error:
        return describe_error(error)
