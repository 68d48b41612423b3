"""What a failed, cancelled or crashed transfer leaves behind, and what its checkpoint claims.

A journal line of a download never reaches the disk before the bytes it records; a cleanup
step that fails never hides the error that stopped the transfer; a cancelled upload is aborted
even when the abort needs a retry; a Complete that finds its upload gone on the first attempt
never adopts someone else's object; no partial file outlives a record that could resume it.
Failures no server can produce on cue (a full disk, a lost answer) are injected by wrapping one
method at a fixed point.
"""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.engine import checkpoint as checkpoint_module
from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.engine.config import TransferConfig
from fsspec_unified.driver.engine.control import TransferControl
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.engine.scheduler import RequestScheduler
from fsspec_unified.driver.engine.uploads import UploadOperation
from fsspec_unified.driver.transfer_manager import TransferManager
from fsspec_unified.driver.types import MIB
from tests.helpers import pattern_bytes

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)
PART = 5 * MIB
RANGE = 256 * 1024  # downloads accept any range size: many ranges from a small object


def _manager(checkpoints, **overrides) -> TransferManager:
    values = {"part_size_bytes": PART, "retry_policy": FAST_RETRIES, "resumable": True,
              "checkpoint_dir": checkpoints, **overrides}
    return TransferManager(**values)


def _no_uploads_left(client, bucket, prefix) -> bool:
    return list(client.list_multipart_uploads(bucket, prefix)) == []


def _fail_on_call(method, number: int, error: BaseException, before=None):
    """``method`` wrapped so that its ``number``-th call raises ``error`` (after ``before()``)."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            if before is not None:
                before()
            raise error
        return method(*args, **kwargs)

    return wrapped


# -- 1. a journal line never claims bytes that may not be on disk ------------------------------


def test_a_download_journal_line_is_written_only_after_its_range_was_fsynced(
        client, bucket, prefix, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "JOURNAL_FSYNC_EVERY_PARTS", 3)
    data = pattern_bytes(10 * RANGE + 5, seed=61)
    client.put_object(bucket, prefix + "obj", data)
    events: list[tuple] = []  # ("data", offset, size) | ("data-sync",) | ("line", part)
    lock = threading.Lock()
    real_pwrite, real_write, real_fsync, real_fdatasync = (os.pwrite, os.write, os.fsync,
                                                           os.fdatasync)

    def name(fd: int) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return ""

    def pwrite(fd, chunk, offset):
        written = real_pwrite(fd, chunk, offset)
        if name(fd).endswith(".partial"):
            with lock:
                events.append(("data", offset, len(chunk)))
        return written

    def syncing(real):
        def sync(fd):
            if name(fd).endswith(".partial"):
                with lock:  # the writes recorded so far are covered by this sync
                    events.append(("data-sync",))
            return real(fd)
        return sync

    def write(fd, chunk):
        if name(fd).endswith(checkpoint_module.CHECKPOINT_SUFFIX):
            with lock:
                events.extend(("line", json.loads(line)["part"])
                              for line in bytes(chunk).decode().splitlines())
        return real_write(fd, chunk)

    monkeypatch.setattr(os, "pwrite", pwrite)
    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", syncing(real_fsync))
    monkeypatch.setattr(os, "fdatasync", syncing(real_fdatasync))
    _manager(tmp_path / "c", part_size_bytes=RANGE, max_workers=4).download_file(
        client, prefix + "obj", tmp_path / "out.bin", bucket=bucket)
    monkeypatch.undo()

    assert (tmp_path / "out.bin").read_bytes() == data
    lines = [event[1] for event in events if event[0] == "line"]
    assert sorted(lines) == list(range(1, 12))
    synced_up_to = -1  # index in events of the last data sync
    for index, event in enumerate(events):
        if event[0] == "data-sync":
            synced_up_to = index
        elif event[0] == "line":
            start, end = (event[1] - 1) * RANGE, min(event[1] * RANGE, len(data))
            writes = [at for at, other in enumerate(events) if other[0] == "data"
                      and start <= other[1] < end]
            assert writes and max(writes) < synced_up_to, (
                f"the line for range {event[1]} was written before its bytes were fsynced")


# -- 2. a failing cleanup step never replaces the transfer's error ------------------------------


def test_an_upload_whose_checkpoint_cannot_be_saved_reports_its_own_error(
        client, bucket, prefix, tmp_path, monkeypatch, caplog):
    path = tmp_path / "src.bin"
    path.write_bytes(pattern_bytes(2 * PART + 3, seed=62))

    def refuse(*args, **kwargs):
        raise PermissionError("the checkpoint directory became read-only")

    def fail_part_2(part_number, body):
        if part_number == 2:
            monkeypatch.setattr(CheckpointStore, "save", refuse)
            monkeypatch.setattr(CheckpointStore, "flush", refuse)
            raise ValueError("the source could not be read")
        return body

    manager = _manager(tmp_path / "c", max_workers=1)
    manager.part_body_hook = fail_part_2
    with pytest.raises(ValueError, match="the source could not be read"):
        manager.upload_file(client, path, prefix + "k", bucket=bucket)
    assert "could not save the checkpoint" in caplog.text
    assert "could not flush the checkpoint" in caplog.text
    monkeypatch.undo()
    for upload in client.list_multipart_uploads(bucket, prefix):  # kept for a resume
        client.abort_multipart_upload(bucket, upload.key, upload.upload_id)


def test_a_cancelled_upload_whose_checkpoint_cannot_be_deleted_still_reports_the_cancel(
        client, bucket, prefix, tmp_path, monkeypatch, caplog):
    path = tmp_path / "src.bin"
    path.write_bytes(pattern_bytes(3 * PART, seed=63))
    control = TransferControl()

    def refuse(*args, **kwargs):
        raise PermissionError("the checkpoint directory became read-only")

    def cancel_at_part_1(part_number, body):
        monkeypatch.setattr(CheckpointStore, "delete", refuse)
        control.cancel()
        return body

    manager = _manager(tmp_path / "c", max_workers=1)
    manager.part_body_hook = cancel_at_part_1
    with pytest.raises(exceptions.TransferCancelledError):
        manager.upload_file(client, path, prefix + "k", bucket=bucket, control=control)
    assert "could not delete the checkpoint" in caplog.text
    assert _no_uploads_left(client, bucket, prefix)  # the abort still happened


@pytest.mark.parametrize("failing_step", ["save", "delete"])
def test_a_download_whose_cleanup_fails_reports_its_own_error(
        client, bucket, prefix, tmp_path, monkeypatch, caplog, failing_step):
    """``save``: a failed download keeps its record, which cannot be written. ``delete``: a
    cancelled one removes its partial file and record, and the record cannot be removed."""
    data = pattern_bytes(4 * RANGE, seed=64)
    client.put_object(bucket, prefix + "obj", data)
    control = TransferControl()

    def refuse(*args, **kwargs):
        raise PermissionError("the checkpoint directory became read-only")

    def break_cleanup():
        monkeypatch.setattr(CheckpointStore, failing_step, refuse)
        if failing_step == "delete":
            control.cancel()

    original = (exceptions.AuthenticationError("the key was revoked", status=403)
                if failing_step == "save" else exceptions.ConnectionError("reset"))
    monkeypatch.setattr(client, "open_object",
                        _fail_on_call(client.open_object, 2, original, break_cleanup))
    out = tmp_path / "out"
    out.mkdir()
    expected = (exceptions.AuthenticationError if failing_step == "save"
                else exceptions.TransferCancelledError)
    with pytest.raises(expected):
        _manager(tmp_path / "c", part_size_bytes=RANGE, max_workers=1).download_file(
            client, prefix + "obj", out / "dl.bin", bucket=bucket, control=control)
    assert f"could not {failing_step} the checkpoint" in caplog.text
    if failing_step == "delete":
        assert os.listdir(out) == []  # the partial file went before the failing step


# -- 3. a cancelled upload is aborted even if the abort needs a retry ----------------------------


def test_cancel_aborts_the_upload_even_when_the_first_abort_fails(
        client, bucket, prefix, tmp_path, monkeypatch):
    path = tmp_path / "src.bin"
    path.write_bytes(pattern_bytes(3 * PART, seed=65))
    control = TransferControl()
    aborts = []
    real_abort = client.abort_multipart_upload

    def flaky_abort(*args, **kwargs):
        aborts.append(1)
        if len(aborts) == 1:
            raise exceptions.ConnectionError("connection reset by peer")
        return real_abort(*args, **kwargs)

    monkeypatch.setattr(client, "abort_multipart_upload", flaky_abort)

    def cancel_at_part_1(part_number, body):
        control.cancel()
        return body

    manager = _manager(tmp_path / "c", resumable=False, max_workers=1)
    manager.part_body_hook = cancel_at_part_1
    with pytest.raises(exceptions.TransferCancelledError):
        manager.upload_file(client, path, prefix + "k", bucket=bucket, control=control)
    assert len(aborts) == 2
    assert _no_uploads_left(client, bucket, prefix)


# -- 4. an upload gone before the first Complete never adopts another object ---------------------


def _upload_job(client, bucket, key) -> UploadOperation:
    return UploadOperation(RequestScheduler(2), TransferConfig(retry_policy=FAST_RETRIES),
                           client, bucket, key, None, TransferControl())


def _one_part_upload(client, bucket, key, body):
    upload_id = client.create_multipart_upload(bucket, key)
    return upload_id, client.upload_part(bucket, key, upload_id, 1, body)


def test_complete_of_an_upload_gone_before_the_first_attempt_fails_despite_a_same_size_object(
        client, bucket, prefix):
    key = prefix + "k"
    older, ours = pattern_bytes(PART + 1, seed=66), pattern_bytes(PART + 1, seed=67)
    client.put_object(bucket, key, older)
    upload_id, part = _one_part_upload(client, bucket, key, ours)
    client.abort_multipart_upload(bucket, key, upload_id)  # as a lifecycle rule would
    with pytest.raises(exceptions.UploadNotFoundError):
        _upload_job(client, bucket, key).complete(upload_id, [part], len(ours))
    assert client.get_object(bucket, key) == older


def test_complete_whose_first_answer_was_lost_is_taken_as_done(client, bucket, prefix,
                                                               monkeypatch):
    key = prefix + "k"
    body = pattern_bytes(PART + 1, seed=68)
    upload_id, part = _one_part_upload(client, bucket, key, body)
    real_complete = client.complete_multipart_upload
    calls = []

    def answer_lost_once(*args, **kwargs):
        calls.append(1)
        written = real_complete(*args, **kwargs)
        if len(calls) == 1:
            raise exceptions.ConnectionError("the connection dropped before the answer")
        return written

    monkeypatch.setattr(client, "complete_multipart_upload", answer_lost_once)
    assert _upload_job(client, bucket, key).complete(upload_id, [part], len(body))
    assert len(calls) == 2
    assert client.get_object(bucket, key) == body


# -- 5. no partial file outlives the record that could resume it --------------------------------


def test_a_download_whose_first_checkpoint_cannot_be_saved_leaves_no_partial_file(
        client, bucket, prefix, tmp_path, monkeypatch):
    client.put_object(bucket, prefix + "obj", pattern_bytes(2 * RANGE, seed=69))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CheckpointStore, "save", disk_full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="No space left"):
        _manager(tmp_path / "c", part_size_bytes=RANGE).download_file(
            client, prefix + "obj", out / "dl.bin", bucket=bucket)
    assert os.listdir(out) == []


def test_a_resumed_download_rewrites_a_record_with_a_torn_last_line(
        client, bucket, prefix, tmp_path, monkeypatch):
    data = pattern_bytes(6 * RANGE, seed=70)
    client.put_object(bucket, prefix + "obj", data)
    checkpoints, target = tmp_path / "c", tmp_path / "dl.bin"
    control = TransferControl()

    class CancelAfterFirstRange(ProgressCallback):
        def on_progress(self, done, total, start_time, speed):
            control.cancel(keep_resumable=True)

    with pytest.raises(exceptions.TransferCancelledError):
        _manager(checkpoints, part_size_bytes=RANGE, max_workers=1).download_file(
            client, prefix + "obj", target, CancelAfterFirstRange(), bucket=bucket,
            control=control)
    (record_path,) = checkpoints.glob("download-*" + checkpoint_module.CHECKPOINT_SUFFIX)
    with open(record_path, "a") as journal:
        journal.write('{"part": 2, "etag": "", "si')  # the machine crashed mid-append

    monkeypatch.setattr(checkpoint_module, "JOURNAL_FSYNC_EVERY_PARTS", 1)  # lines hit disk
    snapshots = []

    class Snapshot(ProgressCallback):
        def on_progress(self, done, total, start_time, speed):
            snapshots.append(record_path.read_text())

    result = _manager(checkpoints, part_size_bytes=RANGE, max_workers=1).download_file(
        client, prefix + "obj", target, Snapshot(), bucket=bucket)
    assert target.read_bytes() == data and result.parts_resumed >= 1
    assert snapshots
    for text in snapshots:  # what a crash at that moment would have left
        record = checkpoint_module._parse(text)
        assert len(record.parts_completed) > result.parts_resumed


def test_a_downloaded_file_gets_the_mode_open_would_give_it(client, bucket, prefix, tmp_path):
    """0666 less the umask, like any file a program creates (not the 0600 of a temporary
    file renamed into place)."""
    client.put_object(bucket, prefix + "obj", pattern_bytes(2 * RANGE, seed=70))
    previous = os.umask(0o022)
    try:
        for resumable in (False, True):
            target = tmp_path / f"dl-{resumable}.bin"
            _manager(tmp_path / "c", part_size_bytes=RANGE, resumable=resumable).download_file(
                client, prefix + "obj", target, bucket=bucket)
            assert stat.S_IMODE(target.stat().st_mode) == 0o644
    finally:
        os.umask(previous)
