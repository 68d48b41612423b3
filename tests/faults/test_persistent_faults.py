"""Under persistent faults every operation fails soon, says why, and loses nothing.

An outage (every matching request faulted) must end each operation within a bounded time
with a ``ConnectionError`` (or, for the server's error answers, a ``ServiceError``) or a
``TransferError``, whose message names what was tried and how often. And a failure must not
cost data: an object already under the target key stays as it was, no partial file appears
under a download's final name, no multipart upload is left on the server, and a transfer
asked to be resumable keeps what it needs, so a later run without faults completes it.

Faults are aimed at the requests that move the data (parts, GETs, copies, delete batches),
not at the aborts that clean up after them: with every request of the server failing, no
client can abort an upload (object stores expire those with a lifecycle rule).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

import pytest

from fsspec_unified.driver.types import MIB
from fsspec_unified.exceptions import ConnectionError, ServiceError, TransferError
from fsspec_unified.testing.fault_proxy import (
    ERROR_RESPONSES,
    INTERNAL_ERROR,
    RESET_REQUEST,
    RESET_RESPONSE,
    SLOWDOWN,
    STALL,
    TRUNCATE,
    FaultPlan,
    FaultProxy,
)
from tests.faults.conftest import FAST_RETRIES, PART_BYTES, faulty_filesystem
from tests.helpers import force_multipart_copy, pattern_bytes
from tests.reliability_tally import TALLY

#: Generous: five attempts with short waits take well under a second, stalls a few seconds.
BOUND_S = 30.0
ATTEMPTS = re.compile(r"after (up to )?\d+ attempts")
LARGE_BYTES = PART_BYTES + MIB + 7
SMALL_BYTES = 200 * 1024


def outage(kind: str, *requests: str, skip: int = 0, stall_s: float = 1.0) -> FaultPlan:
    """Every request of the given kinds gets ``kind``, after the first ``skip``."""
    return FaultPlan.persistent(kind, requests=frozenset(requests), skip=skip,
                                stall_s=stall_s)


def fails_cleanly(proxy: FaultProxy, kind: str, operation: Callable[[], object]) -> str:
    """Run ``operation`` under the proxy's outage of ``kind``: it must fail within
    :data:`BOUND_S` with the expected class and a message saying how often it tried, after
    trying more than once. Returns the message."""
    expected = (ServiceError if kind in ERROR_RESPONSES else ConnectionError, TransferError)
    started = time.monotonic()
    with pytest.raises(expected) as caught:
        operation()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < BOUND_S, f"took {elapsed:.1f} s to fail: {message}"
    assert ATTEMPTS.search(message), message
    assert proxy.injected[kind] >= FAST_RETRIES.max_attempts, proxy.injected
    TALLY.add("persistent_failures_reported")
    return message


def split(path: str) -> tuple[str, str]:
    bucket, key = path.split("/", 1)
    return bucket, key


def assert_intact(client, path: str, data: bytes) -> None:
    """The object under ``path`` is still ``data`` (else its bytes were lost)."""
    stored = client.get_object(*split(path))
    if stored != data:
        TALLY.add("bytes_lost", len(data))
    assert stored == data, f"{path} changed"
    TALLY.add("bytes_verified", len(data))


def assert_no_uploads(client, root: str) -> None:
    bucket, directory = split(root)
    assert list(client.list_multipart_uploads(bucket, f"{directory}/")) == []


def test_failed_multipart_upload_keeps_the_old_object_and_leaves_no_upload(
        faulty_fs, fault_proxy, fault_root, client, tmp_path):
    old = pattern_bytes(SMALL_BYTES, 10)
    client.put_object(*split(f"{fault_root}/target"), old)
    (tmp_path / "large").write_bytes(pattern_bytes(LARGE_BYTES, 11))
    fault_proxy.plan = outage(RESET_REQUEST, "upload_part")

    fails_cleanly(fault_proxy, RESET_REQUEST,
                  lambda: faulty_fs.put_file(str(tmp_path / "large"), f"{fault_root}/target"))

    fault_proxy.plan = None
    assert_intact(client, f"{fault_root}/target", old)
    assert_no_uploads(client, fault_root)


def test_failed_single_put_keeps_the_old_object(fault_store, fault_proxy, fault_root, client):
    # Only the PUTs stall, so a short read timeout keeps the five attempts short.
    fs = faulty_filesystem(fault_store, read_timeout_s=0.5)
    old = pattern_bytes(SMALL_BYTES, 12)
    client.put_object(*split(f"{fault_root}/target"), old)
    fault_proxy.plan = outage(STALL, "put_object", stall_s=0.8)

    fails_cleanly(fault_proxy, STALL,
                  lambda: fs.pipe(f"{fault_root}/target", pattern_bytes(SMALL_BYTES, 13)))

    fault_proxy.plan = None
    assert_intact(client, f"{fault_root}/target", old)


def test_failed_open_for_writing_leaves_no_object_and_no_upload(
        faulty_fs, fault_proxy, fault_root, client):
    data = pattern_bytes(LARGE_BYTES, 14)
    fault_proxy.plan = outage(SLOWDOWN, "upload_part")

    def write() -> None:
        with faulty_fs.open(f"{fault_root}/written", "wb") as handle:
            handle.write(data)

    fails_cleanly(fault_proxy, SLOWDOWN, write)

    fault_proxy.plan = None
    assert not client.object_exists(*split(f"{fault_root}/written"))
    assert_no_uploads(client, fault_root)


def test_failed_download_leaves_no_file(faulty_fs, fault_proxy, fault_root, client, tmp_path):
    client.put_object(*split(f"{fault_root}/object"), pattern_bytes(LARGE_BYTES, 15))
    fault_proxy.plan = outage(TRUNCATE, "get_object")
    target = tmp_path / "downloads" / "object"
    target.parent.mkdir()

    fails_cleanly(fault_proxy, TRUNCATE,
                  lambda: faulty_fs.get_file(f"{fault_root}/object", str(target)))

    assert os.listdir(target.parent) == []  # neither the file nor a partial one


def test_failed_reads_say_how_often_they_were_tried(faulty_fs, fault_proxy, fault_root, client):
    path = f"{fault_root}/object"
    client.put_object(*split(path), pattern_bytes(SMALL_BYTES, 16))
    faulty_fs.info(path)  # the file opened below knows the object already
    fault_proxy.plan = outage(RESET_RESPONSE, "get_object")

    fails_cleanly(fault_proxy, RESET_RESPONSE, lambda: faulty_fs.cat_file(path))
    fails_cleanly(fault_proxy, RESET_RESPONSE,
                  lambda: faulty_fs.cat_ranges([path], [10], [5000], on_error="raise"))

    def read_a_block() -> None:
        with faulty_fs.open(path, "rb") as handle:
            handle.seek(1000)
            handle.read(10)

    fails_cleanly(fault_proxy, RESET_RESPONSE, read_a_block)


def test_failed_listings_say_how_often_they_were_tried(faulty_fs, fault_proxy, fault_root,
                                                       client):
    client.put_object(*split(f"{fault_root}/dir/object"), b"x")
    fault_proxy.plan = outage(INTERNAL_ERROR, "list")

    fails_cleanly(fault_proxy, INTERNAL_ERROR, lambda: faulty_fs.ls(fault_root))
    fails_cleanly(fault_proxy, INTERNAL_ERROR, lambda: faulty_fs.find(fault_root))


def test_failed_batch_delete_deletes_nothing(faulty_fs, fault_proxy, fault_root, client):
    names = [f"{fault_root}/f{i:02d}" for i in range(12)]
    for name in names:
        client.put_object(*split(name), name.encode())
    fault_proxy.plan = outage(RESET_REQUEST, "delete_objects")

    fails_cleanly(fault_proxy, RESET_REQUEST, lambda: faulty_fs.rm(names))

    fault_proxy.plan = None
    for name in names:
        assert_intact(client, name, name.encode())


def test_failed_copies_keep_the_old_target_and_leave_no_upload(
        faulty_fs, fault_proxy, fault_root, client, monkeypatch):
    old = pattern_bytes(SMALL_BYTES, 17)
    client.put_object(*split(f"{fault_root}/small"), pattern_bytes(SMALL_BYTES, 18))
    client.put_object(*split(f"{fault_root}/large"), pattern_bytes(LARGE_BYTES, 19))
    client.put_object(*split(f"{fault_root}/target"), old)
    force_multipart_copy(faulty_fs, monkeypatch, PART_BYTES)
    fault_proxy.plan = outage(INTERNAL_ERROR, "copy")

    fails_cleanly(fault_proxy, INTERNAL_ERROR,
                  lambda: faulty_fs.cp_file(f"{fault_root}/small", f"{fault_root}/target"))
    fails_cleanly(fault_proxy, INTERNAL_ERROR,
                  lambda: faulty_fs.cp_file(f"{fault_root}/large", f"{fault_root}/target"))

    fault_proxy.plan = None
    assert_intact(client, f"{fault_root}/target", old)
    assert_no_uploads(client, fault_root)


def test_resumable_upload_completes_after_the_outage(fault_store, fault_proxy, fault_root,
                                                     client, tmp_path):
    fs = faulty_filesystem(fault_store, resumable=True, checkpoint_dir=str(tmp_path / "ckpt"))
    data = pattern_bytes(LARGE_BYTES, 20)
    (tmp_path / "large").write_bytes(data)
    target = f"{fault_root}/resumed"
    fault_proxy.plan = outage(RESET_REQUEST, "upload_part", skip=1)  # one part gets through

    fails_cleanly(fault_proxy, RESET_REQUEST, lambda: fs.put_file(str(tmp_path / "large"),
                                                                  target))

    fault_proxy.plan = None
    bucket, directory = split(fault_root)
    kept = list(client.list_multipart_uploads(bucket, f"{directory}/"))
    assert [upload.key for upload in kept] == [split(target)[1]]  # kept for the resume
    assert os.listdir(tmp_path / "ckpt")
    fault_proxy.reset_counters()
    fs.put_file(str(tmp_path / "large"), target)
    assert fault_proxy.requests["upload_part"] == 1  # only the part that had failed
    assert_intact(client, target, data)
    assert_no_uploads(client, fault_root)
    TALLY.add("operations_survived", kind="put_file_resumed")


def test_resumable_download_completes_after_the_outage(fault_store, fault_proxy, fault_root,
                                                       client, tmp_path):
    fs = faulty_filesystem(fault_store, resumable=True, checkpoint_dir=str(tmp_path / "ckpt"))
    data = pattern_bytes(LARGE_BYTES, 21)
    client.put_object(*split(f"{fault_root}/object"), data)
    target = tmp_path / "downloads" / "object"
    target.parent.mkdir()
    fault_proxy.plan = outage(TRUNCATE, "get_object", skip=1)  # one range gets through

    fails_cleanly(fault_proxy, TRUNCATE,
                  lambda: fs.get_file(f"{fault_root}/object", str(target)))

    fault_proxy.plan = None
    assert not target.exists()
    assert len(os.listdir(target.parent)) == 1  # the partial file, kept for the resume
    fault_proxy.reset_counters()
    fs.get_file(f"{fault_root}/object", str(target))
    assert fault_proxy.requests["get_object"] == 1  # only the range that had failed
    assert target.read_bytes() == data
    assert os.listdir(target.parent) == ["object"]
    TALLY.add("bytes_verified", len(data))
    TALLY.add("operations_survived", kind="get_file_resumed")
