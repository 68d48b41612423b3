"""TransferManager against the real server, once per provider: bytes, parts, leftovers."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from datetime import datetime

import fsspec.callbacks
import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.transfer_manager import TransferManager
from fsspec_unified.driver.types import MIB
from tests.helpers import pattern_bytes

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)


class Recorder(ProgressCallback):
    """Records every progress call; fails the test on a decreasing or changing total."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def on_progress(self, bytes_transferred, total_bytes, start_time, current_speed):
        assert isinstance(start_time, datetime) and current_speed >= 0
        with self.lock:
            if self.calls:
                assert bytes_transferred >= self.calls[-1][0]
                assert total_bytes == self.calls[-1][1]
            self.calls.append((bytes_transferred, total_bytes))


#: The part size the part counts below are worked out for.
PART = 5 * MIB


@pytest.fixture
def manager(tmp_path):
    with TransferManager(
        checkpoint_dir=tmp_path / "checkpoints", retry_policy=FAST_RETRIES,
        part_size_bytes=PART,
    ) as transfer_manager:
        yield transfer_manager


@pytest.fixture
def source_file(tmp_path):
    def make(size: int, seed: int = 0, name: str = "source.bin"):
        path = tmp_path / name
        data = pattern_bytes(size, seed)
        path.write_bytes(data)
        return path, data

    return make


def no_uploads_left(client, bucket, prefix) -> bool:
    return list(client.list_multipart_uploads(bucket, prefix)) == []


def test_small_file_is_one_put_and_large_file_is_multipart(
    manager, client, bucket, prefix, source_file
):
    small, small_data = source_file(1000, name="small.bin")
    result = manager.upload_file(client, small, prefix + "small", bucket=bucket)
    assert (result.parts_total, result.etag) == (1, hashlib.md5(small_data).hexdigest())

    large, large_data = source_file(17 * MIB + 3, seed=1)
    recorder = Recorder()
    result = manager.upload_file(client, large, prefix + "large", recorder, bucket=bucket)
    assert (result.parts_total, result.parts_transferred, result.parts_resumed) == (4, 4, 0)
    assert result.etag.endswith("-4") and result.size == len(large_data)
    assert client.get_object(bucket, prefix + "large") == large_data
    assert recorder.calls[-1] == (len(large_data), len(large_data))
    assert no_uploads_left(client, bucket, prefix)


def test_download_is_parallel_verified_and_atomic(manager, client, bucket, prefix, tmp_path):
    data = pattern_bytes(13 * MIB + 5, seed=2)
    client.put_file(bucket, prefix + "obj", _write(tmp_path / "up.bin", data))
    target = tmp_path / "out" / "down.bin"
    target.parent.mkdir()
    recorder = Recorder()
    result = manager.download_file(client, prefix + "obj", target, recorder, bucket=bucket)
    assert target.read_bytes() == data
    assert result.parts_total == 3 and recorder.calls[-1] == (len(data), len(data))
    assert os.listdir(target.parent) == ["down.bin"]

    with pytest.raises(exceptions.ObjectNotFoundError):
        manager.download_file(client, prefix + "missing", tmp_path / "out" / "x", bucket=bucket)
    with pytest.raises(FileNotFoundError):
        manager.download_file(client, prefix + "obj", tmp_path / "nowhere" / "x", bucket=bucket)
    assert os.listdir(target.parent) == ["down.bin"]


def test_fsspec_callback_totals_are_exact(manager, client, bucket, prefix, source_file, tmp_path):
    class Counting(fsspec.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.sizes, self.moved = [], 0

        def set_size(self, size):
            self.sizes.append(size)
            super().set_size(size)

        def relative_update(self, inc=1):
            self.moved += inc
            super().relative_update(inc)

    path, data = source_file(11 * MIB, seed=3)
    upload_callback = Counting()
    manager.upload_file(client, path, prefix + "cb", upload_callback, bucket=bucket)
    assert upload_callback.sizes == [len(data)] and upload_callback.moved == len(data)
    download_callback = Counting()
    manager.download_file(client, prefix + "cb", tmp_path / "cb.bin", download_callback,
                          bucket=bucket)
    assert download_callback.sizes == [len(data)] and download_callback.moved == len(data)


def test_stream_upload_of_unknown_length(manager, client, bucket, prefix):
    data = pattern_bytes(16 * MIB + 7, seed=4)

    class Pipe:
        def __init__(self):
            self.offset = 0

        def read(self, size=-1):
            size = min(size, 1_000_000)  # short reads, like a socket
            chunk = data[self.offset:self.offset + size]
            self.offset += len(chunk)
            return chunk

    result = manager.upload_stream(client, Pipe(), prefix + "piped", bucket=bucket)
    assert result.parts_total == 4 and client.get_object(bucket, prefix + "piped") == data
    assert no_uploads_left(client, bucket, prefix)


def test_memory_stays_bounded_by_workers_and_part_size(client, bucket, prefix, tmp_path):
    part_size, workers = 5 * MIB, 3
    path = _write(tmp_path / "big.bin", pattern_bytes(60 * MIB, seed=5))
    manager = TransferManager(part_size_bytes=part_size, max_workers=workers)
    tracemalloc.start()
    try:
        manager.upload_file(client, path, prefix + "big", bucket=bucket)
        _, peak_upload = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        manager.download_file(client, prefix + "big", tmp_path / "big.out", bucket=bucket)
        _, peak_download = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = (workers + 1) * part_size + 16 * MIB
    assert peak_upload < bound, f"upload peak {peak_upload / MIB:.1f} MiB"
    assert peak_download < bound, f"download peak {peak_download / MIB:.1f} MiB"


def test_corrupted_part_is_rejected_by_the_server_and_retried(
    manager, client, bucket, prefix, source_file
):
    path, data = source_file(12 * MIB, seed=6)
    attempts = []

    def corrupt_first_attempt_of_part_2(part_number, body):
        if part_number != 2:
            return body
        attempts.append(part_number)
        if len(attempts) > 1:
            return body
        flipped = bytearray(body)
        flipped[100] ^= 0xFF
        return bytes(flipped)

    manager.part_body_hook = corrupt_first_attempt_of_part_2
    manager.upload_file(client, path, prefix + "healed", bucket=bucket)
    assert attempts == [2, 2]
    assert client.get_object(bucket, prefix + "healed") == data


def test_persistently_corrupted_part_fails_loudly_and_leaves_nothing(
    manager, client, bucket, prefix, source_file
):
    path, _ = source_file(12 * MIB, seed=7)
    manager.part_body_hook = lambda number, body: body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(exceptions.UploadError, match="attempts"):
        manager.upload_file(client, path, prefix + "never", bucket=bucket)
    assert not client.object_exists(bucket, prefix + "never")
    assert no_uploads_left(client, bucket, prefix)


def _client_threads() -> int:
    """Threads of this process but those serving the in-process OSS gateway's connections."""
    return sum("process_request_thread" not in thread.name for thread in threading.enumerate())


def test_threads_and_file_handles_are_released(client, bucket, prefix, source_file, tmp_path):
    path, _ = source_file(16 * MIB, seed=18)
    manager = TransferManager(part_size_bytes=PART, max_workers=4)
    manager.upload_file(client, path, prefix + "warm-up", bucket=bucket)  # pools warmed up
    threads_before = _client_threads()
    fds_before = len(os.listdir("/proc/self/fd"))
    for round_number in range(3):
        manager.upload_file(client, path, prefix + f"r{round_number}", bucket=bucket)
        manager.download_file(client, prefix + f"r{round_number}", tmp_path / "r.bin",
                              bucket=bucket)
        handle = manager.submit_upload(client, path, prefix + "c", bucket=bucket)
        handle.cancel()
        with pytest.raises(exceptions.TransferCancelledError):
            handle.result(timeout=60)
    manager.shutdown()
    assert _client_threads() <= threads_before
    # Pooled keep-alive connections (and the in-process gateway's sockets) may vary a little.
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 8


def test_cancel_aborts_and_leaves_no_upload(client, bucket, prefix, source_file, tmp_path):
    path, _ = source_file(20 * MIB, seed=8)
    manager = TransferManager(part_size_bytes=PART, rate_limit_bytes_per_s=8 * MIB,
                              checkpoint_dir=tmp_path / "c")
    recorder = Recorder()
    handle = manager.submit_upload(client, path, prefix + "cancelled", recorder, bucket=bucket)
    _wait_for(lambda: recorder.calls and recorder.calls[-1][0] > 0)
    handle.cancel()
    with pytest.raises(exceptions.TransferCancelledError):
        handle.result(timeout=60)
    assert no_uploads_left(client, bucket, prefix)
    assert not client.object_exists(bucket, prefix + "cancelled")
    manager.shutdown()


def test_cancel_keeping_resumable_then_resume_sends_only_missing_parts(
    client, bucket, prefix, source_file, tmp_path
):
    path, data = source_file(26 * MIB, seed=9)
    checkpoints = tmp_path / "c"
    slow = TransferManager(part_size_bytes=PART, rate_limit_bytes_per_s=10 * MIB,
                           checkpoint_dir=checkpoints,
                           resumable=True, max_workers=2)
    recorder = Recorder()
    handle = slow.submit_upload(client, path, prefix + "resumed", recorder, bucket=bucket)
    _wait_for(lambda: recorder.calls and recorder.calls[-1][0] >= 2 * 5 * MIB)
    handle.cancel(keep_resumable=True)
    with pytest.raises(exceptions.TransferCancelledError):
        handle.result(timeout=60)
    (upload,) = client.list_multipart_uploads(bucket, prefix)
    on_server = len(list(client.list_parts(bucket, prefix + "resumed", upload.upload_id)))
    assert on_server >= 2 and len(os.listdir(checkpoints)) == 1

    fast = TransferManager(part_size_bytes=PART, checkpoint_dir=checkpoints, resumable=True)
    result = fast.upload_file(client, path, prefix + "resumed", bucket=bucket)
    assert (result.parts_resumed, result.parts_transferred) == (on_server, 6 - on_server)
    assert client.get_object(bucket, prefix + "resumed") == data
    assert no_uploads_left(client, bucket, prefix) and os.listdir(checkpoints) == []
    slow.shutdown()


def test_changed_file_restarts_cleanly_and_aborts_the_stale_upload(
    client, bucket, prefix, source_file, tmp_path, caplog
):
    path, _ = source_file(16 * MIB, seed=10)
    checkpoints = tmp_path / "c"
    slow = TransferManager(part_size_bytes=PART, rate_limit_bytes_per_s=10 * MIB,
                           checkpoint_dir=checkpoints,
                           resumable=True, max_workers=1)
    recorder = Recorder()
    handle = slow.submit_upload(client, path, prefix + "stale", recorder, bucket=bucket)
    _wait_for(lambda: recorder.calls and recorder.calls[-1][0] >= 5 * MIB)
    handle.cancel(keep_resumable=True)
    with pytest.raises(exceptions.TransferCancelledError):
        handle.result(timeout=60)
    slow.shutdown()

    new_data = pattern_bytes(16 * MIB, seed=11)
    path.write_bytes(new_data)  # same size, new mtime and content
    manager = TransferManager(part_size_bytes=PART, checkpoint_dir=checkpoints, resumable=True)
    result = manager.upload_file(client, path, prefix + "stale", bucket=bucket)
    assert result.parts_resumed == 0 and "no longer matches" in caplog.text
    assert client.get_object(bucket, prefix + "stale") == new_data
    assert no_uploads_left(client, bucket, prefix)  # the stale upload was aborted



def test_corrupt_checkpoint_is_discarded_with_a_warning(
    client, bucket, prefix, source_file, tmp_path, caplog
):
    path, data = source_file(11 * MIB, seed=16)
    store = CheckpointStore(tmp_path / "c")
    checkpoint = store.path_for(
        kind="upload", provider=client.provider, endpoint=client.config.endpoint,
        bucket=bucket, key=prefix + "corrupt-ckpt", local_path=str(path),
    )
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text('{"total_size": 11, "truncat')
    manager = TransferManager(part_size_bytes=PART, checkpoint_dir=store.directory, resumable=True)
    result = manager.upload_file(client, path, prefix + "corrupt-ckpt", bucket=bucket)
    assert result.parts_resumed == 0 and "unreadable checkpoint" in caplog.text
    assert client.get_object(bucket, prefix + "corrupt-ckpt") == data
    assert not checkpoint.exists()


def test_download_cancel_keeps_partial_file_for_resume(client, bucket, prefix, tmp_path):
    data = pattern_bytes(21 * MIB, seed=12)
    client.put_file(bucket, prefix + "dl", _write(tmp_path / "up.bin", data))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    checkpoints = tmp_path / "c"
    slow = TransferManager(part_size_bytes=PART, rate_limit_bytes_per_s=8 * MIB,
                           checkpoint_dir=checkpoints,
                           resumable=True, max_workers=1)
    recorder = Recorder()
    handle = slow.submit_download(client, prefix + "dl", out_dir / "dl.bin", recorder,
                                  bucket=bucket)
    _wait_for(lambda: recorder.calls and recorder.calls[-1][0] >= 2 * 5 * MIB)
    handle.cancel(keep_resumable=True)
    with pytest.raises(exceptions.TransferCancelledError):
        handle.result(timeout=60)
    slow.shutdown()
    (partial,) = os.listdir(out_dir)
    assert partial.endswith(".partial")  # nothing under the final name yet

    resumer = TransferManager(part_size_bytes=PART, checkpoint_dir=checkpoints, resumable=True)
    result = resumer.download_file(
        client, prefix + "dl", out_dir / "dl.bin", bucket=bucket
    )
    assert result.parts_resumed >= 2
    assert (out_dir / "dl.bin").read_bytes() == data and os.listdir(out_dir) == ["dl.bin"]


def test_pause_stops_new_parts_until_resumed(client, bucket, prefix, source_file):
    path, data = source_file(21 * MIB, seed=13)
    manager = TransferManager(part_size_bytes=PART, max_workers=1, rate_limit_bytes_per_s=20 * MIB)
    recorder = Recorder()
    handle = manager.submit_upload(client, path, prefix + "paused", recorder, bucket=bucket)
    _wait_for(lambda: recorder.calls)
    handle.pause()
    time.sleep(1.0)  # let the part in flight finish
    frozen = recorder.calls[-1][0]
    time.sleep(1.0)
    assert recorder.calls[-1][0] == frozen < len(data)
    handle.resume()
    assert handle.result(timeout=60).size == len(data)
    assert client.get_object(bucket, prefix + "paused") == data
    manager.shutdown()


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_rate_limit_is_within_ten_percent(client, bucket, prefix, source_file, tmp_path,
                                          direction):
    limit = 2 * MIB
    path, data = source_file(20 * MIB, seed=14)
    manager = TransferManager(part_size_bytes=PART, rate_limit_bytes_per_s=limit)
    if direction == "download":
        client.put_file(bucket, prefix + "limited", path)
    started = time.monotonic()
    if direction == "upload":
        manager.upload_file(client, path, prefix + "limited", bucket=bucket)
    else:
        manager.download_file(client, prefix + "limited", tmp_path / "limited", bucket=bucket)
    rate = len(data) / (time.monotonic() - started)
    assert 0.9 * limit <= rate <= 1.1 * limit, f"{rate / MIB:.2f} MiB/s against 2 MiB/s"


def test_bucket_comes_from_the_config_when_not_given(manager, client, bucket, prefix,
                                                     source_file):
    from dataclasses import replace

    from fsspec_unified import create_client

    path, data = source_file(100, seed=15)
    with create_client(replace(client.config, bucket_name=bucket)) as scoped:
        manager.upload_file(scoped, path, prefix + "default-bucket")
    assert client.get_object(bucket, prefix + "default-bucket") == data
    with pytest.raises(exceptions.ConfigurationError, match="bucket"):
        manager.upload_file(client, path, prefix + "x")


def _write(path, data):
    path.write_bytes(data)
    return path


def _wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
