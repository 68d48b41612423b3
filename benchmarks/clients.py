"""One adapter per benchmarked client, all behind :class:`StorageClient`.

Each adapter uses the API a user of that client would reach for first (its transfer manager
or file helpers for large files, its bulk calls where it has them) with its default tuning,
except that connection pools are sized to the small-object concurrency so that no client
throws connections away under the same load.

Clients without a bulk small-object API run single-object calls on a pool of
``SMALL_OBJECT_WORKERS`` threads (:class:`PooledSmallObjects`), so they all meet the same
concurrency. s3fs uses its own bulk ``pipe``/``cat``, which is what its users get.

SDKs are imported inside the adapters: a missing package makes building that one adapter
raise ``ImportError``, and the runner skips it with a note instead of failing the run.
"""

from __future__ import annotations

import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fsspec_unified.exceptions import ConfigurationError

SMALL_OBJECT_WORKERS = 16
_DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024
_LIST_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Target:
    """Where a client sends its requests.

    Plain data rather than the server object, so that a client can also be built in a child
    process (the way to measure each client's peak RSS on its own).
    """

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"


class StorageClient(ABC):
    """The operations the workloads time, for one client, bound to one bucket.

    A prefix ends with ``/``. Implementations return only once the operation is complete (the
    object stored, the local file closed).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.bucket = target.bucket

    @abstractmethod
    def upload_file(self, local_path: str, key: str) -> None: ...

    @abstractmethod
    def download_file(self, key: str, local_path: str) -> None: ...

    @abstractmethod
    def put_small(self, items: Mapping[str, bytes]) -> None:
        """Store every ``key -> bytes`` item."""

    @abstractmethod
    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        """The bytes of each key, in the order given."""

    @abstractmethod
    def list_prefix(self, prefix: str) -> int:
        """How many objects are under ``prefix``, at any depth, as listed by the server."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads; the default leaves them to garbage collection."""

    def __enter__(self) -> StorageClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PooledSmallObjects(StorageClient):
    """Bulk small-object calls as single-object calls on ``SMALL_OBJECT_WORKERS`` threads.

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

    def put_small(self, items: Mapping[str, bytes]) -> None:
        # list() drains the iterator, so the first failure is raised here.
        list(self._pool.map(lambda item: self.put_object(*item), items.items()))

    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        return list(self._pool.map(self.get_object, keys))

    def close(self) -> None:
        self._pool.shutdown()


class FsspecStorageClient(StorageClient):
    """A client reached through an fsspec filesystem (``self.fs``): ``put_file``/``get_file``,
    bulk ``pipe``/``cat``, and ``find`` for listing."""

    fs: Any

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    def upload_file(self, local_path: str, key: str) -> None:
        self.fs.put_file(local_path, self._path(key))

    def download_file(self, key: str, local_path: str) -> None:
        self.fs.get_file(self._path(key), local_path)

    def put_small(self, items: Mapping[str, bytes]) -> None:
        self.fs.pipe({self._path(key): data for key, data in items.items()})

    def get_small(self, keys: Iterable[str]) -> list[bytes]:
        paths = [self._path(key) for key in keys]
        contents = self.fs.cat(paths)
        return [contents[path] for path in paths]

    def list_prefix(self, prefix: str) -> int:
        return len(self.fs.find(self._path(prefix)))


class UnifiedClient(FsspecStorageClient):
    """fsspec-unified as its users reach it: the ``unified`` filesystem, whose
    ``put_file``/``get_file`` go through the transfer manager and whose bulk ``pipe``/``cat``
    run on its own thread pool."""

    def __init__(self, target: Target, provider: str) -> None:
        from fsspec_unified import UnifiedFileSystem

        self.fs = UnifiedFileSystem(
            provider=provider,
            endpoint=target.endpoint_url,
            access_key=target.access_key,
            secret_key=target.secret_key,
            region=target.region,
            max_workers=SMALL_OBJECT_WORKERS,
            max_pool_connections=SMALL_OBJECT_WORKERS,
            skip_instance_cache=True,
        )
        super().__init__(target)

    def close(self) -> None:
        self.fs.client.close()


class Boto3Client(PooledSmallObjects):
    """boto3: its transfer manager (``upload_file``/``download_file``, default
    ``TransferConfig``) for large files, ``put_object``/``get_object`` for small ones."""

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
        self.s3.upload_file(
            local_path, self.bucket, key, Config=self.transfer_config
        )

    def download_file(self, key: str, local_path: str) -> None:
        self.s3.download_file(
            self.bucket, key, local_path, Config=self.transfer_config
        )

    def put_object(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_object(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def list_prefix(self, prefix: str) -> int:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sum(len(page.get("Contents", ())) for page in pages)

    def close(self) -> None:
        super().close()
        self.s3.close()


class MinioClient(PooledSmallObjects):
    """The minio SDK: ``fput_object``/``fget_object`` for large files, ``put_object``/
    ``get_object`` for small ones."""

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
        self.minio.fget_object(self.bucket, key, local_path)

    def put_object(self, key: str, data: bytes) -> None:
        self.minio.put_object(self.bucket, key, io.BytesIO(data), len(data))

    def get_object(self, key: str) -> bytes:
        response = self.minio.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def list_prefix(self, prefix: str) -> int:
        objects = self.minio.list_objects(self.bucket, prefix, recursive=True)
        return sum(1 for _ in objects)


class S3fsClient(FsspecStorageClient):
    """s3fs: ``put_file``/``get_file`` for large files, its bulk ``pipe``/``cat`` for small
    objects, ``find`` for listing (which always asks the server; it never answers from the
    directory cache)."""

    def __init__(self, target: Target) -> None:
        import s3fs

        super().__init__(target)
        self.fs = s3fs.S3FileSystem(
            key=target.access_key,
            secret=target.secret_key,
            client_kwargs={"endpoint_url": target.endpoint_url, "region_name": target.region},
            skip_instance_cache=True,  # a fresh instance, not one another adapter warmed
        )


class ObstoreClient(PooledSmallObjects):
    """obstore (Rust object_store): ``put`` of a path (its own concurrent multipart) for
    uploads, a chunked ``get`` stream into the file for downloads."""

    def __init__(self, target: Target) -> None:
        import obstore
        from obstore.store import S3Store

        super().__init__(target)
        self.obstore = obstore
        self.store = S3Store(
            target.bucket,
            endpoint=target.endpoint_url,
            access_key_id=target.access_key,
            secret_access_key=target.secret_key,
            region=target.region,
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

    def upload_file(self, local_path: str, key: str) -> None:
        self.obstore.put(self.store, key, Path(local_path))

    def download_file(self, key: str, local_path: str) -> None:
        result = self.obstore.get(self.store, key)
        with open(local_path, "wb") as target:
            for chunk in result.stream(min_chunk_size=_DOWNLOAD_CHUNK_BYTES):
                target.write(chunk)

    def put_object(self, key: str, data: bytes) -> None:
        self.obstore.put(self.store, key, data)

    def get_object(self, key: str) -> bytes:
        return bytes(self.obstore.get(self.store, key).bytes())

    def list_prefix(self, prefix: str) -> int:
        # obstore prefixes are whole path segments, written without the trailing slash.
        path = prefix.rstrip("/")
        pages = self.obstore.list(self.store, path, chunk_size=_LIST_PAGE_SIZE)
        return sum(len(page) for page in pages)


@dataclass(frozen=True)
class ClientSpec:
    """A benchmarked client: how it is named in the table and how it is built."""

    name: str
    ours: bool  # fsspec-unified itself, as opposed to a peer it is compared with
    build: Callable[[Target], StorageClient]

    @property
    def bucket(self) -> str:
        """The client's own bucket, so that no client reads what another one wrote."""
        return "bench-" + re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


CLIENT_SPECS: tuple[ClientSpec, ...] = (
    ClientSpec("fsspec-unified s3", True, partial(UnifiedClient, provider="s3")),
    ClientSpec("fsspec-unified minio", True, partial(UnifiedClient, provider="minio")),
    ClientSpec("boto3", False, Boto3Client),
    ClientSpec("minio", False, MinioClient),
    ClientSpec("s3fs", False, S3fsClient),
    ClientSpec("obstore", False, ObstoreClient),
)


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
