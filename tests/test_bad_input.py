"""Bad input, one row per case, for every provider: the error a caller gets, and what is left.

Each row is ``(id, act, expected, offline)``. ``act`` takes a :class:`Bundle` (clients, a
filesystem, a bucket, a key prefix and local directories for one provider) and does one
thing a careless or unlucky caller might do. ``expected`` is the exception class it must
raise (``None``: it must succeed, and ``act`` checks the result itself), the same for every
provider unless a row says otherwise per provider.

``offline`` rows run against an endpoint where nothing listens. Any request would fail with
``ConnectionError``, so a row that raises its own error there proves the error came before
any request; a row that expects ``ConnectionError`` there proves the input passed
validation (the boundary cases: a key of exactly the provider's maximum length, a bucket
name one provider forbids and the others allow). Online rows use the real server the suite starts.

After every row nothing may be left behind: no object and no multipart upload under the
row's prefix on the server, and, after a failure, nothing in the download directory (no
file under the final name, no partial file).

Decisions these rows pin down (the README quotes them):

- Bucket names follow each provider's rules before any request: 3-63 characters of
  lower-case letters, digits, ``.`` and ``-``, starting and ending with a letter or digit, no
  ``..``, not an IP address; OSS allows no ``.`` at all; MinIO also refuses ``.`` next to
  ``-`` (as its SDK and server do). AWS-only reserved names (``xn--...``, ``...-s3alias``)
  are left to the server: the ``s3`` provider also serves S3-compatible stores.
- Keys are refused before any request when empty, over the provider's limit in UTF-8 bytes
  (1,024; OSS 1,023) or not encodable as UTF-8 (a lone surrogate). A key being written
  (put, multipart upload, copy destination, presigned PUT) is also refused when it holds a
  control character (U+0000-U+001F, U+007F: NUL is refused by SeaweedFS and fits no local
  file name; the others cannot travel in a batch delete's XML) or a ``.`` or ``..`` segment
  (HTTP clients normalise those out of the URL: MinIO's SDK cannot send them, SeaweedFS and
  MinIO refuse them, and a download could not place them). Reading, listing or deleting a
  key that already exists (written by another tool) is never refused for its characters:
  the server answers (``test_s3_hot_path`` reads and lists such keys).
- Ranges on the filesystem are Python slices, as fsspec documents ``cat_file``: a negative
  bound counts from the end, a range past the end reads as ``b""`` (or is cut at the end),
  and a range whose end is before its start reads as ``b""`` (``data[5:2]``; fsspec's
  generic ``cat_file`` would read to the end there, ``f.read(2 - 5)``). Numpy integers are
  integers. Only a bound that is not an integer is invalid:
  ``InvalidRangeError`` before any request. The driver's ``get_object`` is stricter and
  refuses negative and inverted ranges (``InvalidRangeError``), reading past the end as
  ``b""``.
- Part sizes, worker counts, rate limits, timeouts and pool sizes must be positive numbers,
  retries 0 or more (whole numbers where they count something; ``True`` is not 1): a
  ``ConfigurationError`` naming the field, when the object is built.
- Presigned URLs last from 1 second to 7 days, whole seconds, on every provider.
- An unreachable endpoint, or HTTPS to a plain-HTTP server, is a ``ConnectionError`` within
  seconds, not a hang.
- A checkpoint that cannot be read (corrupt, not UTF-8, truncated, some other JSON) is
  discarded with a warning and the transfer starts over; it cannot name the multipart
  upload it was for, so that upload stays until the bucket's lifecycle rule removes it. A
  readable checkpoint that is not this transfer's (another object's, another endpoint's) is
  ignored and left alone: the multipart upload or partial file it names may be someone
  else's, so it is neither used, aborted nor removed. Either way the transfer completes with
  the right bytes and nothing of the old record is trusted.
- A local file that changes size during a multipart upload fails it (``UploadError``, an
  ``OSError``) and aborts the upload, resumable or not: a resume could never match the file.
- A download into a directory that is missing or not writable fails before any request
  (``FileNotFoundError``/``PermissionError``); a disk that fills mid-download raises the
  ``OSError`` the system gave (``EFBIG``/``ENOSPC``) and leaves no file behind.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import json
import math
import os
import pwd
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import fsspec
import numpy as np
import pytest

from fsspec_unified import (
    OSSConfig,
    ProgressCallback,
    RetryPolicy,
    TransferConfig,
    TransferManager,
    create_client,
    exceptions,
)
from fsspec_unified.driver.base_oss import BaseOSSClient
from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.engine.part_sizes import choose_part_size
from fsspec_unified.driver.models import TransferProgress
from fsspec_unified.driver.types import KIB, MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from tests.helpers import pattern_bytes
from tests.reliability_tally import TALLY

if TYPE_CHECKING:
    from tests.conftest import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
UPLOAD_PART_BYTES = 5 * MIB  # the smallest part SeaweedFS accepts (every provider here)
UPLOAD_BYTES = UPLOAD_PART_BYTES + 4321  # two parts: a multipart upload, with a checkpoint
DOWNLOAD_RANGE_BYTES = 1 * MIB
DOWNLOAD_BYTES = 3 * MIB + 17  # four ranges
FAST_RETRIES = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05)
WEEK_S = 7 * 24 * 3600
QUICK_S = 5.0  # "quickly": one request to an unreachable endpoint fails well within this
NOT_A_HANG_S = 20.0  # through the filesystem, whose engine retries a refused connection


def free_port() -> int:
    """A loopback port with nothing listening on it (free when this returns)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Bundle:
    """What a row works with, for one provider.

    ``client`` and ``fs`` point at the row's endpoint (nowhere, for an offline row); ``live``
    is always the real server, used to set up and to check what is left. ``local`` holds the
    row's local files, ``out`` is where downloads go, ``checkpoints`` the transfer records.
    """

    provider: str
    store: Store
    client: BaseOSSClient
    live: BaseOSSClient
    endpoint_url: str
    bucket: str
    prefix: str
    local: Path
    out: Path
    checkpoints: Path

    def options(self, **overrides: Any) -> dict[str, Any]:
        """Storage options for the row's endpoint (s3fs spellings), quick to fail."""
        return {
            "provider": self.provider, "endpoint_url": self.endpoint_url,
            "key": self.store.access_key, "secret": self.store.secret_key,
            "region": self.store.region, "max_retries": 0, "connect_timeout_s": 1,
            "read_timeout_s": 1, "skip_instance_cache": True, **overrides,
        }

    def make_fs(self, **overrides: Any) -> UnifiedFileSystem:
        return fsspec.filesystem("unified", **self.options(**overrides))

    @property
    def fs(self) -> UnifiedFileSystem:
        return self.make_fs()

    def config(self, **overrides: Any) -> OSSConfig:
        quick = {"max_retries": 0, "connect_timeout_s": 1, "read_timeout_s": 1}
        return self.store.config(**{"endpoint": self.endpoint_url, **quick, **overrides})

    def key(self, name: str) -> str:
        return self.prefix + name

    def path(self, name: str) -> str:
        return f"{self.bucket}/{self.key(name)}"

    def put(self, name: str, data: bytes) -> str:
        """Store ``data`` on the real server; the row deletes it (see :meth:`delete`)."""
        self.live.put_object(self.bucket, self.key(name), data)
        return self.path(name)

    def delete(self, name: str) -> None:
        self.live.delete_object(self.bucket, self.key(name))

    def transfers(self, **overrides: Any) -> TransferManager:
        values: dict[str, Any] = {
            "part_size_bytes": UPLOAD_PART_BYTES, "max_workers": 2,
            "retry_policy": FAST_RETRIES, "checkpoint_dir": str(self.checkpoints),
            **overrides,
        }
        return TransferManager(TransferConfig(**values))


Expected = type[BaseException] | None | Mapping[str, type[BaseException] | None]


class Row(NamedTuple):
    """One bad input: its id, what to do, what must be raised, whether nothing listens."""

    id: str
    act: Callable[[Bundle], object]
    expected: Expected
    offline: bool


def per_provider(default: type[BaseException] | None,
                 **overrides: type[BaseException] | None) -> Mapping[str, Any]:
    return {"s3": default, "minio": default, "oss": default, **overrides}


# -- acts --------------------------------------------------------------------------------------


def create_bucket(name: str) -> Callable[[Bundle], object]:
    return lambda b: b.client.create_bucket(name)


def put_key(key: str) -> Callable[[Bundle], object]:
    return lambda b: b.client.put_object(b.bucket, key, b"x")


def put_key_at_provider_limit(b: Bundle) -> None:
    b.client.put_object(b.bucket, "k" * b.client.capabilities.max_key_bytes, b"x")


def put_key_one_byte_over_limit(b: Bundle) -> None:
    b.client.put_object(b.bucket, "k" * (b.client.capabilities.max_key_bytes + 1), b"x")


def put_key_over_limit_only_in_utf8(b: Bundle) -> None:
    """Fewer characters than the limit, more bytes: the limit is in UTF-8 bytes."""
    key = "é" * (b.client.capabilities.max_key_bytes // 2 + 1)
    assert len(key) < b.client.capabilities.max_key_bytes
    b.client.put_object(b.bucket, key, b"x")


def pipe_through_fs(name: str) -> Callable[[Bundle], object]:
    """The same checks through the filesystem a user calls."""
    return lambda b: b.fs.pipe_file(f"{b.bucket}/{name}", b"x")


def round_trip_key(name: str) -> Callable[[Bundle], object]:
    """Characters that are accepted must come back unchanged from a listing and a GET."""
    def act(b: Bundle) -> None:
        key = b.key(name)
        b.live.put_object(b.bucket, key, b"round trip")
        try:
            listed = [entry.key for entry in b.live.list_objects(b.bucket, b.prefix)]
            assert listed == [key]
            assert b.live.get_object(b.bucket, key) == b"round trip"
        finally:
            b.live.delete_object(b.bucket, key)
    return act


RANGE_DATA = bytes(range(100))


def cat_file_is_slice(start: Any, end: Any) -> Callable[[Bundle], object]:
    """``fs.cat_file(path, start, end)`` must equal ``data[start:end]``."""
    def act(b: Bundle) -> None:
        path = b.put("range.bin", RANGE_DATA)
        try:
            assert b.make_fs().cat_file(path, start, end) == RANGE_DATA[start:end]
        finally:
            b.delete("range.bin")
    return act


def cat_ranges_are_slices(b: Bundle) -> None:
    path = b.put("ranges.bin", RANGE_DATA)
    starts, ends = [-3, 5, 90, None, 10], [None, 2, 200, -95, 10]
    try:
        got = b.make_fs().cat_ranges([path] * 5, starts, ends, on_error="raise")
        assert got == [RANGE_DATA[s:e] for s, e in zip(starts, ends, strict=True)]
    finally:
        b.delete("ranges.bin")


def cat_file(start: Any, end: Any) -> Callable[[Bundle], object]:
    return lambda b: b.fs.cat_file(b.path("never-read"), start, end)


def get_object(start: Any, end: Any) -> Callable[[Bundle], object]:
    return lambda b: b.client.get_object(b.bucket, b.key("never-read"), start, end)


def get_object_past_the_end(b: Bundle) -> None:
    b.put("short.bin", RANGE_DATA)
    try:
        assert b.live.get_object(b.bucket, b.key("short.bin"), 100, 200) == b""
        assert b.live.get_object(b.bucket, b.key("short.bin"), 90, 200) == RANGE_DATA[90:]
    finally:
        b.delete("short.bin")


def transfer_config(**values: Any) -> Callable[[Bundle], object]:
    return lambda b: TransferConfig(**values)


def transfer_manager(**values: Any) -> Callable[[Bundle], object]:
    return lambda b: TransferManager(**values)


def filesystem(**options: Any) -> Callable[[Bundle], object]:
    return lambda b: b.make_fs(**options)


def oss_config(**values: Any) -> Callable[[Bundle], object]:
    return lambda b: b.config(**values)


def put_file_with_part_size(part_size: Any) -> Callable[[Bundle], object]:
    def act(b: Bundle) -> None:
        source = b.local / "source.bin"
        source.write_bytes(b"x" * 10)
        b.client.put_file(b.bucket, b.key("parts.bin"), source, part_size=part_size)
    return act


def sign(expiration: Any) -> Callable[[Bundle], object]:
    return lambda b: b.fs.sign(b.path("signed"), expiration=expiration)


def sign_for_a_week(b: Bundle) -> None:
    url = b.fs.sign(b.path("signed"), expiration=WEEK_S)
    assert url.startswith(b.endpoint_url)


def presigned_url(method: str, expires_s: Any) -> Callable[[Bundle], object]:
    return lambda b: b.client.presigned_url(b.bucket, b.key("signed"), method, expires_s)


def unknown_provider(b: Bundle) -> None:
    b.make_fs(provider="gcs")


def unknown_provider_in_config(b: Bundle) -> None:
    OSSConfig(provider="gcs", endpoint=b.endpoint_url)


def endpoint(url: str) -> Callable[[Bundle], object]:
    return lambda b: b.make_fs(endpoint_url=url)


def nothing_listening(b: Bundle) -> None:
    """A free port: refused at once by the driver (no SDK retries configured), and within
    seconds through the filesystem (whose engine retries a refused connection a few times,
    as it would a restarting server)."""
    started = time.monotonic()
    try:
        b.client.head_object(b.bucket, b.key("anything"))
    except exceptions.ConnectionError:
        assert time.monotonic() - started < QUICK_S
    else:
        raise AssertionError("a request to a port where nothing listens succeeded")
    started = time.monotonic()
    try:
        b.fs.ls(b.bucket)
    finally:
        assert time.monotonic() - started < NOT_A_HANG_S


def https_to_plain_http(b: Bundle) -> None:
    """The server speaks HTTP; a client told to speak TLS to it must fail, not hang."""
    url = b.store.endpoint_url.replace("http://", "https://")
    client = create_client(b.store.config(endpoint=url, max_retries=0, connect_timeout_s=2,
                                          read_timeout_s=2))
    started = time.monotonic()
    try:
        client.head_object(b.bucket, b.key("anything"))
    finally:
        client.close()
        assert time.monotonic() - started < QUICK_S


def upload_missing_local_file(b: Bundle) -> None:
    with b.transfers() as manager:
        manager.upload_file(b.client, b.local / "absent.bin", b.key("absent.bin"),
                            bucket=b.bucket)


def upload_a_directory(b: Bundle) -> None:
    (b.local / "a-directory").mkdir()
    with b.transfers() as manager:
        manager.upload_file(b.client, b.local / "a-directory", b.key("dir.bin"),
                            bucket=b.bucket)


def download_into_missing_directory(b: Bundle) -> None:
    b.client.get_file(b.bucket, b.key("anything"), b.out / "missing" / "copy.bin")


def download_into_read_only_directory(b: Bundle) -> None:
    """Root ignores directory permissions: as root, the download runs in a child process
    as the unprivileged ``nobody`` (skipped when there is no such user)."""
    if os.geteuid() != 0:
        b.out.chmod(0o500)
        try:
            b.client.get_file(b.bucket, b.key("anything"), b.out / "copy.bin")
        finally:
            b.out.chmod(0o700)
        return
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("running as root, and there is no unprivileged user to run as")
    with tempfile.TemporaryDirectory(prefix="read-only-") as parent:
        os.chmod(parent, 0o755)  # reachable by nobody; the directory inside is not writable
        read_only = Path(parent) / "out"
        read_only.mkdir(mode=0o555)
        args = {"config": {"provider": b.provider, "endpoint": b.endpoint_url,
                           "access_key": b.store.access_key, "secret_key": b.store.secret_key,
                           "region": b.store.region, "max_retries": 0},
                "call": "get_file", "bucket": b.bucket, "key": b.key("anything"),
                "destination": str(read_only / "copy.bin")}
        report = run_child(args, user=nobody.pw_uid, group=nobody.pw_gid)
        assert list(read_only.iterdir()) == [], "a file was written"
    if report["error"] == "PermissionError":
        raise PermissionError(report["message"])
    raise AssertionError(f"expected PermissionError, the child reported {report}")


# A client call in a child process (see the two rows that need one), reported as JSON.
_CHILD = """
import json, os, resource, signal, sys
args = json.loads(sys.argv[1])
from fsspec_unified import OSSConfig, TransferManager, create_client
client = create_client(OSSConfig(**args["config"]))
if "file_size_limit" in args:  # as on a full disk: writes past it fail with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (args["file_size_limit"],
                                               resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    if args["call"] == "get_file":
        client.get_file(args["bucket"], args["key"], args["destination"])
    else:
        with TransferManager(part_size_bytes=args["range"], max_workers=2) as manager:
            manager.download_file(client, args["key"], args["destination"],
                                  bucket=args["bucket"])
except BaseException as error:
    print(json.dumps({"error": type(error).__name__, "errno": getattr(error, "errno", None),
                      "is_oserror": isinstance(error, OSError), "message": str(error)}))
else:
    print(json.dumps({"error": None}))
"""


def run_child(args: dict[str, Any], **options: Any) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    child = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)],
                           capture_output=True, text=True, timeout=60, env=env, cwd=REPO_ROOT,
                           check=False, **options)
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


class DiskFull(OSError):
    """What the child reported: the error its download raised when the disk filled."""


def disk_fills_during_download(b: Bundle) -> None:
    """A file-size limit (``RLIMIT_FSIZE``) in a child process stands in for a full disk: no
    root or mount needed, and the write fails as on a full disk (EFBIG; ENOSPC there)."""
    b.put("big.bin", pattern_bytes(DOWNLOAD_BYTES, seed=3))
    try:
        config = {"provider": b.provider, "endpoint": b.store.endpoint_url,
                  "access_key": b.store.access_key, "secret_key": b.store.secret_key,
                  "region": b.store.region}
        report = run_child({
            "config": config, "file_size_limit": MIB + 100, "range": DOWNLOAD_RANGE_BYTES,
            "call": "download_file", "key": b.key("big.bin"), "bucket": b.bucket,
            "destination": str(b.out / "copy.bin")})
    finally:
        b.delete("big.bin")
    assert report["is_oserror"], report
    assert report["errno"] in (errno.EFBIG, errno.ENOSPC), report
    raise DiskFull(report["errno"], report["message"])


class ChangeOnFirstProgress(ProgressCallback):
    """Changes the file being uploaded when the first part is reported."""

    def __init__(self, change: Callable[[], None]) -> None:
        self.change = change
        self.changed = False

    def on_progress(self, bytes_transferred: int, total_bytes: int, start_time: datetime,
                    current_speed: float) -> None:
        if not self.changed and bytes_transferred:
            self.changed = True
            self.change()


def file_changes_during_upload(how: str, *, resumable: bool) -> Callable[[Bundle], object]:
    def act(b: Bundle) -> None:
        source = b.local / "changing.bin"
        source.write_bytes(pattern_bytes(UPLOAD_BYTES, seed=5))

        def change() -> None:
            if how == "grow":
                with source.open("ab") as handle:
                    handle.write(b"grown" * 1000)
            else:
                os.truncate(source, UPLOAD_BYTES // 2)

        callback = ChangeOnFirstProgress(change)
        try:
            with b.transfers(max_workers=1, resumable=resumable) as manager:
                manager.upload_file(b.client, source, b.key("changing.bin"), callback,
                                    bucket=b.bucket)
        finally:
            assert callback.changed, "the file was never changed: the row proved nothing"
            assert list(b.checkpoints.glob("*")) == [], "a record of an upload that can't resume"
    return act


# -- checkpoints -------------------------------------------------------------------------------

class Stranger(NamedTuple):
    """What a foreign record names: ``verify`` asserts it is intact, ``remove`` cleans up."""

    verify: Callable[[], None]
    remove: Callable[[], None]


NO_STRANGER = Stranger(lambda: None, lambda: None)
RecordWriter = Callable[[Bundle, Path, dict[str, Any]], Stranger]


def corrupt_record(b: Bundle, path: Path, identity: dict[str, Any]) -> Stranger:
    path.write_bytes(b"\x00\xff{ not json at all \x1b")
    return NO_STRANGER


def truncated_record(b: Bundle, path: Path, identity: dict[str, Any]) -> Stranger:
    """The first half of this transfer's own record (a crash mid-write, or a full disk)."""
    text = TransferProgress(**identity).to_json() + "\n"
    path.write_text(text[: len(text) // 2])
    return NO_STRANGER


def unrelated_json(b: Bundle, path: Path, identity: dict[str, Any]) -> Stranger:
    path.write_text(json.dumps({"name": "some other tool's file", "version": 3}) + "\n")
    return NO_STRANGER


def foreign_record(whose: str) -> RecordWriter:
    """A readable record that matches this transfer in everything but whose it is: another
    object's (``whose="object"``) or another endpoint's (``"endpoint"``). For an upload it
    names a real multipart upload on this server (a stranger's), which must be neither
    adopted nor aborted; for a download it claims every range of a partial file of zeros
    beside the destination, which must neither end up in the download nor be removed."""
    def write(b: Bundle, path: Path, identity: dict[str, Any]) -> Stranger:
        values = dict(identity)
        if whose == "object":
            values["key"] = b.key("someone-else.bin")
        else:
            values["endpoint"] = "elsewhere.example:9000"
        if values["kind"] == "upload":
            stranger_key = values["key"]
            upload_id = b.live.create_multipart_upload(b.bucket, stranger_key)
            values["upload_id"] = upload_id
            path.write_text(TransferProgress(**values).to_json() + "\n")

            def upload_intact() -> None:
                uploads = b.live.list_multipart_uploads(b.bucket, b.prefix)
                assert upload_id in [upload.upload_id for upload in uploads], \
                    "a stranger's multipart upload was used or aborted"

            def abort() -> None:
                with contextlib.suppress(exceptions.UploadNotFoundError):
                    b.live.abort_multipart_upload(b.bucket, stranger_key, upload_id)
            return Stranger(upload_intact, abort)
        destination = Path(values["local_path"])
        partial = destination.with_name(f".{destination.name}.foreign.partial")
        zeros = bytes(values["total_size"])
        partial.write_bytes(zeros)
        ranges = -(-values["total_size"] // values["part_size"])
        values.update(temp_file=str(partial), transferred=values["total_size"],
                      parts_completed=dict.fromkeys(range(1, ranges + 1), ""))
        path.write_text(TransferProgress(**values).to_json() + "\n")

        def partial_intact() -> None:
            assert partial.read_bytes() == zeros, "a stranger's partial file was touched"
        return Stranger(partial_intact, lambda: partial.unlink(missing_ok=True))
    return write


def upload_over_checkpoint(write_record: RecordWriter) -> Callable[[Bundle], object]:
    """A resumable upload whose checkpoint was replaced by ``write_record`` before it ran."""
    def act(b: Bundle) -> None:
        data = pattern_bytes(UPLOAD_BYTES, seed=11)
        source = b.local / "source.bin"
        source.write_bytes(data)
        key = b.key("uploaded.bin")
        identity = {"kind": "upload", "provider": b.client.provider,
                    "endpoint": b.client.config.endpoint, "bucket": b.bucket, "key": key,
                    "local_path": os.path.abspath(source)}
        record_path = CheckpointStore(b.checkpoints).path_for(**identity)
        b.checkpoints.mkdir(exist_ok=True)
        part_size = choose_part_size(UPLOAD_BYTES, UPLOAD_PART_BYTES, b.client.capabilities)
        stranger = write_record(b, record_path, {
            **identity, "total_size": UPLOAD_BYTES, "part_size": part_size,
            "local_mtime_ns": os.stat(source).st_mtime_ns, "upload_id": "no-such-upload"})
        try:
            with b.transfers(resumable=True) as manager:
                result = manager.upload_file(b.client, source, key, bucket=b.bucket)
            stranger.verify()
            assert result.parts_resumed == 0
            assert b.live.get_object(b.bucket, key) == data
            assert not record_path.exists()
        finally:
            stranger.remove()
            b.live.delete_object(b.bucket, key)
    return act


def download_over_checkpoint(write_record: RecordWriter) -> Callable[[Bundle], object]:
    """A resumable download whose checkpoint was replaced by ``write_record`` before it ran."""
    def act(b: Bundle) -> None:
        data = pattern_bytes(DOWNLOAD_BYTES, seed=13)
        key = b.key("downloaded.bin")
        written = b.live.put_object(b.bucket, key, data)
        destination = os.path.abspath(b.out / "copy.bin")
        identity = {"kind": "download", "provider": b.client.provider,
                    "endpoint": b.client.config.endpoint, "bucket": b.bucket, "key": key,
                    "local_path": destination}
        record_path = CheckpointStore(b.checkpoints).path_for(**identity)
        b.checkpoints.mkdir(exist_ok=True)
        stranger = write_record(b, record_path, {
            **identity, "total_size": DOWNLOAD_BYTES, "part_size": DOWNLOAD_RANGE_BYTES,
            "remote_etag": written.etag})
        try:
            with b.transfers(resumable=True, part_size_bytes=DOWNLOAD_RANGE_BYTES) as manager:
                result = manager.download_file(b.client, key, destination, bucket=b.bucket)
            stranger.verify()
            stranger.remove()
            assert result.parts_resumed == 0
            assert Path(destination).read_bytes() == data
            assert sorted(os.listdir(b.out)) == ["copy.bin"], "a partial file was left"
            assert not record_path.exists()
        finally:
            stranger.remove()
            b.live.delete_object(b.bucket, key)
            Path(destination).unlink(missing_ok=True)
    return act


# -- the table ---------------------------------------------------------------------------------

E = exceptions
BUCKET = E.InvalidBucketNameError
KEY = E.InvalidKeyError
RANGE = E.InvalidRangeError
CONFIG = E.ConfigurationError
ARGUMENT = E.InvalidArgumentError
REACHED_THE_NETWORK = E.ConnectionError  # offline: the input passed validation

ROWS: list[Row] = [
    # Bucket names, by each provider's rules.
    Row("bucket-too-short", create_bucket("ab"), BUCKET, True),
    Row("bucket-too-long", create_bucket("b" * 64), BUCKET, True),
    Row("bucket-empty", create_bucket(""), BUCKET, True),
    Row("bucket-uppercase", create_bucket("MyBucket"), BUCKET, True),
    Row("bucket-underscore", create_bucket("my_bucket"), BUCKET, True),
    Row("bucket-ip-address", create_bucket("192.168.5.4"), BUCKET, True),
    Row("bucket-leading-hyphen", create_bucket("-bucket"), BUCKET, True),
    Row("bucket-trailing-hyphen", create_bucket("bucket-"), BUCKET, True),
    Row("bucket-double-dot", create_bucket("my..bucket"), BUCKET, True),
    Row("bucket-trailing-dot", create_bucket("bucket."), BUCKET, True),
    Row("bucket-through-fs-path", lambda b: b.fs.pipe_file("Not_A_Bucket/key", b"x"), BUCKET,
        True),
    Row("bucket-dot-oss-forbids", create_bucket("my.bucket"),
        per_provider(REACHED_THE_NETWORK, oss=BUCKET), True),
    Row("bucket-dot-next-to-hyphen-minio-forbids", create_bucket("my.-bucket"),
        per_provider(REACHED_THE_NETWORK, minio=BUCKET, oss=BUCKET), True),
    Row("bucket-63-characters-accepted", create_bucket("b" * 63), REACHED_THE_NETWORK, True),
    # Keys.
    Row("key-empty", put_key(""), KEY, True),
    Row("key-at-provider-limit-accepted", put_key_at_provider_limit, REACHED_THE_NETWORK, True),
    Row("key-one-byte-over-limit", put_key_one_byte_over_limit, KEY, True),
    Row("key-over-limit-in-utf8-bytes", put_key_over_limit_only_in_utf8, KEY, True),
    Row("key-lone-surrogate", put_key("bad\udc80key"), KEY, True),
    Row("key-nul", put_key("nul\x00key"), KEY, True),
    Row("key-control-character", put_key("ctl\x01key"), KEY, True),
    Row("key-escape-and-del", put_key("esc\x1bdel\x7f"), KEY, True),
    Row("key-newline-through-fs", lambda b: b.fs.pipe_file(b.path("line\nbreak"), b"x"), KEY,
        True),
    Row("key-nul-through-fs", lambda b: b.fs.pipe_file(b.path("nul\x00"), b"x"), KEY, True),
    Row("key-dot-dot-segment", put_key("a/../b"), KEY, True),
    Row("key-leading-dot-dot", put_key("../escape"), KEY, True),
    Row("key-dot-segment", put_key("a/./b"), KEY, True),
    Row("key-dot-dot-through-fs", pipe_through_fs("dir/../x"), KEY, True),
    Row("key-dots-inside-a-name-round-trip", round_trip_key("x..y/.hidden/v1.2..3"), None,
        False),
    Row("key-tab-newline-cr-del", put_key("t\tn\nr\rd\x7f"), KEY, True),
    # Ranges: the filesystem slices as Python does; only non-integers are invalid.
    Row("range-negative-start-counts-from-end", cat_file_is_slice(-3, None), None, False),
    Row("range-negative-end-counts-from-end", cat_file_is_slice(None, -3), None, False),
    Row("range-start-before-the-beginning", cat_file_is_slice(-500, 4), None, False),
    Row("range-past-eof-reads-empty", cat_file_is_slice(150, 300), None, False),
    Row("range-end-past-eof-is-cut", cat_file_is_slice(95, 300), None, False),
    Row("range-inverted-reads-empty", cat_file_is_slice(5, 2), None, False),
    Row("range-numpy-integers", cat_file_is_slice(np.int64(2), np.int64(7)), None, False),
    Row("range-cat-ranges-slice-too", cat_ranges_are_slices, None, False),
    Row("range-fractional-start", cat_file(1.5, 4), RANGE, True),
    Row("range-fractional-end", cat_file(8, 3.0), RANGE, True),
    Row("range-fractional-negative-start", cat_file(-1.5, None), RANGE, True),
    Row("range-string-bound", cat_file("0", 4), RANGE, True),
    Row("driver-range-negative-start", get_object(-1, None), RANGE, True),
    Row("driver-range-negative-end", get_object(0, -3), RANGE, True),
    Row("driver-range-inverted", get_object(5, 2), RANGE, True),
    Row("driver-range-past-eof-reads-empty", get_object_past_the_end, None, False),
    # Part sizes, workers, rate limits, retries, timeouts.
    Row("transfer-part-size-zero", transfer_config(part_size_bytes=0), CONFIG, True),
    Row("transfer-part-size-negative", transfer_config(part_size_bytes=-MIB), CONFIG, True),
    Row("transfer-part-size-fractional", transfer_config(part_size_bytes=5.5 * MIB), CONFIG,
        True),
    Row("transfer-part-size-bool", transfer_config(part_size_bytes=True), CONFIG, True),
    Row("transfer-workers-zero", transfer_manager(max_workers=0), CONFIG, True),
    Row("transfer-workers-negative", transfer_manager(max_workers=-4), CONFIG, True),
    Row("transfer-workers-bool", transfer_manager(max_workers=True), CONFIG, True),
    Row("transfer-rate-limit-zero", transfer_config(rate_limit_bytes_per_s=0), CONFIG, True),
    Row("transfer-rate-limit-negative", transfer_config(rate_limit_bytes_per_s=-1e6), CONFIG,
        True),
    Row("transfer-rate-limit-nan", transfer_config(rate_limit_bytes_per_s=math.nan), CONFIG,
        True),
    Row("transfer-rate-limit-text", transfer_config(rate_limit_bytes_per_s="fast"), CONFIG,
        True),
    Row("fs-block-size-zero", filesystem(block_size=0), CONFIG, True),
    Row("fs-block-size-negative-text", filesystem(block_size="-8"), CONFIG, True),
    Row("fs-block-size-not-a-number", filesystem(block_size="eight MiB"), CONFIG, True),
    Row("fs-block-size-fractional-bytes", filesystem(block_size="1.5B"), CONFIG, True),
    Row("fs-max-workers-zero", filesystem(max_workers=0), CONFIG, True),
    Row("fs-rate-limit-zero", filesystem(rate_limit_bytes_per_s=0), CONFIG, True),
    Row("fs-rate-limit-negative-text", filesystem(rate_limit_bytes_per_s="-5"), CONFIG, True),
    Row("fs-rate-limit-scope-unknown", filesystem(rate_limit_scope="galaxy"), CONFIG, True),
    Row("driver-part-size-zero", put_file_with_part_size(0), ARGUMENT, True),
    Row("driver-part-size-below-provider-minimum", put_file_with_part_size(64 * KIB),
        ARGUMENT, True),
    Row("config-max-retries-negative", oss_config(max_retries=-1), CONFIG, True),
    Row("config-max-retries-fractional", oss_config(max_retries=1.5), CONFIG, True),
    Row("config-connect-timeout-zero", oss_config(connect_timeout_s=0), CONFIG, True),
    Row("config-read-timeout-text", oss_config(read_timeout_s="slow"), CONFIG, True),
    Row("config-pool-zero", oss_config(max_pool_connections=0), CONFIG, True),
    # Presigned URLs.
    Row("presign-zero", sign(0), ARGUMENT, True),
    Row("presign-negative", sign(-60), ARGUMENT, True),
    Row("presign-over-7-days", sign(WEEK_S + 1), ARGUMENT, True),
    Row("presign-fractional", sign(90.5), ARGUMENT, True),
    Row("presign-7-days-accepted", sign_for_a_week, None, True),
    Row("driver-presign-zero", presigned_url("GET", 0), ARGUMENT, True),
    Row("driver-presign-over-7-days", presigned_url("PUT", WEEK_S + 1), ARGUMENT, True),
    Row("driver-presign-method", presigned_url("DELETE", 60), ARGUMENT, True),
    # Providers and endpoints.
    Row("provider-unknown", unknown_provider, CONFIG, True),
    Row("provider-unknown-in-config", unknown_provider_in_config, CONFIG, True),
    Row("storage-option-misspelt", filesystem(endpont_url="http://127.0.0.1:9"), CONFIG,
        True),
    Row("endpoint-missing-colon", endpoint("http//x"), CONFIG, True),
    Row("endpoint-ftp-scheme", endpoint("ftp://host"), CONFIG, True),
    Row("endpoint-no-host", endpoint("http://"), CONFIG, True),
    Row("endpoint-empty", endpoint(""), CONFIG, True),
    Row("endpoint-port-out-of-range", endpoint("http://127.0.0.1:99999"), CONFIG, True),
    Row("endpoint-with-a-path", endpoint("http://127.0.0.1:9000/bucket"), CONFIG, True),
    Row("endpoint-nothing-listening", nothing_listening, E.ConnectionError, True),
    Row("endpoint-https-to-plain-http", https_to_plain_http, E.ConnectionError, False),
    # Local files.
    Row("upload-missing-local-file", upload_missing_local_file, FileNotFoundError, True),
    Row("upload-a-directory", upload_a_directory, IsADirectoryError, True),
    Row("download-into-missing-directory", download_into_missing_directory,
        FileNotFoundError, True),
    Row("download-into-read-only-directory", download_into_read_only_directory,
        PermissionError, True),
    Row("download-disk-fills", disk_fills_during_download, DiskFull, False),
    Row("upload-file-grows", file_changes_during_upload("grow", resumable=False),
        E.UploadError, False),
    Row("upload-file-shrinks", file_changes_during_upload("shrink", resumable=False),
        E.UploadError, False),
    Row("upload-file-grows-resumable", file_changes_during_upload("grow", resumable=True),
        E.UploadError, False),
    # Checkpoints that are not what they should be: a clean start-over, nothing trusted.
    Row("upload-checkpoint-corrupt", upload_over_checkpoint(corrupt_record), None, False),
    Row("upload-checkpoint-truncated", upload_over_checkpoint(truncated_record), None, False),
    Row("upload-checkpoint-unrelated-json", upload_over_checkpoint(unrelated_json), None,
        False),
    Row("upload-checkpoint-of-another-object",
        upload_over_checkpoint(foreign_record("object")), None, False),
    Row("upload-checkpoint-of-another-endpoint",
        upload_over_checkpoint(foreign_record("endpoint")), None,
        False),
    Row("download-checkpoint-corrupt", download_over_checkpoint(corrupt_record), None, False),
    Row("download-checkpoint-truncated", download_over_checkpoint(truncated_record), None,
        False),
    Row("download-checkpoint-unrelated-json", download_over_checkpoint(unrelated_json), None,
        False),
    Row("download-checkpoint-of-another-object",
        download_over_checkpoint(foreign_record("object")), None, False),
    Row("download-checkpoint-of-another-endpoint",
        download_over_checkpoint(foreign_record("endpoint")), None,
        False),
]


# -- fixtures and the test ---------------------------------------------------------------------


@pytest.fixture
def offline_client(store: Store) -> Iterator[tuple[str, BaseOSSClient]]:
    """A client of ``store``'s provider for a free port where nothing listens."""
    url = f"http://127.0.0.1:{free_port()}"
    with create_client(store.config(endpoint=url, max_retries=0, connect_timeout_s=1,
                                    read_timeout_s=1)) as offline:
        yield url, offline


@pytest.fixture
def bundles(store: Store, client: BaseOSSClient, bucket: str, prefix: str,
            offline_client: tuple[str, BaseOSSClient],
            tmp_path: Path) -> Callable[[bool], Bundle]:
    def make(offline: bool) -> Bundle:
        for name in ("local", "out"):
            (tmp_path / name).mkdir(exist_ok=True)
        url, offline_driver = offline_client
        return Bundle(
            provider=store.provider, store=store,
            client=offline_driver if offline else client, live=client,
            endpoint_url=url if offline else store.endpoint_url, bucket=bucket, prefix=prefix,
            local=tmp_path / "local", out=tmp_path / "out",
            checkpoints=tmp_path / "checkpoints",
        )
    return make


def _expected_for(row: Row, provider: str) -> type[BaseException] | None:
    if isinstance(row.expected, Mapping):
        return row.expected[provider]
    return row.expected


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row: Row, bundles: Callable[[bool], Bundle], provider: str) -> None:
    """One row: the expected error (before any request for offline rows) and nothing left."""
    b = bundles(row.offline)
    expected = _expected_for(row, provider)
    counted = True
    try:
        if expected is None:
            row.act(b)
        else:
            with pytest.raises(expected) as caught:
                row.act(b)
            if not issubclass(expected, builtins.ConnectionError):
                # Offline, a request would have been refused: this error came before it.
                assert not isinstance(caught.value, builtins.ConnectionError), caught.value
            assert str(caught.value), "an error must say what was wrong"
            assert list(b.out.iterdir()) == [], "a failed download left a file"
    except pytest.skip.Exception:
        counted = False
        raise
    finally:
        if counted:
            TALLY.add("bad_inputs_tried")
    assert list(b.live.list_objects(b.bucket, b.prefix)) == [], "an object was left behind"
    assert list(b.live.list_multipart_uploads(b.bucket, b.prefix)) == [], \
        "a multipart upload was left behind"

