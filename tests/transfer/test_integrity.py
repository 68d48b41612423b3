"""Integrity without guessing, over HTTP for every provider (issue 8, items 1, 3 and 5).

The ETag proxy (``fsspec_unified.testing.etag_proxy``) gives clients ETags that are not the MD5
of the bytes, as AWS does under SSE-KMS or SSE-C: transfers must still succeed and never
delete anything. Real corruption in flight must still be caught (the server rejects the body
by its Content-MD5 and the part is sent again). Downloads are pinned to the first ETag seen.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from fsspec_unified import create_client, exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.engine.control import TransferControl
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.transfer_manager import TransferManager
from fsspec_unified.driver.types import MIB
from tests.helpers import pattern_bytes

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)
PART = 5 * MIB


@pytest.fixture
def proxied_client(proxied_store):
    with create_client(proxied_store.config()) as driver:
        yield driver


def _manager(tmp_path, **overrides) -> TransferManager:
    values = {"part_size_bytes": PART, "retry_policy": FAST_RETRIES,
              "checkpoint_dir": tmp_path / "checkpoints", **overrides}
    return TransferManager(**values)


def test_uploads_and_downloads_succeed_when_etags_are_not_md5s_and_nothing_is_deleted(
        proxied_client, client, etag_proxy, bucket, prefix, tmp_path):
    small, large = pattern_bytes(1000, seed=31), pattern_bytes(2 * PART + 17, seed=32)
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)
    with _manager(tmp_path) as manager:
        single = manager.upload_file(proxied_client, tmp_path / "small", prefix + "small",
                                     bucket=bucket)
        multi = manager.upload_file(proxied_client, tmp_path / "large", prefix + "large",
                                    bucket=bucket)
        for name, data in (("small", small), ("large", large)):
            target = tmp_path / f"{name}.out"
            manager.download_file(proxied_client, prefix + name, target, bucket=bucket)
            assert target.read_bytes() == data
    assert single.etag.strip('"').lower() != hashlib.md5(small).hexdigest()  # the proxy works
    assert multi.parts_total == 3
    assert client.get_object(bucket, prefix + "small") == small
    assert client.get_object(bucket, prefix + "large") == large
    assert etag_proxy.requests["DELETE"] == 0
    assert etag_proxy.requests["GET"] >= 4  # the downloads' ranged GETs went through it


def test_a_body_corrupted_in_flight_is_rejected_and_sent_again(
        proxied_client, client, etag_proxy, bucket, prefix, tmp_path):
    data = pattern_bytes(2 * PART + 5, seed=33)
    (tmp_path / "src").write_bytes(data)
    etag_proxy.corrupt_next_bodies(2, min_size_bytes=MIB)
    with _manager(tmp_path) as manager:
        result = manager.upload_file(proxied_client, tmp_path / "src", prefix + "healed",
                                     bucket=bucket)
    assert etag_proxy.corrupted_bodies == 2
    assert result.size == len(data)
    assert client.get_object(bucket, prefix + "healed") == data
    assert etag_proxy.requests["DELETE"] == 0


def test_a_download_of_an_object_replaced_between_ranges_fails_and_leaves_no_file(
        proxied_client, client, etag_proxy, bucket, prefix, tmp_path):
    key = prefix + "replaced"
    client.put_object(bucket, key, pattern_bytes(3 * PART, seed=34))
    replaced_at: list[int] = []

    class ReplaceAfterFirstRange(ProgressCallback):
        def on_progress(self, done, total, start_time, speed):
            if done and not replaced_at:
                client.put_object(bucket, key, pattern_bytes(3 * PART, seed=35))  # unproxied
                replaced_at.append(len(etag_proxy.log))

    out = tmp_path / "out"
    out.mkdir()
    with _manager(tmp_path, max_workers=1) as manager, pytest.raises(OSError) as caught:
        manager.download_file(proxied_client, key, out / "replaced.bin",
                              ReplaceAfterFirstRange(), bucket=bucket)
    # No byte of the new version was fetched: the next ranged GET was refused (If-Match).
    after = [status for method, _, status in etag_proxy.log[replaced_at[0]:] if method == "GET"]
    assert after == [412]
    assert isinstance(caught.value, exceptions.ConcurrentModificationError)
    assert os.listdir(out) == []  # neither the final name nor a partial file


def test_resume_resends_parts_whose_local_bytes_changed_under_the_same_size_and_mtime(
        client, bucket, prefix, tmp_path):
    path = tmp_path / "src.bin"
    path.write_bytes(pattern_bytes(4 * PART, seed=36))
    control = TransferControl()
    manager = _manager(tmp_path, resumable=True, max_workers=1)

    def cancel_after_part_3(part_number, body):
        if part_number == 3:
            control.cancel(keep_resumable=True)  # part 3 still goes up; part 4 never starts
        return body

    manager.part_body_hook = cancel_after_part_3
    with pytest.raises(exceptions.TransferCancelledError):
        manager.upload_file(client, path, prefix + "mixed", bucket=bucket, control=control)
    (upload,) = client.list_multipart_uploads(bucket, prefix)
    assert len(list(client.list_parts(bucket, prefix + "mixed", upload.upload_id))) == 3

    # Rewrite parts 1 and 3 in place, then restore the mtime (what cp -p or rsync -t do).
    before = os.stat(path)
    new = bytearray(path.read_bytes())
    new[0:PART] = pattern_bytes(PART, seed=37)
    new[2 * PART:3 * PART] = pattern_bytes(PART, seed=38)
    path.write_bytes(bytes(new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns

    resumed = _manager(tmp_path, resumable=True)
    result = resumed.upload_file(client, path, prefix + "mixed", bucket=bucket)
    assert client.get_object(bucket, prefix + "mixed") == bytes(new)
    assert (result.parts_resumed, result.parts_transferred) == (1, 3)
    assert list(client.list_multipart_uploads(bucket, prefix)) == []


@pytest.mark.parametrize("size", [1000, 2 * PART + 1], ids=["single-put", "multipart"])
def test_overwrite_false_refuses_an_existing_key_and_keeps_its_bytes(
        client, bucket, prefix, tmp_path, size):
    data = pattern_bytes(size, seed=39)
    (tmp_path / "src").write_bytes(data)
    key = prefix + "taken"
    with _manager(tmp_path) as manager:
        manager.upload_file(client, tmp_path / "src", key, bucket=bucket, overwrite=False)
        assert client.get_object(bucket, key) == data
        (tmp_path / "src").write_bytes(pattern_bytes(size, seed=40))
        with pytest.raises(exceptions.ObjectExistsError):
            manager.upload_file(client, tmp_path / "src", key, bucket=bucket, overwrite=False)
        with pytest.raises(FileExistsError), open(tmp_path / "src", "rb") as stream:
            manager.upload_stream(client, stream, key, bucket=bucket, overwrite=False)
    assert client.get_object(bucket, key) == data
    assert list(client.list_multipart_uploads(bucket, prefix)) == []


def test_overwrite_false_loses_a_race_cleanly_to_a_writer_that_completes_first(
        client, bucket, prefix, tmp_path):
    """The check before the parts passes; another writer creates the key while they go up;
    the create-only Complete is refused by the server and the other writer's bytes stay."""
    data = pattern_bytes(2 * PART + 1, seed=41)
    (tmp_path / "src").write_bytes(data)
    key = prefix + "race"
    winner = b"the other writer"
    manager = _manager(tmp_path, max_workers=1)

    def other_writer_during_part_1(part_number, body):
        if part_number == 1 and not client.object_exists(bucket, key):
            client.put_object(bucket, key, winner)
        return body

    manager.part_body_hook = other_writer_during_part_1
    with pytest.raises(exceptions.ObjectExistsError):
        manager.upload_file(client, tmp_path / "src", key, bucket=bucket, overwrite=False)
    assert client.get_object(bucket, key) == winner
    assert list(client.list_multipart_uploads(bucket, prefix)) == []
